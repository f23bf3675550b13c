package endpoint_test

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// BenchmarkCost sends, on the large dataset (40 types × ~94 stages × 150
// fields) and the service's defaults, the heaviest legitimate query (every
// type, every scalar, stages four levels deep, all fields and options: it
// passes) and a cheap back-reference query that is refused (each type's
// fields and options nested once in each of its top-level stages), each as its own request
// through the real HTTP handler, and prints for each its time per request,
// the values of its answer (or the count the refusal reports), and the peak
// live heap while it ran, with the fast path and without:
//
//	go test -run '^$' -bench Cost -benchtime 20x ./internal/endpoint/
func BenchmarkCost(b *testing.B) {
	large := simulator.LargeDataset(40, 30, 150)
	queries := []struct{ name, query, code string }{
		{"heaviest-allowed", heaviest, ""},
		{"cheapest-refused", `{ opportunityTypes { stages { opportunityType { fields { id options { id } } } } } }`, "COST_LIMIT_EXCEEDED"},
	}
	for _, fast := range []string{"true", "false"} {
		s := teststack.New(b, teststack.Options{Dataset: large, WallClock: true, Log: io.Discard,
			Env: map[string]string{"FAST_PATH": fast}})
		for _, q := range queries {
			b.Run("fastpath="+fast+"/query="+q.name, func(b *testing.B) {
				body := testkit.QueryBody(q.query, nil)
				var last string
				peak := heapPeak(b, func() {
					for b.Loop() {
						resp, answer := testkit.PostJSON(b, s.Server.URL+"/query", body, nil)
						if resp.StatusCode != http.StatusOK || strings.Contains(answer, `"errors"`) != (q.code != "") ||
							(q.code != "" && !strings.Contains(answer, q.code)) {
							b.Fatalf("%d %.300s", resp.StatusCode, answer)
						}
						last = answer
					}
				})
				b.ReportMetric(answerValues(b, last, q.code != ""), "values")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			})
		}
	}
}

// answerValues counts the JSON values of an answer's data, or reads the
// count of a refusal.
func answerValues(b *testing.B, answer string, refused bool) float64 {
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Extensions map[string]any }
	}
	if err := json.Unmarshal([]byte(answer), &r); err != nil {
		b.Fatal(err)
	}
	if refused {
		v, _ := r.Errors[0].Extensions["cost"].(float64)
		return v
	}
	var data any
	if err := json.Unmarshal(r.Data, &data); err != nil {
		b.Fatal(err)
	}
	return float64(countValues(data))
}

// countValues counts v and every value inside it.
func countValues(v any) int {
	n := 1
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			n += countValues(e)
		}
	case []any:
		for _, e := range v {
			n += countValues(e)
		}
	}
	return n
}

// heapPeak runs work while sampling the live heap every millisecond, and
// returns the largest sample, after a GC so that what came before does not
// count.
func heapPeak(b *testing.B, work func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	work()
	close(done)
	wg.Wait()
	return peak.Load()
}
