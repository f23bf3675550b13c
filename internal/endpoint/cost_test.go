package endpoint_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// Queries of the cost tests.
const (
	// everything selects every type, every scalar, stages four levels deep,
	// all fields and options (with stageFragment): heaviest is the
	// heaviest legitimate query, fiveTimes asks for it five times over.
	everything = `opportunityTypes { typeName typeId defaultType allowSkip allowGoBack allowInvalidGoBack allowDeleteOpportunity deleteOpportunityDate
		stages { ...S children { ...S children { ...S children { ...S } } } }
		fields { id name required type scale maxUnicode minUnicode pattern rank options { id name } } }`
	stageFragment = `fragment S on Stage { id name rank possibility requirement remind remindAfterDays depth
		customerFields { fieldId name type }
		requiredOppTypeFields { id name required rank type maxUnicode scale options { id name } } }`
	heaviest = "{ " + everything + " } " + stageFragment
	// nestedTwice nests each type in its own stages, twice.
	nestedTwice = `{ opportunityTypes { typeId stages { id opportunityType { typeId stages { id opportunityType { typeId typeName
		stages { id name } fields { id name options { id name } } } } } } } }`
)

// lookups is one operation looking up n types by alias, as a page of n
// pipelines does.
func lookups(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " t%d: opportunityType(typeId: %d) { typeId typeName stages { id name } }", i, 1001+i)
	}
	b.WriteString(" }")
	return b.String()
}

// TestCostIsCountedOnTheData sends each query to the service on the demo
// and the large dataset, through the real HTTP handler and the simulator:
// the heaviest legitimate query and a page of 20 lookups pass on both; a
// type nested twice in its own stages, and five copies of the whole
// configuration, are refused on both with their count; the next ordinary
// query is answered.
func TestCostIsCountedOnTheData(t *testing.T) {
	datasets := []struct {
		name string
		data []byte
	}{
		{"demo", nil},
		{"large", simulator.LargeDataset(40, 30, 150)},
	}
	tests := []struct {
		name  string
		query string
		code  string // "" passes
	}{
		{"heaviest legitimate query", heaviest, ""},
		{"twenty lookups by alias", lookups(20), ""},
		{"a type nested twice in its stages", nestedTwice, "COST_LIMIT_EXCEEDED"},
		{"the heaviest query five times over", "{" + aliasesOf(everything, 5) + " } " + stageFragment, "COST_LIMIT_EXCEEDED"},
	}
	for _, ds := range datasets {
		s := teststack.New(t, teststack.Options{Dataset: ds.data})
		for _, tt := range tests {
			t.Run(ds.name+"/"+tt.name, func(t *testing.T) {
				r := s.Query(t, tt.query, nil)
				if tt.code == "" {
					if r.Status != http.StatusOK || len(r.Errors) > 0 || !strings.Contains(string(r.Body), `"data":{`) {
						t.Fatalf("%d %.300s", r.Status, r.Body)
					}
					return
				}
				if r.Status != http.StatusOK || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != tt.code || strings.Contains(string(r.Body), `"data"`) {
					t.Fatalf("%d %.300s, want a %s refusal", r.Status, r.Body, tt.code)
				}
				ext := r.Errors[0].Extensions
				cost, _ := ext["cost"].(float64)
				limit, _ := ext["maxCost"].(float64)
				if limit < 1000 || cost <= limit {
					t.Errorf("extensions %v: want the count over the limit", ext)
				}
				if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
					t.Errorf("after it: %d %s", r.Status, r.Body)
				}
			})
		}
	}
}

// aliasesOf selects field n times under aliases.
func aliasesOf(field string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " c%d: %s", i, field)
	}
	return b.String()
}

// TestResponseBytesAreBounded: under a MAX_RESPONSE_BYTES smaller than the
// full answer, the full query is refused with RESPONSE_TOO_LARGE and its
// count, with the fast path and without; a small answer passes.
func TestResponseBytesAreBounded(t *testing.T) {
	for _, fast := range []string{"true", "false"} {
		s := teststack.New(t, teststack.Options{Env: map[string]string{"MAX_RESPONSE_BYTES": "20000", "FAST_PATH": fast}})
		r := s.Query(t, testkit.EveryUpstreamField, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "RESPONSE_TOO_LARGE" {
			t.Fatalf("FAST_PATH=%s: %d %.300s", fast, r.Status, r.Body)
		}
		if b, _ := r.Errors[0].Extensions["bytes"].(float64); b <= 20000 || r.Errors[0].Extensions["maxBytes"] != float64(20000) {
			t.Errorf("FAST_PATH=%s: extensions %v", fast, r.Errors[0].Extensions)
		}
		if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Errorf("FAST_PATH=%s: a small answer: %d %s", fast, r.Status, r.Body)
		}
	}
}

// TestExecutionsAreBoundedByMemory: with a budget smaller than one answer
// (each execution then takes all of it and runs alone) and a wait of a
// millisecond, concurrent executions of gqlgen's interpreter on the large
// dataset are refused with 503 OVERLOADED and Retry-After while one runs;
// every answer is either that or the full data.
func TestExecutionsAreBoundedByMemory(t *testing.T) {
	s := teststack.New(t, teststack.Options{
		Dataset: simulator.LargeDataset(10, 30, 100),
		Env:     map[string]string{"EXECUTION_MEMORY": "1048576", "EXECUTION_WAIT": "1ms", "FAST_PATH": "false"},
	})
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range n {
		wg.Go(func() {
			resp, body := testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(testkit.EveryUpstreamField, nil), nil)
			mu.Lock()
			defer mu.Unlock()
			statuses[resp.StatusCode]++
			switch resp.StatusCode {
			case http.StatusOK:
				if strings.Contains(body, `"errors"`) {
					t.Errorf("200 with errors: %.300s", body)
				}
			case http.StatusServiceUnavailable:
				if !strings.Contains(body, `"OVERLOADED"`) || resp.Header.Get("Retry-After") == "" || strings.Contains(body, `"data"`) {
					t.Errorf("503 %v %.300s", resp.Header, body)
				}
			default:
				t.Errorf("status %d: %.300s", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] == 0 || statuses[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("statuses %v: want some answered and some refused", statuses)
	}
	if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Errorf("after it: %d %s", r.Status, r.Body)
	}
}

// TestExecutionsAreRateLimitedByCostNotStoredAnswers runs the default limits
// (RATE_LIMIT, EXECUTION_RATE, EXECUTION_BURST) with the response cache on:
// a back-end-for-front-end on one address asking for cached answers at more
// than 50 a second for over a minute's worth is never refused, while
// distinct executions of the whole configuration from the same address are
// refused with 429 RATE_LIMITED and Retry-After once they pass the burst,
// and its cached answers are still served after that.
func TestExecutionsAreRateLimitedByCostNotStoredAnswers(t *testing.T) {
	defaults, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"RESPONSE_CACHE": "true", "RATE_LIMIT": strconv.Itoa(defaults.RateLimit),
		"EXECUTION_RATE": strconv.Itoa(defaults.ExecutionRate),
	}})
	const cached = `{ opportunityTypes { typeId typeName } }`
	body := testkit.QueryBody(cached, nil)
	for i := range 50 * 62 { // 62 seconds' worth at 50 a second
		resp, b := testkit.PostJSON(t, s.Server.URL+"/query", body, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("cached request %d: %d %s", i, resp.StatusCode, b)
		}
	}

	refused := 0
	for i := range 3 * defaults.ExecutionBurst {
		q := fmt.Sprintf("{ a%d: %s } %s", i, everything, stageFragment) // another answer each time: executed
		resp, b := testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(q, nil), nil)
		if resp.StatusCode == http.StatusOK && !strings.Contains(b, `"errors"`) {
			continue
		}
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(b, `"RATE_LIMITED"`) || strings.Contains(b, `"data"`) ||
			resp.Header.Get("Retry-After") == "" {
			t.Fatalf("execution %d: %d %v %.300s", i, resp.StatusCode, resp.Header, b)
		}
		refused++
		if i < defaults.ExecutionBurst-1 {
			t.Fatalf("execution %d refused within the burst of %d", i, defaults.ExecutionBurst)
		}
	}
	if refused == 0 {
		t.Fatalf("%d executions of the whole configuration, none refused", 3*defaults.ExecutionBurst)
	}
	if resp, b := testkit.PostJSON(t, s.Server.URL+"/query", body, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a cached answer after the refusals: %d %s", resp.StatusCode, b)
	}
}

// TestUnusedVariablesDoNotEvictHotAnswers: requests padded with most of a
// megabyte of variables the document never names share the answer of the
// unpadded request (one stored answer, found after decoding), so they store
// nothing more and the hot answer is still served from storage.
func TestUnusedVariablesDoNotEvictHotAnswers(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true", "RESPONSE_CACHE_BYTES": "4194304"}})
	const hot = `query Hot($id: Int!) { opportunityType(typeId: $id) { typeId typeName } }`
	want := s.Query(t, hot, map[string]any{"id": 1001})
	entries, bytesBefore, _, _ := s.Service.Responses.Stats()
	pad := strings.Repeat("x", 900<<10)
	for i := range 8 {
		r := s.Query(t, hot, map[string]any{"id": 1001, "unused": pad, "n": i})
		if r.Status != http.StatusOK || string(r.Body) != string(want.Body) {
			t.Fatalf("padded request %d: %d %.200s", i, r.Status, r.Body)
		}
	}
	after, bytesAfter, _, _ := s.Service.Responses.Stats()
	if after != entries || bytesAfter != bytesBefore {
		t.Errorf("entries %d → %d, bytes %d → %d: the padded requests stored more", entries, after, bytesBefore, bytesAfter)
	}
	_, _, hitsBefore, _ := s.Service.Responses.Stats()
	s.Query(t, hot, map[string]any{"id": 1001})
	if _, _, hits, _ := s.Service.Responses.Stats(); hits != hitsBefore+1 {
		t.Errorf("the hot answer was not served from storage")
	}
}

// TestExecutionStopsAtItsDeadline: gqlgen's interpreter building the
// heaviest legitimate answer on the large dataset (about half a second)
// under a REQUEST_TIMEOUT of 50 ms stops resolving at the deadline and
// answers REQUEST_CANCELLED, not a late 200 with the data.
func TestExecutionStopsAtItsDeadline(t *testing.T) {
	s := teststack.New(t, teststack.Options{
		Dataset: simulator.LargeDataset(40, 30, 150),
		Env:     map[string]string{"FAST_PATH": "false", "REQUEST_TIMEOUT": "50ms"},
	})
	s.Query(t, `{ opportunityTypes { typeId } }`, nil) // the configuration is fetched before the clock starts
	r := s.Query(t, heaviest, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "REQUEST_CANCELLED" || strings.Contains(string(r.Body), `"data"`) {
		t.Fatalf("%d %.300s", r.Status, r.Body)
	}
}

// TestDeferredFragmentsAreCounted: @defer (which the fast path leaves to
// gqlgen) hides nothing from the count: a type nested twice in its stages
// inside a deferred fragment is refused like the plain one.
func TestDeferredFragmentsAreCounted(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	q := strings.Replace(nestedTwice, "opportunityTypes { typeId stages {", "opportunityTypes { typeId ... @defer { stages {", 1) + " }"
	r := s.Query(t, q, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "COST_LIMIT_EXCEEDED" || r.Errors[0].Extensions["cost"] == nil {
		t.Fatalf("%d %.300s: want the count over the limit", r.Status, r.Body)
	}
}
