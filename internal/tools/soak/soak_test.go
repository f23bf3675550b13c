package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunCountersAddUp soaks the real service binary for 5s with 2 clients.
// Phases of 700ms put the 5xx phase at 1.4s-2.1s; with no retries and a
// breaker that opens after 2 failed refreshes of a 200ms cache, it opens
// there, and its 1s cool-down lets it close again before the end.
func TestRunCountersAddUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service for about 7s")
	}
	cfg := DefaultConfig()
	cfg.Duration = 5 * time.Second
	cfg.Clients = 2
	cfg.Phase = 700 * time.Millisecond
	cfg.Warmup = 300 * time.Millisecond
	cfg.CacheTTL = 200 * time.Millisecond
	cfg.ServiceEnv = []string{"UPSTREAM_RETRIES=0", "BREAKER_FAILURES=2", "BREAKER_COOLDOWN=1s", "CACHE_REFRESH_RETRY=50ms"}
	var progress bytes.Buffer
	cfg.Progress = &progress

	// The first build in a cold cache takes longer than the soak itself.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, &progress)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("report:\n%s", &out)

	tot := rep.Total
	var outcomes int64
	for _, n := range tot.Outcomes {
		outcomes += n
	}
	var phaseSent int64
	for _, p := range rep.ByPhase {
		phaseSent += p.Sent
	}
	checks := []struct {
		name      string
		got, want int64
	}{
		{"sent = sum of outcomes", tot.Sent, outcomes},
		{"sent = sum over phases", tot.Sent, phaseSent},
		{"errors = sum by code", tot.Outcomes[OutcomeErrors], sum(rep.ByCode)},
		{"answered = sum by status", tot.Sent - tot.Outcomes[OutcomeNoAnswer] - tot.Outcomes[OutcomeAbandoned], sum(rep.ByStatus)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if tot.Sent == 0 || tot.Outcomes[OutcomeData] == 0 {
		t.Errorf("sent %d, with data %d; want both > 0", tot.Sent, tot.Outcomes[OutcomeData])
	}
	if rep.Answered200() > tot.Sent-tot.Outcomes[OutcomeNoAnswer] {
		t.Errorf("answered 200 %d > answered %d", rep.Answered200(), tot.Sent-tot.Outcomes[OutcomeNoAnswer])
	}
	if rep.PhasesEntered < len(phases) {
		t.Errorf("phases entered %d, want at least %d", rep.PhasesEntered, len(phases))
	}
	if rep.UpstreamCalls <= 0 {
		t.Errorf("upstream calls %d, want > 0", rep.UpstreamCalls)
	}
	if rep.Logs.RefreshFailures <= 0 {
		t.Errorf("refresh failures %d, want > 0", rep.Logs.RefreshFailures)
	}
	if n := sum(rep.Logs.Breaker); n < 1 {
		t.Errorf("breaker transitions %d, want at least one", n)
	}
	if rep.Logs.Breaker["closed→open"] < 1 {
		t.Errorf("breaker transitions %v, want closed→open", rep.Logs.Breaker)
	}
	if !rep.Stop.OK() {
		t.Errorf("stop: %+v, want exit 0 within %s", rep.Stop, stopTimeout)
	}
}

func sum[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   result
	}{
		{"data", 200, `{"data":{"x":1}}`, result{outcome: OutcomeData, status: 200}},
		{"stale data", 200, `{"data":{"x":1},"extensions":{"opportunityConfig":{"stale":true}}}`, result{outcome: OutcomeData, status: 200, stale: true}},
		{"error", 200, `{"errors":[{"message":"m","extensions":{"code":"UPSTREAM_UNAVAILABLE"}}],"data":null}`, result{outcome: OutcomeErrors, status: 200, code: "UPSTREAM_UNAVAILABLE"}},
		{"partial data is an error", 200, `{"errors":[{"message":"m"}],"data":{"opportunityType":null}}`, result{outcome: OutcomeErrors, status: 200, code: "(no code)"}},
		{"error with status", 429, `{"errors":[{"message":"m","extensions":{"code":"RATE_LIMITED"}}]}`, result{outcome: OutcomeErrors, status: 429, code: "RATE_LIMITED"}},
		{"null data", 200, `{"data":null}`, result{outcome: OutcomeOther, status: 200}},
		{"not JSON", 404, "404 page not found\n", result{outcome: OutcomeOther, status: 404}},
		{"data with brackets and quotes in strings", 200, ` {"data":{"a":"}]\"{[","b":[1,{"c":null}],"d":-1.5e3,"e":true}, "extensions" : {"opportunityConfig":{"stale":true,"ageSeconds":3}} } `,
			result{outcome: OutcomeData, status: 200, stale: true}},
		{"errors after data", 200, `{"data":{"x":[]},"errors":[{"message":"m","extensions":{"code":"REQUEST_CANCELLED"}}]}`, result{outcome: OutcomeErrors, status: 200, code: "REQUEST_CANCELLED"}},
		{"data cut short", 200, `{"data":{"x":[1,2`, result{outcome: OutcomeOther, status: 200}},
		{"string cut short", 200, `{"data":{"x":"abc`, result{outcome: OutcomeOther, status: 200}},
		{"trailing bytes", 200, `{"data":{"x":1}}{"data":{}}`, result{outcome: OutcomeOther, status: 200}},
		{"errors not a list", 200, `{"errors":"boom"}`, result{outcome: OutcomeOther, status: 200}},
		{"empty object", 200, `{}`, result{outcome: OutcomeOther, status: 200}},
		{"a list", 200, `[{"data":{}}]`, result{outcome: OutcomeOther, status: 200}},
		{"missing colon", 200, `{"data" {"x":1}}`, result{outcome: OutcomeOther, status: 200}},
		{"scalar data", 200, `{"data":1}`, result{outcome: OutcomeData, status: 200}},
		{"escaped key", 200, `{"d\u0061ta":{"x":1}}`, result{outcome: OutcomeData, status: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.status, []byte(tt.body)); got != tt.want {
				t.Errorf("classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLogCounter(t *testing.T) {
	c := newLogCounter()
	lines := `{"time":"t","level":"INFO","msg":"listening","addr":"http://[::]:41234","playground":"x"}
{"time":"t","level":"INFO","msg":"request","request_id":"a","status":200}
{"time":"t","level":"WARN","msg":"opportunity config refresh failed","err":"e"}
{"time":"t","level":"WARN","msg":"upstream circuit breaker changed state","from":"closed","to":"open"}
{"time":"t","level":"INFO","msg":"opportunity config fetched","version":"v"}
panic: not JSON`
	// proc splits the output into lines (its own test); the counter gets them one by one.
	for line := range strings.SplitSeq(lines, "\n") {
		c.line([]byte(line))
	}
	got := c.snapshot()
	if got.Lines != 6 || got.RefreshFailures != 1 || got.Refreshes != 1 ||
		got.Breaker["closed→open"] != 1 || got.ByLevel["INFO"] != 3 || got.ByLevel["WARN"] != 2 || got.ByLevel["non-JSON"] != 1 {
		t.Errorf("counts = %+v", got)
	}
}
