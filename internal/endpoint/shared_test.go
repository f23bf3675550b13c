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

// TestABurstAfterAVersionChangeRunsOneExecution: once a refresh brings a new
// version, whose answers are not stored yet, 32 identical requests arriving
// together share one execution; all get the same, new bytes.
func TestABurstAfterAVersionChangeRunsOneExecution(t *testing.T) {
	// A large configuration, so that one execution takes long enough for the
	// whole burst to be waiting on it (~10 ms), changed by one type's name.
	before := simulator.LargeDataset(6, 20, 40)
	after := bytes.Replace(before, []byte(`"typeName":"`), []byte(`"typeName":"新`), 1)
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}, Dataset: before})
	query := testkit.EveryUpstreamField
	first := burst(t, s.Server.URL, query, 1)[0]

	s.Sim.SetDataset(after)
	s.Expire(t, 31*time.Second) // the background refresh brings the new version
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
		t.Errorf("upstream calls = %d, want 2", c)
	}
	if w := metric(t, s, "graphql_shared_execution_waiters"); w != 0 {
		t.Errorf("waiters left: %v", w)
	}
}

// TestPastTheTTLNobodyWaits: past the TTL, with an upstream that takes a
// second to answer, a burst is answered at once from the stored answers of
// the copy held while one refresh runs in the background
// (stale-while-revalidate); a refresh that brings the same bytes keeps the
// version, so the stored answers keep serving after it.
func TestPastTheTTLNobodyWaits(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	const query = `{ opportunityTypes { typeId typeName stages { name } } }`
	burst(t, s.Server.URL, query, 1)

	s.Sim.SetLatency(time.Second)
	s.Clock.Advance(31 * time.Second)
	const n = 16
	for round := range 2 {
		_, _, hitsBefore, _ := s.Service.Responses.Stats()
		sharedBefore := metric(t, s, "graphql_shared_answers_total")
		burst(t, s.Server.URL, query, n)
		_, _, hitsAfter, _ := s.Service.Responses.Stats()
		if hits := hitsAfter - hitsBefore; hits != n {
			t.Errorf("round %d: stored hits = %d for %d requests, want all", round, hits, n)
		}
		if shared := metric(t, s, "graphql_shared_answers_total") - sharedBefore; shared != 0 {
			t.Errorf("round %d: %v shared executions; nothing should execute", round, shared)
		}
		if round == 0 {
			if !s.Service.Config.Refreshing() {
				t.Error("the burst waited for the upstream: the refresh is already over")
			}
			s.Expire(t, 0) // let the refresh finish
		}
	}
	if c := s.Sim.Calls(); c != 2 {
		t.Errorf("upstream calls = %d, want 2 (one refresh)", c)
	}
}

// TestHotAnswersAreMadeAheadOnAVersionChange: when a refresh brings a new
// version, the answers the old version was asked for again are made for the
// new one in the background, so that their first request is answered from
// stored bytes; an answer asked for only once is not.
func TestHotAnswersAreMadeAheadOnAVersionChange(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"},
		Dataset: []byte(`[{"typeName":"旧","typeId":1}]`)})
	const hot, cold, other = `{ opportunityTypes { typeName } }`, `{ opportunityTypes { typeId } }`, `{ defaultOpportunityType { typeId } }`
	burst(t, s.Server.URL, hot, 1)
	burst(t, s.Server.URL, hot, 3) // asked again: hits
	burst(t, s.Server.URL, cold, 1)

	s.Sim.SetDataset([]byte(`[{"typeName":"新","typeId":1}]`))
	s.Expire(t, 31*time.Second)
	burst(t, s.Server.URL, other, 1) // the new version's first answer starts the making ahead
	deadline := time.Now().Add(5 * time.Second)
	for n, _, _, _ := s.Service.Responses.Stats(); n < 4 && time.Now().Before(deadline); n, _, _, _ = s.Service.Responses.Stats() {
		time.Sleep(time.Millisecond) // the making ahead runs in the background
	}
	if n, _, _, _ := s.Service.Responses.Stats(); n != 4 {
		t.Fatalf("entries = %d, want 4: the first answer and the hot one, each under its key and its bytes", n)
	}
	_, _, hitsBefore, _ := s.Service.Responses.Stats()
	b := burst(t, s.Server.URL, hot, 1)[0]
	_, _, hitsAfter, _ := s.Service.Responses.Stats()
	if hitsAfter != hitsBefore+1 || !bytes.Contains(b, []byte("新")) {
		t.Errorf("the hot answer was not made ahead for the new version (hits %d → %d): %s", hitsBefore, hitsAfter, b)
	}
}
