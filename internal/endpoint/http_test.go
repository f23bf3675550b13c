package endpoint_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

func TestGETCachingWithETags(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(`[{"typeName":"旧","typeId":1,"defaultType":true}]`)})
	q := url.Values{"query": {"{ defaultOpportunityType { typeName } }"}}

	resp, body := testkit.Get(t, s.Server.URL+"/query?"+q.Encode(), nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.Contains(body, "旧") {
		t.Fatalf("first GET: %d etag %q %s", resp.StatusCode, etag, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=30" {
		t.Errorf("Cache-Control %q, want public, max-age=30", cc)
	}

	s.Clock.Advance(10 * time.Second)
	calls := s.Sim.Calls()
	resp, body = testkit.Get(t, s.Server.URL+"/query?"+q.Encode(), map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || body != "" || resp.Header.Get("ETag") != etag {
		t.Fatalf("revalidation: %d %q etag %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=20" {
		t.Errorf("304 Cache-Control %q, want the remaining 20s", cc)
	}
	if s.Sim.Calls() != calls {
		t.Error("a 304 reached the upstream")
	}

	// The same URL asking for the GraphQL response media type is another representation.
	resp, _ = testkit.Get(t, s.Server.URL+"/query?"+q.Encode(), map[string]string{"If-None-Match": etag, "Accept": "application/graphql-response+json"})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("other media type: %d etag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}

	// A new configuration gets a new ETag once the old one expires.
	s.Sim.SetDataset([]byte(`[{"typeName":"新","typeId":1,"defaultType":true}]`))
	s.Expire(t, 31*time.Second)
	resp, body = testkit.Get(t, s.Server.URL+"/query?"+q.Encode(), map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || !strings.Contains(body, "新") {
		t.Fatalf("after a config change: %d etag %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}

	// Stale answers, errors and POSTs are not cacheable.
	s.Sim.SetFault(simulator.FaultServerError)
	s.Expire(t, 31*time.Second)
	resp, body = testkit.Get(t, s.Server.URL+"/query?"+q.Encode(), nil)
	if !strings.Contains(body, `"stale":true`) || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("ETag") != "" {
		t.Errorf("stale answer: Cache-Control %q ETag %q %s", resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"), body)
	}
	resp, _ = testkit.Get(t, s.Server.URL+"/query?"+url.Values{"query": {"{ nope }"}}.Encode(), nil)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error answer: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	r, _ := testkit.PostJSON(t, s.Server.URL+"/query", `{"query":"{ defaultOpportunityType { typeName } }"}`, nil)
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("ETag") != "" {
		t.Errorf("POST: Cache-Control %q ETag %q", r.Header.Get("Cache-Control"), r.Header.Get("ETag"))
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	const doc = `query Types { opportunityTypes { typeId } }`
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + persisted.Hash(doc) + `"}}`

	// A browser first tries the hash alone, by GET, so a CDN can cache it.
	_, body := testkit.Get(t, s.Server.URL+"/query?"+url.Values{"extensions": {ext}}.Encode(), nil)
	if !strings.Contains(body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("unknown hash: %s", body)
	}
	// Then registers it with the document.
	testkit.PostJSON(t, s.Server.URL+"/query", `{"query":`+testkit.JSONString(doc)+`,"extensions":`+ext+`}`, nil)
	_, body = testkit.Get(t, s.Server.URL+"/query?"+url.Values{"extensions": {ext}}.Encode(), nil)
	if !strings.Contains(body, `"typeId":1001`) {
		t.Fatalf("hash after registration: %s", body)
	}
	// A document that does not match its hash is refused.
	bad := `{"query":"{ __typename }","extensions":` + ext + `}`
	_, b := testkit.PostJSON(t, s.Server.URL+"/query", bad, nil)
	if strings.Contains(b, `"data":{"__typename"`) {
		t.Errorf("mismatched hash accepted: %s", b)
	}
}

func TestTrustedDocuments(t *testing.T) {
	const listed = `query Types { opportunityTypes { typeId } }`
	s := teststack.New(t, teststack.Options{Trusted: map[string]string{persisted.Hash(listed): listed}})
	hash := persisted.Hash(listed)
	tests := []struct {
		name     string
		body     string
		wantData bool
		wantCode string
	}{
		{"listed document in full", `{"query":` + testkit.JSONString(listed) + `}`, true, ""},
		{"listed by documentId", `{"documentId":"sha256:` + hash + `"}`, true, ""},
		{"listed by APQ hash", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`, true, ""},
		{"unlisted document", `{"query":"{ opportunityTypes { typeName } }"}`, false, string(apierror.PersistedQueryNotAllowed)},
		{"unknown hash", `{"documentId":"sha256:` + strings.Repeat("0", 64) + `"}`, false, string(apierror.PersistedQueryNotFound)},
		{"APQ registration refused", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + persisted.Hash("{ __typename }") + `"}}}`, false, string(apierror.PersistedQueryNotFound)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, b := testkit.PostJSON(t, s.Server.URL+"/query", tt.body, nil)
			if got := strings.Contains(b, `"typeId":1001`); got != tt.wantData {
				t.Errorf("data served = %v, want %v: %s", got, tt.wantData, b)
			}
			if tt.wantCode != "" && !strings.Contains(b, `"code":"`+tt.wantCode+`"`) {
				t.Errorf("want code %s: %s", tt.wantCode, b)
			}
		})
	}
}

// TestTrustedDocumentsAreAnsweredByTheirText: with a response cache, an
// answer stored for a listed document is not served to another spelling of
// it, which is not listed.
func TestTrustedDocumentsAreAnsweredByTheirText(t *testing.T) {
	const listed = `query Types { opportunityTypes { typeId } }`
	s := teststack.New(t, teststack.Options{
		Trusted: map[string]string{persisted.Hash(listed): listed},
		Env:     map[string]string{"RESPONSE_CACHE": "true"},
	})
	tests := []struct {
		name, query string
		wantData    bool
	}{
		{"listed", listed, true},
		{"listed, again (stored)", listed, true},
		{"another spelling", `query Types {opportunityTypes{typeId}}`, false},
		{"with a comment", "# hi\n" + listed, false},
	}
	for _, tt := range tests {
		_, b := testkit.PostJSON(t, s.Server.URL+"/query", `{"query":`+testkit.JSONString(tt.query)+`}`, nil)
		if got := strings.Contains(b, `"typeId":1001`); got != tt.wantData {
			t.Errorf("%s: data served = %v, want %v: %s", tt.name, got, tt.wantData, b)
		}
		if !tt.wantData && !strings.Contains(b, string(apierror.PersistedQueryNotAllowed)) {
			t.Errorf("%s: want %s: %s", tt.name, string(apierror.PersistedQueryNotAllowed), b)
		}
	}
}

func TestCORS(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"}})
	tests := []struct {
		name, origin string
		allowed      bool
	}{
		{"allowed origin", "https://app.example.com", true},
		{"other origin", "https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := testkit.Do(t, http.MethodOptions, s.Server.URL+"/query", "", nil, map[string]string{
				"Origin":                         tt.origin,
				"Access-Control-Request-Method":  "POST",
				"Access-Control-Request-Headers": "content-type",
			})
			if got := resp.Header.Get("Access-Control-Allow-Origin") == tt.origin; got != tt.allowed {
				t.Errorf("preflight allowed = %v, want %v (headers %v)", got, tt.allowed, resp.Header)
			}
			// The actual cross-origin POST, as a browser sends it.
			resp, _ = testkit.PostJSON(t, s.Server.URL+"/query", `{"query":"{ __typename }"}`,
				map[string]string{"Origin": tt.origin, "Sec-Fetch-Site": "cross-site"})
			if ok := resp.StatusCode == http.StatusOK; ok != tt.allowed {
				t.Errorf("cross-origin POST status %d, allowed %v", resp.StatusCode, tt.allowed)
			}
		})
	}
}

func TestGETIsForQueriesOnly(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	tests := []struct {
		name, query, op string
		want            int
	}{
		{"mutation", "mutation { x }", "", http.StatusMethodNotAllowed},
		{"subscription", "subscription S { x }", "", http.StatusMethodNotAllowed},
		{"named mutation among queries", "query Q { __typename } mutation M { x }", "M", http.StatusMethodNotAllowed},
		{"query named after a mutation", "query Q { __typename } mutation M { x }", "Q", http.StatusOK},
		{"query mentioning the word", `{ opportunityType(typeId: 1) { stage(id: 1) { name } } } # mutation`, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := testkit.Get(t, s.Server.URL+"/query?"+url.Values{"query": {tt.query}, "operationName": {tt.op}}.Encode(), nil)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}
