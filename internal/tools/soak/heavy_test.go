package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// TestHeavyMixPicks: every client goes round heavyCycle from its own
// offset, under its own address; variants and abandoned requests are new
// documents each time, abandoned after 1–50 ms; the ordinary mix is the four
// queries in turn, without an address.
func TestHeavyMixPicks(t *testing.T) {
	var n int64
	m := &mixer{heavy: true, ordinary: ordinaryRequests(1004, 2321, 401), next: func() int64 { n++; return n }}
	bodies := map[string]bool{}
	for client := range 3 {
		for i := client; i < client+2*len(heavyCycle); i++ {
			r := m.pick(client, i)
			if want := heavyCycle[i%len(heavyCycle)]; r.kind != want {
				t.Errorf("client %d request %d: kind %s, want %s", client, i, r.kind, want)
			}
			if r.forwardedFor != clientAddr(0, client) {
				t.Errorf("client %d request %d: X-Forwarded-For %q", client, i, r.forwardedFor)
			}
			if (r.abandonAfter > 0) != (r.kind == KindAbandoned) || r.abandonAfter > abandonMin+abandonSpan*time.Millisecond {
				t.Errorf("%s request: abandoned after %s", r.kind, r.abandonAfter)
			}
			if r.kind == KindVariant || r.kind == KindAbandoned {
				if bodies[r.body] {
					t.Errorf("client %d request %d: a %s's body sent before", client, i, r.kind)
				}
				bodies[r.body] = true
			}
		}
	}
	if clientAddr(0, 0) == clientAddr(0, 250) || clientAddr(0, 1) == clientAddr(1, 1) {
		t.Errorf("addresses repeat: %s %s %s %s", clientAddr(0, 0), clientAddr(0, 250), clientAddr(0, 1), clientAddr(1, 1))
	}

	ordinary := &mixer{ordinary: ordinaryRequests(1004, 2321, 401)}
	for i := range 8 {
		if r := ordinary.pick(0, i); r.name != ordinary.ordinary[i%4].name || r.forwardedFor != "" || r.kind != KindOrdinary {
			t.Errorf("ordinary request %d: %+v", i, r)
		}
	}
}

// TestHeavyQueriesCostWhatTheyClaim counts the heavy mix's documents on the
// large dataset as the service does before executing (fastpath.Plan.Cost
// against MAX_COST_FACTOR's default times the whole configuration): the
// heaviest query and its variants are within the bound and compiled by the
// fast path, the back-reference is over it, and the ordinary queries are
// valid. The snapshot is the one the service would hold: the simulator
// served over loopback, read by tanmarket's client.
func TestHeavyQueriesCostWhatTheyClaim(t *testing.T) {
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	snap := fetchSnapshot(t, simulator.LargeDataset(largeSize[0], largeSize[1], largeSize[2]))
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	whole := fastpath.NewWhole(schema).Size(snap)
	limit := fastpath.Cost{Values: max(cfg.Limits.MaxCostFactor*whole.Values, limits.MinCost), Bytes: cfg.Limits.MaxResponseBytes}

	tests := []struct {
		name   string
		query  string
		within bool
	}{
		{"heaviest", heaviestQuery, true},
		{"variant", variantQuery(123456), true},
		{"back-reference", backRefQuery, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tt.query)
			if errs != nil {
				t.Fatal(errs)
			}
			plan, err := fastpath.Compile(schema, doc, "")
			if err != nil {
				t.Fatalf("not covered by the fast path: %v", err)
			}
			cost, within := plan.Cost(snap, nil, limit)
			if within != tt.within {
				t.Errorf("cost %+v, limit %+v (whole %+v): within = %v, want %v", cost, limit, whole, within, tt.within)
			}
			if tt.within && cost.Values < whole.Values/2 {
				t.Errorf("cost %+v of the whole %+v: not heavy", cost, whole)
			}
		})
	}
	for _, r := range ordinaryRequests(1004, largeStageID, largeFieldID) {
		if _, errs := gqlparser.LoadQuery(schema, queryOf(t, r)); errs != nil {
			t.Errorf("%s: %v", r.name, errs)
		}
	}
	if snap.Type(1004) == nil || snap.Field(1004, largeFieldID) == nil {
		t.Errorf("type 1004 or its field %d is not in the large dataset", largeFieldID)
	}
}

// queryOf is the document of an ordinary request.
func queryOf(t *testing.T, r request) string {
	t.Helper()
	if r.method == http.MethodGet {
		req := httptest.NewRequest(http.MethodGet, "/query?"+r.query, nil)
		return req.URL.Query().Get("query")
	}
	members, ok := topLevel([]byte(r.body))
	if !ok {
		t.Fatalf("%s: body %s", r.name, r.body)
	}
	var q string
	if err := json.Unmarshal(members["query"], &q); err != nil {
		t.Fatal(err)
	}
	return q
}

// fetchSnapshot serves data from the simulator on loopback and reads it with
// tanmarket's client under the service's default options.
func fetchSnapshot(t *testing.T, data []byte) *opportunity.Snapshot {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	recipe := signature.Default()
	upstream := httptest.NewServer(simulator.New(simulator.Options{Credentials: soakCredentials, Recipe: recipe, Dataset: data}))
	defer upstream.Close()
	client, err := tanmarket.NewClient(upstream.URL, soakCredentials, recipe, nil, tanmarket.Options{
		AttemptTimeout: cfg.UpstreamTimeout, Budget: cfg.UpstreamBudget, MaxRetries: &cfg.UpstreamRetries,
		BreakerFailures: cfg.BreakerFailures, BreakerCooldown: cfg.BreakerCooldown, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := client.OpportunityConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestJudge(t *testing.T) {
	data := result{outcome: OutcomeData, status: 200}
	refused := func(status int, code, retryAfter string) result {
		return result{outcome: OutcomeErrors, status: status, code: code, retryAfter: retryAfter}
	}
	tests := []struct {
		name string
		kind Kind
		give result
		ok   bool
	}{
		{"ordinary data", KindOrdinary, data, true},
		{"variant data", KindVariant, data, true},
		{"rate limited", KindVariant, refused(429, "RATE_LIMITED", "1"), true},
		{"rate limited without Retry-After", KindVariant, refused(429, "RATE_LIMITED", ""), false},
		{"overloaded", KindHeavy, refused(503, "OVERLOADED", "1"), true},
		{"overloaded without Retry-After", KindHeavy, refused(503, "OVERLOADED", ""), false},
		{"overloaded as 200", KindHeavy, refused(200, "OVERLOADED", ""), false},
		{"deadline", KindOrdinary, refused(200, "REQUEST_CANCELLED", ""), true},
		{"heaviest over the cost", KindHeavy, refused(200, "COST_LIMIT_EXCEEDED", ""), false},
		{"internal error", KindVariant, refused(500, "INTERNAL_SERVER_ERROR", ""), false},
		{"upstream unavailable", KindOrdinary, refused(200, "UPSTREAM_UNAVAILABLE", ""), false},
		{"back-ref refused", KindBackRef, refused(200, "COST_LIMIT_EXCEEDED", ""), true},
		{"back-ref answered", KindBackRef, data, false},
		{"back-ref rate limited", KindBackRef, refused(429, "RATE_LIMITED", "1"), false},
		{"back-ref with 400", KindBackRef, refused(400, "COST_LIMIT_EXCEEDED", ""), false},
		{"abandoned", KindAbandoned, result{outcome: OutcomeAbandoned}, true},
		{"abandoned but answered", KindAbandoned, data, true},
		{"abandoned but refused", KindAbandoned, refused(503, "OVERLOADED", "2"), true},
		{"not ours to abandon", KindVariant, result{outcome: OutcomeAbandoned}, false},
		{"no answer", KindOrdinary, result{outcome: OutcomeNoAnswer, err: errors.New("reset")}, false},
		{"a 404 page", KindOrdinary, result{outcome: OutcomeOther, status: 404}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why := judge(tt.kind, tt.give); (why == "") != tt.ok {
				t.Errorf("judge(%s, %+v) = %q, want ok %v", tt.kind, tt.give, why, tt.ok)
			}
		})
	}
}

// TestStatsCountOnlyUndocumented5xx: a 503 OVERLOADED with Retry-After is
// a documented refusal; a 500, or a 503 without Retry-After, is not; both
// fail the verdict's checks once a copy exists, and the undocumented answer
// is named.
func TestStatsCountOnlyUndocumented5xx(t *testing.T) {
	s := newStats()
	s.record(KindVariant, result{outcome: OutcomeErrors, status: 503, code: "OVERLOADED", retryAfter: "1"}, time.Millisecond, 0, true)
	s.record(KindVariant, result{outcome: OutcomeErrors, status: 429, code: "RATE_LIMITED", retryAfter: "3"}, time.Millisecond, 0, true)
	s.record(KindAbandoned, result{outcome: OutcomeAbandoned}, time.Millisecond, 0, true)
	rep := &Report{Config: DefaultConfig()}
	rep.add(s)
	if rep.FiveXXAfterData != 0 || rep.Unexpected != 0 || !rep.Pass() {
		t.Fatalf("documented refusals: 5xx %d, unexpected %d %q, checks %+v", rep.FiveXXAfterData, rep.Unexpected, rep.UnexpectedSample, rep.Checks())
	}
	if got := rep.ByKind[KindVariant].Answers; got["503 OVERLOADED"] != 1 || got["429 RATE_LIMITED"] != 1 {
		t.Errorf("variant answers %v", got)
	}
	if n := len(rep.ByPhase[0].Outcomes); rep.ByPhase[0].Outcomes[OutcomeAbandoned] != 1 || n != int(numOutcomes) {
		t.Errorf("phase outcomes %v", rep.ByPhase[0].Outcomes)
	}

	s.record(KindHeavy, result{outcome: OutcomeErrors, status: 503, code: "OVERLOADED"}, time.Millisecond, 0, true)
	s.record(KindHeavy, result{outcome: OutcomeErrors, status: 500, code: "INTERNAL_SERVER_ERROR"}, time.Millisecond, 0, false)
	rep = &Report{Config: DefaultConfig()}
	rep.add(s)
	if rep.FiveXXAfterData != 1 || rep.Unexpected != 2 || !strings.HasPrefix(rep.UnexpectedSample, "heaviest: HTTP 503 OVERLOADED without Retry-After") {
		t.Errorf("5xx %d, unexpected %d %q", rep.FiveXXAfterData, rep.Unexpected, rep.UnexpectedSample)
	}
	if rep.Pass() {
		t.Errorf("checks %+v: want a failure", rep.Checks())
	}
}

// TestChecks reads the verdict of reports built by hand.
func TestChecks(t *testing.T) {
	heavy := DefaultConfig()
	heavy.Mix, heavy.Large = MixHeavy, true
	ordinary := DefaultConfig()
	idle := func(after time.Duration) *BurstResult {
		return &BurstResult{Sent: burstSize, Measured: true, Idle: true, IdleAfter: after}
	}
	clean := proc.StopResult{}
	tests := []struct {
		name   string
		give   Report
		failed []string // the names of the checks that fail, in order
		absent []string // checks that are not part of the verdict
	}{
		{
			name:   "ordinary mix, all well",
			give:   Report{Config: ordinary, RSSStartKB: 100, RSSEndKB: 110, Stop: clean},
			absent: []string{"peak RSS", "CPU idle after 50 abandoned"},
		},
		{
			name:   "ordinary mix, RSS grew",
			give:   Report{Config: ordinary, RSSStartKB: 100, RSSEndKB: 130, Stop: clean},
			failed: []string{"RSS growth"},
		},
		{
			name:   "heavy mix: growth is not checked, the peak is",
			give:   Report{Config: heavy, RSSStartKB: 100, RSSEndKB: 300, PeakRSSKB: 250 << 10, PeakRSSLimitKB: 256 << 10, Burst: idle(300 * time.Millisecond), Stop: clean},
			absent: []string{"RSS growth"},
		},
		{
			name:   "heavy mix over the peak",
			give:   Report{Config: heavy, PeakRSSKB: 257 << 10, PeakRSSLimitKB: 256 << 10, Burst: idle(time.Second), Stop: clean},
			failed: []string{"peak RSS"},
		},
		{
			name:   "CPU idle too late",
			give:   Report{Config: heavy, PeakRSSKB: 100 << 10, PeakRSSLimitKB: 256 << 10, Burst: idle(1100 * time.Millisecond), Stop: clean},
			failed: []string{"CPU idle after 50 abandoned"},
		},
		{
			name: "CPU never idle",
			give: Report{Config: heavy, PeakRSSKB: 100 << 10, PeakRSSLimitKB: 256 << 10,
				Burst: &BurstResult{Sent: burstSize, Measured: true}, Stop: clean},
			failed: []string{"CPU idle after 50 abandoned"},
		},
		{
			name: "the query after the burst refused",
			give: Report{Config: heavy, PeakRSSKB: 100 << 10, PeakRSSLimitKB: 256 << 10,
				Burst: &BurstResult{Sent: burstSize, Measured: true, Idle: true, After: "no answer: reset"}, Stop: clean},
			failed: []string{"CPU idle after 50 abandoned"},
		},
		{
			name: "an undocumented answer in the burst",
			give: Report{Config: heavy, PeakRSSKB: 100 << 10, PeakRSSLimitKB: 256 << 10,
				Burst: &BurstResult{Sent: burstSize, Measured: true, Idle: true, Unexpected: 1, UnexpectedSample: "burst: HTTP 500"}, Stop: clean},
			failed: []string{"documented answers"},
		},
		{
			name:   "nothing measured: no /proc",
			give:   Report{Config: heavy, PeakRSSLimitKB: 256 << 10, Burst: &BurstResult{Sent: burstSize}, Stop: clean},
			absent: []string{"RSS growth"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failed []string
			names := map[string]bool{}
			for _, c := range tt.give.Checks() {
				names[c.Name] = true
				if !c.Pass {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(failed, ", ") != strings.Join(tt.failed, ", ") {
				t.Errorf("failed checks %q, want %q; checks %+v", failed, tt.failed, tt.give.Checks())
			}
			if tt.give.Pass() != (len(tt.failed) == 0) {
				t.Errorf("Pass = %v with failed %q", tt.give.Pass(), tt.failed)
			}
			for _, name := range tt.absent {
				if names[name] {
					t.Errorf("check %q is in the verdict", name)
				}
			}
			tt.give.Print(io.Discard) // prints whatever was measured
		})
	}
}

func TestPeakRSSLimit(t *testing.T) {
	tests := []struct {
		name     string
		large    bool
		max      int
		settings []string
		wantMiB  int64
	}{
		{"demo: unchecked", false, 0, nil, 0},
		{"large, fast path by default", true, 0, []string{"PORT=0"}, peakRSSFastMiB},
		{"large, fast path set", true, 0, []string{"FAST_PATH=true"}, peakRSSFastMiB},
		{"large, gqlgen", true, 0, []string{"FAST_PATH=false"}, peakRSSGqlgenMiB},
		{"asked for", false, 300, []string{"FAST_PATH=false"}, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Large, cfg.MaxPeakRSSMiB = tt.large, tt.max
			if got := cfg.peakRSSLimitKB(tt.settings); got != tt.wantMiB<<10 {
				t.Errorf("limit %d kB, want %d MiB", got, tt.wantMiB)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantClients int
		wantMix     string
		wantEnv     string
	}{
		{"defaults", nil, 16, MixOrdinary, "PORT=0 CACHE_TTL=2s RATE_LIMIT=0 BREAKER_COOLDOWN=5s UPSTREAM_TIMEOUT=1s UPSTREAM_BUDGET=3s"},
		{"heavy mix", []string{"-large", "-mix", "heavy"}, heavyClients, MixHeavy,
			"PORT=0 CACHE_TTL=2s RATE_LIMIT=0 BREAKER_COOLDOWN=5s UPSTREAM_TIMEOUT=1s UPSTREAM_BUDGET=3s TRUSTED_PROXIES=127.0.0.1,::1"},
		{"heavy mix, clients given", []string{"-mix", "heavy", "-clients", "4", "-env", "FAST_PATH=false"}, 4, MixHeavy,
			"PORT=0 CACHE_TTL=2s RATE_LIMIT=0 BREAKER_COOLDOWN=5s UPSTREAM_TIMEOUT=1s UPSTREAM_BUDGET=3s TRUSTED_PROXIES=127.0.0.1,::1 FAST_PATH=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok, err := parseConfig(append([]string{"soak"}, tt.args...), io.Discard)
			if !ok || err != nil {
				t.Fatalf("parse: %v %v", ok, err)
			}
			if cfg.Clients != tt.wantClients || cfg.Mix != tt.wantMix || cfg.validate() != nil {
				t.Errorf("clients %d, mix %q, validate %v", cfg.Clients, cfg.Mix, cfg.validate())
			}
			if got := strings.Join(serviceSettings(cfg), " "); got != tt.wantEnv {
				t.Errorf("settings %s\nwant     %s", got, tt.wantEnv)
			}
		})
	}
	cfg, _, _ := parseConfig([]string{"soak", "-mix", "nasty"}, io.Discard)
	if cfg.validate() == nil {
		t.Error("-mix nasty accepted")
	}
}

func TestFirstIdle(t *testing.T) {
	t0 := time.Unix(0, 0)
	series := func(cpuMs ...int) []cpuSample {
		out := make([]cpuSample, len(cpuMs))
		for i, ms := range cpuMs {
			out[i] = cpuSample{at: t0.Add(time.Duration(i) * 100 * time.Millisecond), cpu: time.Duration(ms) * time.Millisecond}
		}
		return out
	}
	tests := []struct {
		name    string
		give    []cpuSample
		wantIdx int
		wantOK  bool
	}{
		{"idle at once", series(0, 0, 0), 0, true},
		{"one tick in the window is idle", series(0, 10, 10), 0, true},
		{"two ticks are not", series(0, 10, 20, 30, 30, 30), 2, true},
		{"busy, then idle", series(0, 200, 400, 500, 510, 510), 3, true},
		{"a window not yet whole", series(0, 200, 400, 400), 0, false},
		{"busy throughout", series(0, 150, 300, 450, 600), 0, false},
		{"one sample", series(0), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, ok := firstIdle(tt.give, idleWindow, idleShare)
			if i != tt.wantIdx || ok != tt.wantOK {
				t.Errorf("firstIdle = %d, %v; want %d, %v", i, ok, tt.wantIdx, tt.wantOK)
			}
		})
	}
}

// TestDoAbandons: a request given up before its answer is abandoned, not
// "no answer"; one answered in time is classified. The server is an
// httptest one on loopback that answers after a delay.
func TestDoAbandons(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-For") == "10.0.0.1" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"errors":[{"message":"m","extensions":{"code":"OVERLOADED"}}]}`)
	}))
	defer srv.Close()
	defer close(release)
	l := newLoad(srv.URL, DefaultConfig(), ordinaryRequests(1004, 2321, 401))
	slow := request{name: "slow", kind: KindAbandoned, method: http.MethodPost, body: "{}", forwardedFor: "10.0.0.1", abandonAfter: time.Millisecond}
	if r := l.do(context.Background(), slow, new(bytes.Buffer)); r.outcome != OutcomeAbandoned {
		t.Errorf("slow request: %+v, want abandoned", r)
	}
	quick := request{name: "quick", kind: KindAbandoned, method: http.MethodPost, body: "{}", abandonAfter: time.Minute}
	r := l.do(context.Background(), quick, new(bytes.Buffer))
	if r.outcome != OutcomeErrors || r.code != "OVERLOADED" || r.retryAfter != "2" || judge(KindAbandoned, r) != "" {
		t.Errorf("quick request: %+v", r)
	}
}

func TestSampleValue(t *testing.T) {
	tests := []struct {
		line, name string
		want       float64
	}{
		{"go_goroutines 12", "go_goroutines", 12},
		{`go_goroutines{instance="a"} 7 1700000000`, "go_goroutines", 7},
		{"go_memstats_heap_inuse_bytes 1.2345e+08", "go_memstats_heap_inuse_bytes", 1.2345e+08},
		{"go_goroutines_total 3", "go_goroutines", -1},
		{"# HELP go_goroutines Number of goroutines", "go_goroutines", -1},
		{"go_goroutines", "go_goroutines", -1},
		{"go_goroutines NaN", "go_goroutines", -1},
	}
	for _, tt := range tests {
		if got := sampleValue(tt.line, tt.name); got != tt.want {
			t.Errorf("sampleValue(%q, %q) = %g, want %g", tt.line, tt.name, got, tt.want)
		}
	}
}
