package endpoint_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// metric reads one series' value from the stack's /metrics.
func metric(t *testing.T, s *teststack.Stack, series string) float64 {
	t.Helper()
	_, body := testkit.Get(t, s.Server.URL+"/metrics", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// burst sends n identical POSTs at once and returns their bodies.
func burst(t *testing.T, url, query string, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, body := testkit.PostJSON(t, url+"/query", testkit.QueryBody(query, nil), nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			out[i] = []byte(body)
		})
	}
	wg.Wait()
	return out
}

// TestABurstAfterTheTTLRunsOneExecution: when the TTL passes and the
// configuration changes, 32 identical requests arriving together wait for one
// refresh and then share one execution; all get the same, new bytes.
func TestABurstAfterTheTTLRunsOneExecution(t *testing.T) {
	// A large configuration, so that one execution takes long enough for the
	// whole burst to be waiting on it (~10 ms), changed by one type's name.
	before := simulator.LargeDataset(6, 20, 40)
	after := bytes.Replace(before, []byte(`"typeName":"`), []byte(`"typeName":"新`), 1)
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}, Dataset: before})
	query := testkit.EveryUpstreamField
	first := burst(t, s.Server.URL, query, 1)[0]

	s.Sim.SetDataset(after) // a new version, whose answer is not stored
	s.Sim.SetLatency(200 * time.Millisecond)
	s.Clock.Advance(31 * time.Second)
	_, _, hitsBefore, _ := s.Service.Responses.Stats()
	sharedBefore := metric(t, s, "graphql_shared_answers_total")
	const n = 32
	bodies := burst(t, s.Server.URL, query, n)

	for i, b := range bodies {
		if !bytes.Equal(b, bodies[0]) || !bytes.Contains(b, []byte(`"opportunityTypes"`)) || bytes.Contains(b, []byte(`"errors"`)) {
			t.Fatalf("answer %d differs or failed: %.200s", i, b)
		}
	}
	if bytes.Equal(bodies[0], first) || !bytes.Contains(bodies[0], []byte("新")) {
		t.Errorf("the burst was answered from the old version: %.200s", bodies[0])
	}
	_, _, hitsAfter, _ := s.Service.Responses.Stats()
	shared := metric(t, s, "graphql_shared_answers_total") - sharedBefore
	executions := n - int(shared) - int(hitsAfter-hitsBefore)
	if executions != 1 {
		t.Errorf("%d executions for %d identical requests (%v shared, %d stored hits), want 1", executions, n, shared, hitsAfter-hitsBefore)
	}
	if c := s.Sim.Calls(); c != 2 {
		t.Errorf("upstream calls = %d, want 2 (one refresh for the burst)", c)
	}
	if w := metric(t, s, "graphql_shared_execution_waiters"); w != 0 {
		t.Errorf("waiters left: %v", w)
	}
}

// TestUnchangedBytesKeepStoredAnswers: past the TTL, a refresh that brings
// the same bytes keeps the version, and a burst is answered from the stored
// answers once the refresh is in, executing nothing.
func TestUnchangedBytesKeepStoredAnswers(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	const query = `{ opportunityTypes { typeId typeName stages { name } } }`
	burst(t, s.Server.URL, query, 1)

	s.Sim.SetLatency(100 * time.Millisecond)
	s.Clock.Advance(31 * time.Second)
	_, _, hitsBefore, _ := s.Service.Responses.Stats()
	sharedBefore := metric(t, s, "graphql_shared_answers_total")
	const n = 16
	burst(t, s.Server.URL, query, n)
	_, _, hitsAfter, _ := s.Service.Responses.Stats()
	if hits := hitsAfter - hitsBefore; hits != n {
		t.Errorf("stored hits = %d for %d requests after an unchanged refresh, want all", hits, n)
	}
	if shared := metric(t, s, "graphql_shared_answers_total") - sharedBefore; shared != 0 {
		t.Errorf("%v shared executions; nothing should execute", shared)
	}
	if c := s.Sim.Calls(); c != 2 {
		t.Errorf("upstream calls = %d, want 2", c)
	}
}
