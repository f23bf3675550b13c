package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// TestRunSmoke runs the whole benchmark with tiny numbers, unpinned: the real
// service and ceiling binaries, every query and configuration, the refresh
// scenario, the cold path and a small large dataset, about 10s of load. It
// checks that the report adds up, not what the numbers are.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service and runs it for about 15s")
	}
	cfg := DefaultConfig()
	cfg.Duration = 100 * time.Millisecond
	cfg.Rounds = 1
	cfg.Clients = 2
	cfg.Warmup = 20 * time.Millisecond
	cfg.Cold = 5
	// Each query through four changes of the data and about twenty
	// refreshes (CACHE_TTL takes whole milliseconds).
	cfg.RefreshDuration = time.Second // in the one round
	cfg.RefreshEvery = 200 * time.Millisecond
	cfg.RefreshTTL = 50 * time.Millisecond
	cfg.Large = true
	cfg.LargeSize = [3]int{4, 5, 10}
	cfg.Pin = false
	// Three replicas on a real redis-server, where one is installed (.ci/run
	// installs it and requires it).
	if _, err := exec.LookPath("redis-server"); err == nil || os.Getenv(testkit.RedisRequiredEnv) == "1" {
		cfg.Replicas = 3
	}
	var progress bytes.Buffer
	cfg.Progress = &progress

	// The first build in a cold cache takes longer than the run itself.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, &progress)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("report:\n%s", &out)

	targets := []string{targetCeiling, targetCacheOn, targetCacheOff, targetGqlgen}
	if want := 5 * len(targets); len(rep.Demo) != want { // 4 queries and the 304
		t.Errorf("%d demo rows, want %d", len(rep.Demo), want)
	}
	if want := 2 * len(targets); len(rep.Large) != want {
		t.Errorf("%d large rows, want %d", len(rep.Large), want)
	}
	for i, row := range rep.Demo {
		if want := targets[i%len(targets)]; row.Target != want {
			t.Errorf("demo row %d (%s): target %q, want %q", i, row.Query, row.Target, want)
		}
	}
	if rep.TTL != 30*time.Second {
		t.Errorf("throughput services' CACHE_TTL %s, want the service's default, 30s", rep.TTL)
	}
	if env := strings.Join(rep.ServiceEnv, " "); strings.Contains(env, "CACHE_TTL") {
		t.Errorf("service env %q sets CACHE_TTL; the throughput runs must run the default", env)
	}
	for _, row := range append(append([]Row(nil), rep.Demo...), rep.Large...) {
		if row.Requests == 0 || row.ReqPerSec <= 0 || row.P50 <= 0 || row.P99 < row.P50 {
			t.Errorf("%s/%s: %d requests, %.0f req/s, p50 %s, p99 %s", row.Query, row.Target, row.Requests, row.ReqPerSec, row.P50, row.P99)
		}
		if (row.Target == targetCeiling) != (row.Ratio == 0) {
			t.Errorf("%s/%s: ratio %.2f", row.Query, row.Target, row.Ratio)
		}
		if (row.Query == notModifiedQuery) != (row.Bytes == 0) {
			t.Errorf("%s/%s: %d response bytes", row.Query, row.Target, row.Bytes)
		}
		if row.Target == targetCeiling && row.UpstreamCalls != 0 {
			t.Errorf("%s/ceiling: %d upstream calls while the service was idle", row.Query, row.UpstreamCalls)
		}
		if row.Life < cfg.Duration {
			t.Errorf("%s/%s: life %s, shorter than one round", row.Query, row.Target, row.Life)
		}
	}

	if len(rep.Refresh) != len(queryNames) {
		t.Fatalf("%d refresh rows, want one per query (%v)", len(rep.Refresh), queryNames)
	}
	for i, f := range rep.Refresh {
		if f.Query != queryNames[i] {
			t.Errorf("refresh row %d: %s, want %s", i, f.Query, queryNames[i])
		}
		if f.Requests == 0 || f.Answered[0]+f.Answered[1]+f.Non2xx != f.Requests || f.ReqPerSec <= 0 ||
			f.P50 <= 0 || f.P99 < f.P50 || f.Max < f.P99 {
			t.Errorf("refresh %s: %d requests = %v answered + %d non-2xx, %.0f req/s, p50 %s p99 %s max %s",
				f.Query, f.Requests, f.Answered, f.Non2xx, f.ReqPerSec, f.P50, f.P99, f.Max)
		}
		// The data changed and the service served the changes: more than
		// one version, and answers of both contents.
		if f.DataChanges < 2 || f.Versions < 2 || f.Answered[0] == 0 || f.Answered[1] == 0 {
			t.Errorf("refresh %s: %d data changes, %d versions served, answers old/changed %v; want the changes served",
				f.Query, f.DataChanges, f.Versions, f.Answered)
		}
		if f.UpstreamCalls < 1 || f.UpstreamCalls > f.Allowed || f.Allowed < refreshesAllowed(f.Elapsed, cfg.RefreshTTL) {
			t.Errorf("refresh %s: %d upstream calls in %s, want 1 to %d (one per TTL)", f.Query, f.UpstreamCalls, f.Elapsed, f.Allowed)
		}
		if f.Steady.ReqPerSec <= 0 || f.Steady.P50 <= 0 || f.Steady.P99 < f.Steady.P50 || f.Steady.Max < f.Steady.P99 {
			t.Errorf("refresh %s: steady %+v", f.Query, f.Steady)
		}
	}
	if len(rep.Cold) != 3 {
		t.Fatalf("%d cold rows, want 3 (dropdown, full, dropdown with new bytes)", len(rep.Cold))
	}
	for _, c := range rep.Cold {
		// A 3ms pause before each request outlasts CACHE_TTL + CACHE_MAX_STALE (2ms): every request waits for a fetch.
		if c.Requests != cfg.Cold || c.UpstreamCalls != int64(cfg.Cold) || c.P50 < cfg.Latency {
			t.Errorf("cold %s: %d requests, %d upstream calls, p50 %s; want %d, %d, at least %s",
				c.Query, c.Requests, c.UpstreamCalls, c.P50, cfg.Cold, cfg.Cold, cfg.Latency)
		}
		if c.CeilingP50 < cfg.Latency {
			t.Errorf("cold %s: the ceiling answered in %s, under the upstream's %s: it did not call it", c.Query, c.CeilingP50, cfg.Latency)
		}
	}
	if rep.AccessLogLines <= 0 {
		t.Errorf("access log lines %d: the services should log every request", rep.AccessLogLines)
	}
	for _, section := range []string{"### Demo dataset", "### Through refreshes", "### Cold path", "### Large dataset", "### Targets", targetGqlgen} {
		if !strings.Contains(out.String(), section) {
			t.Errorf("the report has no %q", section)
		}
	}
	replicaChecks := 0
	if cfg.Replicas > 0 {
		replicaChecks = 3 // two queries' throughput, one upstream count
		if len(rep.Replicas) != 2 || rep.SharedTTL == nil {
			t.Fatalf("replicas: %d rows, together %+v; want dropdown and full, and the run together", len(rep.Replicas), rep.SharedTTL)
		}
		for _, row := range rep.Replicas {
			if row.Single <= 0 || len(row.Replicas) != 3 || slices.Min(row.Replicas) <= 0 || row.WorstRatio <= 0 || row.MeanRatio < row.WorstRatio {
				t.Errorf("replicas %s: %+v", row.Query, row)
			}
		}
		if st := rep.SharedTTL; st.Requests == 0 || st.UpstreamCalls < 1 || st.UpstreamCalls > st.Allowed {
			t.Errorf("replicas together: %+v; want requests and 1 to %d upstream calls", st, st.Allowed)
		}
		if !strings.Contains(out.String(), "replicas on one Redis") {
			t.Error("the report has no replicas section")
		}
	}
	checks := rep.Checks()
	// 4 cache off, the peers (one, not measured without -peers), 4 cache
	// on, 4 through refreshes, large RSS, per byte, upstream steady and
	// through refreshes; with -replicas, theirs.
	if want := 4 + 1 + 4 + 4 + 4 + replicaChecks; len(checks) != want {
		t.Errorf("%d targets, want %d", len(checks), want)
	}
	for _, ch := range checks {
		if ch.Skipped && ch.Got != "run with -peers" {
			t.Errorf("target %q not measured, with -large", ch.Name)
		}
		if strings.HasPrefix(ch.Name, "upstream") && !ch.Met {
			t.Errorf("%s: %s", ch.Name, ch.Got) // a refresh per TTL at most, whatever the machine
		}
	}

	png := filepath.Join(t.TempDir(), "bench.png")
	if err := rep.WriteChart(png); err != nil {
		t.Fatalf("WriteChart: %v", err)
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("chart is not a PNG (%d bytes, %v)", len(b), err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		give    string
		want    [3]int
		wantErr bool
	}{
		{give: "40x30x150", want: [3]int{40, 30, 150}},
		{give: "1x1x1", want: [3]int{1, 1, 1}},
		{give: "40x30", wantErr: true},
		{give: "40x0x150", wantErr: true},
		{give: "ax30x150", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPercentile(t *testing.T) {
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {0, 1}}
	for _, tt := range tests {
		if got := percentile(sorted, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestRequestWire(t *testing.T) {
	post := request{name: "q", method: "POST", body: `{"query":"{ a }"}`}.wire("127.0.0.1:1")
	if want := "POST /query HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"; !strings.HasPrefix(string(post), want) ||
		!strings.Contains(string(post), "Content-Length: 17\r\n") || !strings.HasSuffix(string(post), "\r\n\r\n"+`{"query":"{ a }"}`) {
		t.Errorf("POST wire:\n%s", post)
	}
	get := request{name: "g", method: "GET", rawQuery: "query=%7B+a+%7D", ifNoneMatch: `W/"x"`}.wire("h:2")
	if !strings.HasPrefix(string(get), "GET /query?query=%7B+a+%7D HTTP/1.1\r\n") || !strings.Contains(string(get), "If-None-Match: W/\"x\"\r\n") ||
		strings.Contains(string(get), "Content-Length") {
		t.Errorf("GET wire:\n%s", get)
	}
}

// TestGeneration checks the refresh scenario's data: every change has bytes
// (so a version) of its own, and holds one of the two contents in turn.
func TestGeneration(t *testing.T) {
	var demo bytes.Buffer
	if err := json.Compact(&demo, simulator.DemoDataset()); err != nil {
		t.Fatal(err)
	}
	changed, old, err := refreshVariants(demo.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, demo.Bytes()) || bytes.Equal(changed, old) {
		t.Fatalf("variants: old is the demo dataset %v, changed differs %v", bytes.Equal(old, demo.Bytes()), !bytes.Equal(changed, old))
	}
	decode := func(b []byte) []wire.Type {
		t.Helper()
		var types []wire.Type
		if err := json.Unmarshal(b, &types); err != nil {
			t.Fatalf("generation is not the wire shape: %v", err)
		}
		return types
	}
	variants := [2][]byte{changed, old}
	seen := map[string]bool{}
	for n := range 6 {
		g := generation(variants, n)
		if seen[string(g)] {
			t.Errorf("generation %d repeats an earlier one's bytes", n)
		}
		seen[string(g)] = true
		if got, want := decode(g), decode(variants[n%2]); !reflect.DeepEqual(got, want) {
			t.Errorf("generation %d holds neither content in turn", n)
		}
	}
}

func TestUpstreamWithinTTL(t *testing.T) {
	rows := []Row{
		{Target: targetCeiling, UpstreamCalls: 0, Life: time.Minute},
		{Target: targetCacheOn, UpstreamCalls: 1, Life: 40 * time.Second},
		{Target: targetCacheOn, UpstreamCalls: 1, Life: 95 * time.Second}, // the service's last row: its whole life
		{Target: targetCacheOff, UpstreamCalls: 0, Life: 29 * time.Second},
		{Target: targetApollo, Life: 10 * time.Minute}, // a peer calls no upstream: its life allows nothing
	}
	calls, allowed := upstreamWithinTTL(rows, 30*time.Second)
	if calls != 2 || allowed != 3 { // 95s: three TTLs; 29s: none
		t.Errorf("upstreamWithinTTL = %d calls, %d allowed; want 2, 3", calls, allowed)
	}
	if got := refreshesAllowed(2500*time.Millisecond, time.Second); got != 3 {
		t.Errorf("refreshesAllowed(2.5s, 1s) = %d, want 3", got)
	}
}

// TestDriveCountsOverloaded: with countOverloaded, a 503 OVERLOADED is
// counted apart from the answers (not in requests or latencies); without
// it, or for any other refusal, the run fails.
func TestDriveCountsOverloaded(t *testing.T) {
	const good = `{"data":{"a":1}}`
	tests := []struct {
		name      string
		refusal   string
		count     bool
		wantError bool
	}{
		{"overloaded, counted", `{"errors":[{"message":"busy","extensions":{"code":"OVERLOADED"}}]}`, true, false},
		{"overloaded, not counted", `{"errors":[{"message":"busy","extensions":{"code":"OVERLOADED"}}]}`, false, true},
		{"another 503", `{"errors":[{"message":"down","extensions":{"code":"UPSTREAM_UNAVAILABLE"}}]}`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if n.Add(1)%2 == 0 {
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, tt.refusal)
					return
				}
				_, _ = io.WriteString(w, good)
			}))
			defer srv.Close()
			s, err := drive(context.Background(), loop{base: srv.URL, pid: os.Getpid(), req: request{name: "q", method: http.MethodPost, body: `{"query":"{ a }"}`},
				want: []answer{{status: http.StatusOK, body: []byte(good)}}, conns: 2, d: 200 * time.Millisecond, countOverloaded: tt.count})
			if tt.wantError {
				if err == nil {
					t.Fatalf("no error; %d requests, %d overloaded", s.requests, s.overloaded)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.overloaded == 0 || s.requests == 0 || int64(len(s.latencies)) != s.requests || s.matched[0] != s.requests {
				t.Errorf("%d requests (%d latencies, %d matched), %d overloaded: want both, and latencies for the answers only", s.requests, len(s.latencies), s.matched[0], s.overloaded)
			}
			if d := s.overloaded - s.requests; d < -2 || d > 2 {
				t.Errorf("%d overloaded against %d answers, want about as many (every other request)", s.overloaded, s.requests)
			}
		})
	}
}
