// Package testkit is what the service's tests share: known credentials, a
// locked log buffer, a settable clock, HTTP and GraphQL helpers, and Stack,
// the whole service built by server.New in front of the simulator over real
// sockets. Only tests import it.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
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

// Do sends a request (contentType set when not "") and returns the response
// and its whole body, closed.
func Do(t testing.TB, method, url, contentType string, body io.Reader, headers map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
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

// PostQuery POSTs a GraphQL request to url and decodes the answer; every body
// is checked for secrets.
func PostQuery(t testing.TB, url, query string, vars map[string]any) Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	resp, raw := Do(t, http.MethodPost, url, "application/json", bytes.NewReader(body), nil)
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
