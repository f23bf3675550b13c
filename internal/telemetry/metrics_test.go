package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// TestOperationLabels: names of refused or failed operations never take a
// label of their own, however many; a name gets one when its operation runs
// clean, or when trusted documents declare it, up to the bound.
func TestOperationLabels(t *testing.T) {
	tests := []struct {
		name    string
		known   []string
		observe func(m *telemetry.Metrics)
		labels  []string // operation labels that must be there
		absent  []string
	}{
		{
			name: "refused names fold into other",
			observe: func(m *telemetry.Metrics) {
				for i := range 500 {
					m.ObserveOperation(context.Background(), fmt.Sprintf("Junk%d", i), "rejected", 0)
					m.ObserveOperation(context.Background(), fmt.Sprintf("Failing%d", i), "error", 0)
				}
				m.ObserveOperation(context.Background(), "Pipelines", "ok", 0)
			},
			labels: []string{"Pipelines", "other"},
			absent: []string{"Junk0", "Failing0"},
		},
		{
			name: "a name that ran clean keeps its label when it later fails",
			observe: func(m *telemetry.Metrics) {
				m.ObserveOperation(context.Background(), "Pipelines", "ok", 0)
				m.ObserveOperation(context.Background(), "Pipelines", "error", 0)
			},
			labels: []string{`operation="Pipelines",outcome="error"`},
		},
		{
			name:  "trusted documents' names are known from the start",
			known: []string{"Listed"},
			observe: func(m *telemetry.Metrics) {
				m.ObserveOperation(context.Background(), "Listed", "rejected", 0)
			},
			labels: []string{`operation="Listed",outcome="rejected"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := telemetry.NewMetrics()
			m.KnownOperations(tt.known)
			tt.observe(m)
			w := httptest.NewRecorder()
			m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			body, _ := io.ReadAll(w.Body)
			for _, l := range tt.labels {
				if !strings.Contains(string(body), l) {
					t.Errorf("no %s in\n%s", l, grepOperations(string(body)))
				}
			}
			for _, l := range tt.absent {
				if strings.Contains(string(body), `"`+l+`"`) {
					t.Errorf("%s has a label of its own", l)
				}
			}
		})
	}
}

func grepOperations(metrics string) string {
	var out []string
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "graphql_operations_total") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestObserveCache: each configuration lookup is counted under its result,
// the results configsource reports (counted by series made once) and any
// other alike.
func TestObserveCache(t *testing.T) {
	m := telemetry.NewMetrics()
	observed := map[string]int{"hit": 3, "miss": 1, "revalidating": 2, "stale": 1, "error": 1, "other": 2}
	for result, n := range observed {
		for range n {
			m.ObserveCache(result)
		}
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for result, n := range observed {
		if line := fmt.Sprintf("config_cache_requests_total{result=%q} %d\n", result, n); !strings.Contains(body, line) {
			t.Errorf("no %q in /metrics", strings.TrimSpace(line))
		}
	}
}
