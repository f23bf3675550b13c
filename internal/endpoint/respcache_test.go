package endpoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

func benchmarkQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/queries/*.graphql")
	if err != nil || len(files) != 4 {
		t.Fatalf("benchmark queries: %v %v", files, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".graphql")] = string(b)
	}
	return out
}

func rawPost(t *testing.T, url, query string) []byte {
	t.Helper()
	resp, b := testkit.PostJSON(t, url+"/query", testkit.QueryBody(query, nil), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return []byte(b)
}

// TestResponseCacheIsByteIdentical: every benchmark query answers the same
// bytes from the response cache as from execution, and repeats do not execute.
func TestResponseCacheIsByteIdentical(t *testing.T) {
	cached := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	cache := cached.Service.Responses
	plain := teststack.New(t, teststack.Options{})
	for name, q := range benchmarkQueries(t) {
		t.Run(name, func(t *testing.T) {
			want := rawPost(t, plain.Server.URL, q)
			if bytes.Contains(want, []byte(`"errors"`)) {
				t.Fatalf("benchmark query fails: %s", want)
			}
			first := rawPost(t, cached.Server.URL, q)
			_, _, hitsBefore, _ := cache.Stats()
			second := rawPost(t, cached.Server.URL, q)
			_, _, hitsAfter, _ := cache.Stats()
			if !bytes.Equal(first, want) || !bytes.Equal(second, want) {
				t.Errorf("cached answer differs:\nexecuted %s\ncached   %s", want, second)
			}
			if hitsAfter != hitsBefore+1 {
				t.Errorf("the repeat was not served from the cache (hits %d → %d)", hitsBefore, hitsAfter)
			}
		})
	}
}

func TestResponseCacheBypassAndInvalidation(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}, Dataset: []byte(`[{"typeName":"旧","typeId":1}]`)})
	cache := s.Service.Responses
	const q = `{ opportunityType(typeId: 1) { typeName } }`
	rawPost(t, s.Server.URL, q)
	// One answer, kept under its normalised key and its request's bytes.
	if n, _, _, _ := cache.Stats(); n != 2 {
		t.Fatalf("entries = %d, want 2", n)
	}
	// Errors and introspection are not kept.
	rawPost(t, s.Server.URL, `{ opportunityType(typeId: 1) { nope } }`)
	rawPost(t, s.Server.URL, `{ __schema { queryType { name } } }`)
	rawPost(t, s.Server.URL, `{ __type(name: "Stage") { name } }`)
	if n, _, _, _ := cache.Stats(); n != 2 {
		t.Errorf("entries = %d after errors and introspection, want 2", n)
	}
	// A new configuration version is never answered from the old one's entries.
	s.Sim.SetDataset([]byte(`[{"typeName":"新","typeId":1}]`))
	s.Expire(t, 31*time.Second)
	if b := rawPost(t, s.Server.URL, q); !bytes.Contains(b, []byte("新")) {
		t.Errorf("after a config change: %s", b)
	}
	// Variables are part of the key.
	const vq = `query($id: Int!) { opportunityType(typeId: $id) { typeName } }`
	for _, id := range []string{"1", "2"} {
		_, b := testkit.PostJSON(t, s.Server.URL+"/query", `{"query":"`+vq+`","variables":{"id":`+id+`}}`, nil)
		if got := strings.Contains(b, "新"); got != (id == "1") {
			t.Errorf("id %s answered %s", id, b)
		}
	}
}

// exchange is one request and what came back, for comparing answers.
type exchange struct {
	status int
	header http.Header
	body   string
}

func serveRecorded(t *testing.T, h http.Handler, req *http.Request) exchange {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return exchange{rec.Code, rec.Header(), rec.Body.String()}
}

// answerHeaders are the headers a stored answer must repeat exactly.
var answerHeaders = []string{"Content-Type", "Content-Length", "Cache-Control", "Etag", "Vary"}

// TestStoredAnswersRepeatExecution: for every benchmark query, by POST and
// GET, in both response media types, the answer served from stored bytes
// (before any GraphQL work) has the status, headers and body that execution
// gave, and is counted as a cache hit.
func TestStoredAnswersRepeatExecution(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	cache := s.Service.Responses
	h := s.Server.Config.Handler
	for name, q := range benchmarkQueries(t) {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			for _, accept := range []string{"", "application/graphql-response+json"} {
				t.Run(fmt.Sprintf("%s/%s/accept=%q", name, method, accept), func(t *testing.T) {
					req := func() *http.Request {
						var r *http.Request
						if method == http.MethodGet {
							r = httptest.NewRequest(method, "/query?"+url.Values{"query": {q}}.Encode(), nil)
						} else {
							r = httptest.NewRequest(method, "/query", strings.NewReader(testkit.QueryBody(q, nil)))
							r.Header.Set("Content-Type", "application/json")
						}
						if accept != "" {
							r.Header.Set("Accept", accept)
						}
						return r
					}
					executed := serveRecorded(t, h, req())
					_, _, hits, _ := cache.Stats()
					stored := serveRecorded(t, h, req())
					_, _, hitsAfter, _ := cache.Stats()
					if executed.status != 200 || strings.Contains(executed.body, `"errors"`) {
						t.Fatalf("executed: %d %.200s", executed.status, executed.body)
					}
					if hitsAfter != hits+1 {
						t.Errorf("the repeat was not a cache hit (hits %d → %d)", hits, hitsAfter)
					}
					if stored.status != executed.status || stored.body != executed.body {
						t.Errorf("stored answer differs: %d %.200s", stored.status, stored.body)
					}
					for _, k := range answerHeaders {
						if got, want := stored.header.Values(k), executed.header.Values(k); !slices.Equal(got, want) {
							t.Errorf("%s: stored %q, executed %q", k, got, want)
						}
					}
					if n, _ := strconv.Atoi(stored.header.Get("Content-Length")); n != len(stored.body) {
						t.Errorf("Content-Length %q for %d bytes", stored.header.Get("Content-Length"), len(stored.body))
					}
				})
			}
		}
	}
}

// TestStoredAnswersShareSpellings: two spellings of one operation share the
// answer through its normalised key; each is then found by its own bytes.
func TestStoredAnswersShareSpellings(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	cache := s.Service.Responses
	rawPost(t, s.Server.URL, `{ opportunityTypes { typeName } }`) // a first request, to fetch the configuration
	first := rawPost(t, s.Server.URL, `{ opportunityTypes { typeId } }`)
	entries, _, hits, _ := cache.Stats()
	other := rawPost(t, s.Server.URL, "# the same operation, spelt otherwise\n{opportunityTypes{typeId,},}")
	entriesAfter, _, hitsAfter, _ := cache.Stats()
	if !bytes.Equal(first, other) || hitsAfter != hits+1 {
		t.Errorf("second spelling: hits %d → %d, %s", hits, hitsAfter, other)
	}
	// The raw lookup missed, the normalised one hit, and the new spelling's
	// bytes were remembered: one entry more.
	if entriesAfter != entries+1 {
		t.Errorf("entries %d → %d, want one more (the new spelling's raw key)", entries, entriesAfter)
	}
	// A different document does not share the key.
	if b := rawPost(t, s.Server.URL, `{ opportunityTypes { typeName } }`); bytes.Equal(b, first) {
		t.Errorf("another document got the same answer: %s", b)
	}
}

// TestStoredAnswersHandOnWhatTheyCannotServe: with the answer stored, requests
// it does not fit still get the transport's own answers, and a body the front
// read reaches the transport whole.
func TestStoredAnswersHandOnWhatTheyCannotServe(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	h := s.Server.Config.Handler
	const q = `{ opportunityTypes { typeId } }`
	rawPost(t, s.Server.URL, q)
	rawPost(t, s.Server.URL, q) // stored under its raw bytes too

	post := func(body io.Reader, contentType string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/query", body)
		r.Header.Set("Content-Type", contentType)
		return r
	}
	tooLarge := testkit.QueryBody(q, nil)[:1] + strings.Repeat(" ", int(teststack.Config(t, nil).MaxRequestBytes)) + testkit.QueryBody(q, nil)[1:]
	getMutation := httptest.NewRequest(http.MethodGet, "/query?"+url.Values{"query": {"mutation { x }"}}.Encode(), nil)
	getMutation.Header.Set("If-None-Match", "*")
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantCode   string
	}{
		{"wrong content type", post(strings.NewReader(testkit.QueryBody(q, nil)), "text/plain"), http.StatusUnsupportedMediaType, string(apierror.UnsupportedMediaType)},
		{"body over the limit", post(strings.NewReader(tooLarge), "application/json"), http.StatusRequestEntityTooLarge, string(apierror.BodyTooLarge)},
		{"body that fails mid-read", post(io.MultiReader(strings.NewReader(`{"query":`), iotest.ErrReader(errors.New("connection reset"))), "application/json"), http.StatusBadRequest, string(apierror.BadRequest)},
		{"GET mutation with If-None-Match", getMutation, http.StatusMethodNotAllowed, string(apierror.MethodNotAllowed)},
		{"charset parameter, same bytes", post(strings.NewReader(testkit.QueryBody(q, nil)), "application/json; charset=UTF-8"), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serveRecorded(t, h, tt.req)
			if got.status != tt.wantStatus || (tt.wantCode != "" && !strings.Contains(got.body, `"code":"`+tt.wantCode+`"`)) {
				t.Errorf("got %d %.300s; want %d %s", got.status, got.body, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == http.StatusOK && !strings.Contains(got.body, `"typeId"`) {
				t.Errorf("body %.300s", got.body)
			}
		})
	}
}

// TestStoredAnswersNotWhileStale: a stale configuration is never answered
// from stored bytes; execution marks it stale.
func TestStoredAnswersNotWhileStale(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	const q = `{ opportunityTypes { typeId } }`
	rawPost(t, s.Server.URL, q)
	rawPost(t, s.Server.URL, q)
	s.Sim.SetFault(simulator.FaultServerError)
	s.Expire(t, 31*time.Second)
	if b := rawPost(t, s.Server.URL, q); !bytes.Contains(b, []byte(`"stale":true`)) {
		t.Errorf("stale configuration answered without its mark: %s", b)
	}
}

// TestAStaleCopyAnswersFromStorage: while the upstream fails past the TTL,
// the stored answers of the copy held are served from storage with the
// stale marker an execution adds (byte for byte), and a question first
// asked while stale is executed once, stored, and then served from storage
// too: an outage costs no executions, so no client's execution budget
// (EXECUTION_RATE) is spent on it.
func TestAStaleCopyAnswersFromStorage(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	const stored, later = `{ opportunityTypes { typeId typeName } }`, `{ opportunityTypes { typeId stages { id } } }`
	fresh := s.Query(t, stored, nil)
	s.Sim.SetFault(simulator.FaultServerError)
	s.Expire(t, 31*time.Second) // the refresh fails: the copy is stale
	if res, ok := s.Service.Config.Peek(); !ok || !res.Stale {
		t.Fatalf("the copy is not stale: %+v", res)
	}

	_, _, hits0, _ := s.Service.Responses.Stats()
	r := s.Query(t, stored, nil)
	_, _, hits1, _ := s.Service.Responses.Stats()
	res, _ := s.Service.Config.Peek()
	want := strings.TrimSuffix(string(fresh.Body), "}") + `,"extensions":{"opportunityConfig":{"ageSeconds":31,"stale":true,"version":"` + res.Value.Version() + `"}}}`
	if hits1 != hits0+1 || string(r.Body) != want {
		t.Fatalf("hits %d → %d\n got %s\nwant %s", hits0, hits1, r.Body, want)
	}
	resp, _ := testkit.Get(t, s.Server.URL+"/query?query="+url.QueryEscape(stored), nil)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" || resp.Header.Get("ETag") != "" {
		t.Errorf("Cache-Control %q, ETag %q for a stale GET", cc, resp.Header.Get("ETag"))
	}

	first := s.Query(t, later, nil) // executed on the stale copy
	if !strings.Contains(string(first.Body), `"stale":true`) || len(first.Errors) > 0 {
		t.Fatalf("%s", first.Body)
	}
	_, _, hits2, _ := s.Service.Responses.Stats()
	again := s.Query(t, later, nil)
	_, _, hits3, _ := s.Service.Responses.Stats()
	if hits3 != hits2+1 || string(again.Body) != string(first.Body) {
		t.Fatalf("hits %d → %d: the stale execution was not stored, or its replay differs:\n%s\n%s", hits2, hits3, first.Body, again.Body)
	}
}
