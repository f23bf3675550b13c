// Package testkit is what the service's tests share: known credentials, a
// locked log buffer, a settable clock, and HTTP and GraphQL helpers. It
// imports only internal/signature, so that any package's tests can use it;
// teststack, beside it, starts the whole service. Only tests import it.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// Creds are known secret values: tests fail if any of them shows up in a
// response or a log line.
func Creds() signature.Credentials {
	return signature.Credentials{
		AppID:     "app-under-test",
		AppKey:    signature.NewSecret("KEY-d41d8cd98f00b204"),
		AppSecret: signature.NewSecret("SECRET-e9800998ecf8427e"),
	}
}

// AssertNoSecrets fails t if text holds the secret values of Creds.
func AssertNoSecrets(t testing.TB, where, text string) {
	t.Helper()
	c := Creds()
	for _, secret := range []string{c.AppKey.Reveal(), c.AppSecret.Reveal()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s contain a secret: %s", where, text)
		}
	}
}

// LogBuffer collects output written from many goroutines (a service's log).
type LogBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

// Write appends p, whole, as one write.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Cap is the buffer's capacity: what the kept log holds on the heap.
func (b *LogBuffer) Cap() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Cap()
}

// Writes counts the Write calls so far.
func (b *LogBuffer) Writes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

// Clock is a settable time source.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Get sends a GET with headers and returns the response and its body.
func Get(t testing.TB, url string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	return Do(t, http.MethodGet, url, "", nil, headers)
}

// PostJSON POSTs body as application/json with headers and returns the
// response and its body: for a body a test spells itself, malformed or with
// extensions; PostQuery builds and decodes a plain GraphQL request.
func PostJSON(t testing.TB, url, body string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	return Do(t, http.MethodPost, url, "application/json", strings.NewReader(body), headers)
}

// Do sends a request (contentType set when not "") and returns the response
// and its whole body, closed.
func Do(t testing.TB, method, url, contentType string, body io.Reader, headers map[string]string) (*http.Response, string) {
	t.Helper()
	header := http.Header{}
	for k, v := range headers {
		header.Set(k, v)
	}
	return DoHeader(t, method, url, contentType, body, header)
}

// DoHeader is Do with the headers as an http.Header, for a header sent more
// than once or a test table that lists them so. Each key is sent as spelled
// (an upstream's appId stays appId); a Content-Type among them wins over
// contentType.
func DoHeader(t testing.TB, method, url, contentType string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	// 30s: far above any answer of a test's service, so that only a hung
	// server trips it, and a hung test fails instead of waiting for go test's
	// ten-minute timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return Send(t, http.DefaultClient, req)
}

// Send sends req with client and returns the response and its whole body,
// closed: for a test that needs a client of its own (one that dials from
// another address, or that shows compression instead of undoing it). The
// request's context bounds it.
func Send(t testing.TB, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// QueryBody is the JSON body of a GraphQL request: query, and vars (null
// when nil). It panics when vars do not marshal, which only a test's own
// mistake (a func or a channel among them) can cause.
func QueryBody(query string, vars map[string]any) string {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(fmt.Sprintf("testkit.QueryBody: %v", err))
	}
	return string(b)
}

// JSONString quotes s as a JSON string, which is also a JavaScript string
// literal (a page's script, a request body spelled by hand).
func JSONString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// Response is a GraphQL response with data left raw for the caller to decode.
type Response struct {
	Status     int
	Body       []byte
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// AssertRefusal fails t unless resp and its body are a refusal as the
// service's middleware writes one (apierror.Write): Content-Type
// application/json and exactly one GraphQL error, with a message and
// extensions.code code.
func AssertRefusal(t testing.TB, resp *http.Response, body, code string) {
	t.Helper()
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var got Response
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if len(got.Errors) != 1 || got.Errors[0].Message == "" || got.Errors[0].Extensions["code"] != code {
		t.Errorf("body = %s, want one error with a message and code %s", body, code)
	}
}

// PostQuery POSTs a GraphQL request to url and decodes the answer; every body
// is checked for secrets.
func PostQuery(t testing.TB, url, query string, vars map[string]any) Response {
	t.Helper()
	resp, raw := PostJSON(t, url, QueryBody(query, vars), nil)
	out := Response{Status: resp.StatusCode, Body: []byte(raw)}
	if err := json.Unmarshal(out.Body, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	AssertNoSecrets(t, "response", raw)
	return out
}

// Decode unmarshals the response's data into v, failing on GraphQL errors.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Body)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, r.Body)
	}
}

// stageFields selects every upstream field of a stage except children.
const stageFields = `id name rank possibility requirement remind remindAfterDays
	customerFields { fieldId name type }
	requiredOppTypeFields { name required rank type maxUnicode id options { id name } scale }`

// EveryUpstreamField asks for every field the vendor documents, stages four
// levels deep, with the upstream's own names, so the answer can be compared
// with the upstream's JSON key for key. It is also the heaviest legitimate
// query the limits must let through.
const EveryUpstreamField = `fragment S on Stage { ` + stageFields + ` }
query {
  opportunityTypes {
    typeName typeId defaultType allowSkip allowGoBack allowInvalidGoBack allowDeleteOpportunity deleteOpportunityDate
    fields { id name required type options { id name } scale maxUnicode minUnicode pattern rank }
    stages { ...S children { ...S children { ...S children { ...S } } } }
  }
}`

// FirstEvent posts body (a GraphQL request) to url over GraphQL over SSE (a
// POST with Accept: text/event-stream) and returns the data of the stream's
// first event, which must come within five seconds and carry no errors; the
// stream is then closed.
func FirstEvent(t testing.TB, url, body string) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d %s, want an event stream: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: complete":
			t.Fatal("the stream completed before its first event")
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case event == "next" && strings.HasPrefix(line, "data: "):
			var msg struct {
				Data   json.RawMessage
				Errors []any
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &msg); err != nil || len(msg.Errors) > 0 || len(msg.Data) == 0 {
				t.Fatalf("first event %s: %v", line, err)
			}
			return msg.Data
		}
	}
	t.Fatalf("no event within 5s: %v", sc.Err())
	return nil
}
