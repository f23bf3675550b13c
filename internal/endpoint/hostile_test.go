package endpoint_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// hostile is one request the service must refuse, cheaply, with a code.
type hostile struct {
	name        string
	method      string // default POST
	contentType string // default application/json
	headers     map[string]string
	body        string // raw body; for GET, the raw query string
	limits      func(*limits.Limits)
	maxBatch    int
	wantStatus  int
	wantCode    string // extensions.code of the first error; "" when not JSON
}

func nested(field string, depth int) string {
	return strings.Repeat(field+" { ", depth) + "id" + strings.Repeat(" }", depth)
}

func hostileRequests() []hostile {
	deepVars := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	// This exceeds the cost limit with the other bounds lifted, so the count
	// on the data alone refuses it (cost_test.go has the rest).
	costOnly := func(l *limits.Limits) {
		l.MaxDepth, l.MaxAliases, l.MaxRootFields, l.MaxTokens, l.MaxQueryBytes = 0, 0, 0, 0, 0
	}
	var thousandAliases strings.Builder
	thousandAliases.WriteString("{")
	for i := range 1000 {
		fmt.Fprintf(&thousandAliases, " a%d: opportunityType(typeId: 1001) { allStages { id name requiredOppTypeFields { field { id name options { name } } } } }", i)
	}
	thousandAliases.WriteString(" }")

	return []hostile{
		{name: "body over 1 MiB", body: testkit.QueryBody("{ opportunityTypes { typeId } }", map[string]any{"pad": strings.Repeat("x", 1<<20)}), wantStatus: 413, wantCode: "BODY_TOO_LARGE"},
		{name: "malformed JSON", body: `{"query": "{ opportunityTypes { typeId } }"`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "JSON of the wrong shape", body: `{"query": 42}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "empty body", body: "", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "text/plain", contentType: "text/plain", body: testkit.QueryBody("{ opportunityTypes { typeId } }", nil), wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "form post", contentType: "application/x-www-form-urlencoded", body: "query=%7B__typename%7D", wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "cross-site form post", contentType: "application/x-www-form-urlencoded", headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, body: "query=%7B__typename%7D", wantStatus: 403},
		{name: "PUT", method: http.MethodPut, body: testkit.QueryBody("{ __typename }", nil), wantStatus: 405},
		{name: "depth 16", body: testkit.QueryBody("{ opportunityTypes { "+nested("stages", 1)[:len("stages { ")]+nested("children", 13)+" } } }", nil), wantStatus: 200, wantCode: "MAX_DEPTH_EXCEEDED"},
		{name: "depth via parent cycle", body: testkit.QueryBody("{ defaultOpportunityType { allStages { "+nested("parent", 20)+" } } }", nil), wantStatus: 200, wantCode: "MAX_DEPTH_EXCEEDED"},
		{name: "depth, GraphQL response media type", headers: map[string]string{"Accept": "application/graphql-response+json"}, body: testkit.QueryBody("{ defaultOpportunityType { allStages { "+nested("parent", 20)+" } } }", nil), wantStatus: 400, wantCode: "MAX_DEPTH_EXCEEDED"},
		{name: "101 aliases", body: testkit.QueryBody("{ defaultOpportunityType { "+aliases("typeId", 101)+" } }", nil), wantStatus: 200, wantCode: "MAX_ALIASES_EXCEEDED"},
		{name: "aliases hidden in fragments", body: testkit.QueryBody("fragment F on OpportunityType { "+aliases("typeId", 20)+" } { defaultOpportunityType { ...F a: stages { ...S } } opportunityTypes { ...F ...F ...F } } fragment S on Stage { opportunityType { ...F } }", nil), wantStatus: 200, wantCode: "MAX_ALIASES_EXCEEDED"},
		{name: "101 root fields", body: testkit.QueryBody("{ "+aliases("__typename", 101)+" }", nil), limits: func(l *limits.Limits) { l.MaxAliases = 0 }, wantStatus: 200, wantCode: "MAX_ROOT_FIELDS_EXCEEDED"},
		{name: "over 2000 tokens", body: testkit.QueryBody("{ defaultOpportunityType { "+strings.Repeat("typeId ", 2100)+"} }", nil), wantStatus: 200, wantCode: "MAX_TOKENS_EXCEEDED"},
		{name: "11 directives", body: testkit.QueryBody("{ defaultOpportunityType { typeId "+strings.Repeat("@include(if: true) ", 11)+"} }", nil), wantStatus: 200, wantCode: "MAX_DIRECTIVES_EXCEEDED"},
		{name: "100 000 directives (CVE-2023-49559)", body: testkit.QueryBody("{ __typename "+strings.Repeat("@a", 100000)+" }", nil), wantStatus: 400, wantCode: "QUERY_TOO_LARGE"},
		{name: "100 000 directives, document limit lifted", body: testkit.QueryBody("{ __typename "+strings.Repeat("@a", 100000)+" }", nil), limits: func(l *limits.Limits) { l.MaxQueryBytes = 0 }, wantStatus: 200, wantCode: "MAX_TOKENS_EXCEEDED"},
		{name: "__typename 3000 times", body: testkit.QueryBody("{ "+strings.Repeat("__typename ", 3000)+"}", nil), wantStatus: 400, wantCode: "QUERY_TOO_LARGE"},
		{name: "__typename 3000 times, document limit lifted", body: testkit.QueryBody("{ "+strings.Repeat("__typename ", 3000)+"}", nil), limits: func(l *limits.Limits) { l.MaxQueryBytes = 0 }, wantStatus: 200, wantCode: "MAX_TOKENS_EXCEEDED"},
		{name: "document over the character limit", body: testkit.QueryBody("# "+strings.Repeat("x", 40<<10)+"\n{ __typename }", nil), wantStatus: 400, wantCode: "QUERY_TOO_LARGE"},
		{name: "variables nested 10 000 deep", body: `{"query":"query($v: Int) { __typename }","variables":{"v":` + deepVars + `}}`, wantStatus: 400, wantCode: "JSON_TOO_DEEP"},
		{name: "GET variables nested 10 000 deep", method: http.MethodGet, body: "query=%7B__typename%7D&variables=" + strings.Repeat("%5B", 10000) + strings.Repeat("%5D", 10000), wantStatus: 400, wantCode: "JSON_TOO_DEEP"},
		{name: "1000 aliases, cost alone", body: testkit.QueryBody(thousandAliases.String(), nil), limits: costOnly, wantStatus: 200, wantCode: "COST_LIMIT_EXCEEDED"},
		{name: "fragment cycle", body: testkit.QueryBody("fragment A on Stage { children { ...B } } fragment B on Stage { children { ...A } } { opportunityTypes { stages { ...A } } }", nil), wantStatus: 200, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "unknown field", body: testkit.QueryBody("{ opportunityTypes { nope } }", nil), wantStatus: 200, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "wrong variable type", body: testkit.QueryBody("query($id: Int!) { opportunityType(typeId: $id) { typeId } }", map[string]any{"id": "x"}), wantStatus: 200, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "batch while batching is off", body: "[" + testkit.QueryBody("{ __typename }", nil) + "]", wantStatus: 400, wantCode: "BATCHING_DISABLED"},
		{name: "batch over the bound", maxBatch: 2, body: "[" + strings.Repeat(testkit.QueryBody("{ __typename }", nil)+",", 2) + testkit.QueryBody("{ __typename }", nil) + "]", wantStatus: 400, wantCode: "BATCH_TOO_LARGE"},
	}
}

func aliases(field string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "x%d: %s ", i, field)
	}
	return b.String()
}

func send(t testing.TB, base string, h hostile) (int, []byte) {
	t.Helper()
	method := h.method
	if method == "" {
		method = http.MethodPost
	}
	url := base + "/query"
	var body io.Reader
	if method == http.MethodGet {
		url += "?" + h.body
	} else {
		body = strings.NewReader(h.body)
	}
	ct := h.contentType
	if ct == "" {
		ct = "application/json"
	}
	if method == http.MethodGet {
		ct = ""
	}
	resp, b := testkit.Do(t, method, url, ct, body, h.headers)
	return resp.StatusCode, []byte(b)
}

func stackFor(t testing.TB, h hostile) *teststack.Stack {
	configure := func(c *config.Config) {
		if h.limits != nil {
			h.limits(&c.Limits)
		}
	}
	return teststack.New(t, teststack.Options{Env: map[string]string{"MAX_BATCH": strconv.Itoa(h.maxBatch)}, Configure: configure})
}

func TestHostileRequestsAreRefused(t *testing.T) {
	for _, h := range hostileRequests() {
		t.Run(h.name, func(t *testing.T) {
			s := stackFor(t, h)
			status, body := send(t, s.Server.URL, h)
			if status != h.wantStatus {
				t.Errorf("status %d, want %d: %.300s", status, h.wantStatus, body)
			}
			if h.wantCode != "" {
				var resp testkit.Response
				if err := json.Unmarshal(body, &resp); err != nil || len(resp.Errors) == 0 {
					t.Fatalf("want a GraphQL error body, got %.300s", body)
				}
				if got := resp.Errors[0].Extensions["code"]; got != h.wantCode {
					t.Errorf("code %v, want %s: %.300s", got, h.wantCode, body)
				}
				if string(resp.Data) != "" && string(resp.Data) != "null" {
					t.Errorf("refused request has data: %.300s", body)
				}
			}
			if len(body) > 4096 {
				t.Errorf("error response of %d bytes: input is echoed?", len(body))
			}
			// The service keeps serving, and nothing refused reached the upstream.
			if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); len(r.Errors) > 0 {
				t.Fatalf("next normal query: %s", r.Body)
			}
			if n := s.Sim.Calls(); n != 1 {
				t.Errorf("upstream calls = %d, want 1 (the normal query's)", n)
			}
		})
	}
}

// heaviestLegitimateQuery: every type, every scalar, stages four levels deep
// with everything under them, fields with options.
var heaviestLegitimateQuery = testkit.EveryUpstreamField

func TestLegitimateHeavyQueriesPass(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	for _, file := range []string{"graphql-js-16-all-options.graphql", "graphql-codegen.graphql"} {
		t.Run(file, func(t *testing.T) {
			q, err := os.ReadFile("../../testdata/introspection/" + file)
			if err != nil {
				t.Fatal(err)
			}
			r := s.Query(t, string(q), nil)
			if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"OpportunityType"`) {
				t.Fatalf("introspection refused: %.500s", r.Body)
			}
		})
	}
	t.Run("heaviest query", func(t *testing.T) {
		if r := s.Query(t, heaviestLegitimateQuery, nil); len(r.Errors) > 0 {
			t.Fatalf("refused: %.500s", r.Body)
		}
	})
	t.Run("full pipeline with navigation", func(t *testing.T) {
		q := `{ opportunityTypes { typeId allStages { id name depth path { id } parent { id }
			requiredOppTypeFields { id field { id name options { id name } } } customerFields { fieldId } } } }`
		if r := s.Query(t, q, nil); len(r.Errors) > 0 {
			t.Fatalf("refused: %.500s", r.Body)
		}
	})
}

func TestBatchingWhenOn(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"MAX_BATCH": "3"}})
	h := hostile{name: "batch of 2", body: "[" + testkit.QueryBody("{ defaultOpportunityType { typeId } }", nil) + "," + testkit.QueryBody("{ nope }", nil) + "]"}
	status, body := send(t, s.Server.URL, h)
	var got []testkit.Response
	if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got) != 2 {
		t.Fatalf("%d %s", status, body)
	}
	if !bytes.Contains(got[0].Data, []byte("1001")) || len(got[1].Errors) != 1 {
		t.Errorf("got %s", body)
	}
}

func TestIntrospectionSwitch(t *testing.T) {
	tests := []struct {
		name          string
		introspection bool
	}{{"on", true}, {"off", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Env: map[string]string{"INTROSPECTION": strconv.FormatBool(tt.introspection)}})
			r := s.Query(t, `{ __schema { queryType { name } } }`, nil)
			if served := len(r.Errors) == 0; served != tt.introspection {
				t.Errorf("introspection served = %v, want %v: %s", served, tt.introspection, r.Body)
			}
			r = s.Query(t, `{ opportunityTypes { typeNam } }`, nil)
			if suggested := strings.Contains(string(r.Body), "Did you mean"); suggested != tt.introspection {
				t.Errorf("suggestions shown = %v, want %v: %s", suggested, tt.introspection, r.Body)
			}
		})
	}
}

// BenchmarkRejections prints how long each refusal takes through the real
// HTTP handler (target: under 20 ms) and how much the heap grew over the whole
// set (target: under 20 MiB).
func BenchmarkRejections(b *testing.B) {
	requests := hostileRequests()
	// The stacks (a simulator and a service each) are built first, so that the
	// heap figure is what serving the hostile requests left behind.
	stacks := make([]*teststack.Stack, len(requests))
	for i, h := range requests {
		stacks[i] = stackFor(b, h)
	}
	// Each stack keeps its log in memory so that the tests can search it for
	// secrets; what those copies grow by is the test's, not the service's.
	logBytes := func() (n int) {
		for _, s := range stacks {
			n += s.Logs.Cap()
		}
		return n
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	logsBefore := logBytes()
	for i, h := range requests {
		s := stacks[i]
		b.Run(strings.ReplaceAll(h.name, " ", "_"), func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if status, _ := send(b, s.Server.URL, h); status != h.wantStatus {
					b.Fatalf("status %d, want %d", status, h.wantStatus)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/rejection")
		})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	logGrowth := logBytes() - logsBefore
	// Printed, not logged: go test shows a benchmark's logs only with -v.
	fmt.Printf("heap growth over the whole set: %.2f MiB in use after GC, besides the %.2f MiB of log lines the test keeps (target: under 20 MiB)\n",
		float64(int64(after.HeapInuse)-int64(before.HeapInuse)-int64(logGrowth))/(1<<20), float64(logGrowth)/(1<<20))
}
