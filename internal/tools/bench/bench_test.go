package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the whole benchmark with tiny numbers, unpinned: the real
// service and ceiling binaries, every query, the cold path and a small large
// dataset, about 2s of load. It checks that the report adds up, not what the
// numbers are.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service and runs it for about 3s")
	}
	cfg := DefaultConfig()
	cfg.Duration = 100 * time.Millisecond
	cfg.Rounds = 1
	cfg.Clients = 2
	cfg.Warmup = 20 * time.Millisecond
	cfg.Cold = 5
	cfg.Large = true
	cfg.LargeSize = [3]int{4, 5, 10}
	cfg.Pin = false
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

	if want := 5 * 3; len(rep.Demo) != want { // 4 queries and the 304, 3 targets each
		t.Errorf("%d demo rows, want %d", len(rep.Demo), want)
	}
	if want := 2 * 3; len(rep.Large) != want {
		t.Errorf("%d large rows, want %d", len(rep.Large), want)
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
	if len(rep.Checks()) == 0 || !strings.Contains(out.String(), "### Targets") {
		t.Error("the report has no targets section")
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
