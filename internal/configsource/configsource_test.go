package configsource_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/configsource"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// fetcher answers the snapshot, or err when set.
type fetcher struct {
	mu  sync.Mutex
	err error
	// pattern, when set, is the pattern of the type's one field.
	pattern *string
}

func (f *fetcher) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fetcher) OpportunityConfig(context.Context) (*opportunity.Snapshot, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	typ := &opportunity.Type{TypeID: 1, TypeName: "one"}
	if f.pattern != nil {
		typ.Fields = []*opportunity.Field{{ID: 7, Name: "email", Type: 10, Pattern: f.pattern}}
	}
	return opportunity.NewSnapshot([]*opportunity.Type{typ}, "v1"), nil
}

func newSource(t *testing.T, f *fetcher, clk *testkit.Clock, logs io.Writer) (*configsource.Source, *telemetry.Metrics) {
	t.Helper()
	m := telemetry.NewMetrics()
	s, err := configsource.New(f, configsource.Options{
		TTL: 30 * time.Second, MaxStale: time.Hour, RetryInterval: time.Second,
		Now: clk.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// TestReady: not ready before the first copy, ready while a copy no older
// than TTL + max-stale is held (stale or not), not ready after.
func TestReady(t *testing.T) {
	tests := []struct {
		name       string
		fetch      bool
		advance    time.Duration
		wantReady  bool
		wantStatus string
		wantStale  any
	}{
		{"nothing fetched", false, 0, false, "not ready", nil},
		{"fresh", true, 10 * time.Second, true, "ready", false},
		{"past the TTL, within max-stale", true, 31 * time.Minute, true, "ready", false},
		{"older than TTL + max-stale", true, time.Hour + 31*time.Second, false, "not ready", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
			s, _ := newSource(t, &fetcher{}, clk, io.Discard)
			if tt.fetch {
				s.Warm(context.Background())
			}
			clk.Advance(tt.advance)
			ready, detail := s.Ready()
			if ready != tt.wantReady || detail["status"] != tt.wantStatus || detail["stale"] != tt.wantStale {
				t.Errorf("Ready() = %v, %v", ready, detail)
			}
			if !ready && detail["reason"] == nil {
				t.Errorf("not ready without a reason: %v", detail)
			}
		})
	}
}

// TestLookupsAndRefreshesAreMetered: every Get is counted by result, every
// refresh by outcome, and a failed refresh is logged once.
func TestLookupsAndRefreshesAreMetered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
		f := &fetcher{}
		logs := &testkit.LogBuffer{}
		s, m := newSource(t, f, clk, logs)
		ctx := context.Background()
		for range 2 { // a miss, then a hit
			if _, err := s.Get(ctx); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(31 * time.Second)
		f.setErr(&tanmarket.Error{Kind: tanmarket.KindUnavailable})
		if res, err := s.Get(ctx); err != nil || res.Stale || !res.Revalidating { // served while refreshed
			t.Fatalf("Get = %+v, %v", res, err)
		}
		synctest.Wait() // the background refresh has failed
		if res, err := s.Get(ctx); err != nil || !res.Stale {
			t.Fatalf("Get after the failed refresh = %+v, %v", res, err)
		}
		clk.Advance(2 * time.Hour)
		if _, err := s.Get(ctx); !errors.As(err, new(*tanmarket.Error)) { // past max-stale: error
			t.Fatalf("Get past max-stale: %v", err)
		}

		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		for _, want := range []string{
			`config_cache_requests_total{result="miss"} 1`,
			`config_cache_requests_total{result="hit"} 1`,
			`config_cache_requests_total{result="revalidating"} 1`,
			`config_cache_requests_total{result="stale"} 1`,
			`config_cache_requests_total{result="error"} 1`,
			`upstream_refreshes_total{outcome="ok"} 1`,
			`upstream_refreshes_total{outcome="unavailable"} 2`,
		} {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if n := strings.Count(logs.String(), "opportunity config refresh failed"); n != 2 {
			t.Errorf("%d refresh-failure log lines for 2 failed refreshes:\n%s", n, logs)
		}
		if s.Fetches() != 3 {
			t.Errorf("Fetches = %d, want 3", s.Fetches())
		}
	})
}

func TestNewRequiresItsParts(t *testing.T) {
	if _, err := configsource.New(&fetcher{}, configsource.Options{TTL: time.Second, MaxStale: time.Second, RetryInterval: time.Second}); err == nil {
		t.Error("New without logger and metrics accepted")
	}
	if _, err := configsource.New(&fetcher{}, configsource.Options{Logger: slog.Default(), Metrics: telemetry.NewMetrics()}); err == nil {
		t.Error("New without durations accepted")
	}
}

// TestSkippedPatternLoggedOncePerVersion: a pattern RE2 cannot compile is
// logged when its version arrives, with ids and no pattern text, and not
// again when a refresh brings the same version; the rules are built by then.
func TestSkippedPatternLoggedOncePerVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := testkit.NewClock(time.Unix(1_700_000_000, 0))
		secretish := `^(?=.*@)secret-looking-pattern$`
		f := &fetcher{pattern: &secretish}
		logs := &testkit.LogBuffer{}
		s, _ := newSource(t, f, clk, logs)
		ctx := context.Background()
		for range 4 { // the first fetch, then refreshes of the same bytes
			res, err := s.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rules, problems := res.Value.Rules(); rules == nil || len(problems) != 1 {
				t.Fatalf("Rules = %v, %v; want the rules and one skipped pattern", rules, problems)
			}
			clk.Advance(31 * time.Second)
			synctest.Wait()
		}
		if s.Fetches() < 3 {
			t.Fatalf("Fetches = %d, want at least 3", s.Fetches())
		}
		if n := strings.Count(logs.String(), "field pattern skipped"); n != 1 {
			t.Errorf("%d skipped-pattern log lines over one version; want 1:\n%s", n, logs)
		}
		if !strings.Contains(logs.String(), `"field_id":7`) || strings.Contains(logs.String(), "secret-looking") {
			t.Errorf("the log line should name field 7 and not the pattern:\n%s", logs)
		}
	})
}
