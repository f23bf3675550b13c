package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/cli"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// Config is one benchmark run.
type Config struct {
	// Load is the duration (per target, query and round), warm-up (per
	// target and query), closed-loop connections (Clients, -conns), extra
	// service settings and, only when set, the throughput runs' CACHE_TTL,
	// as the soak also takes them. CacheTTL 0 passes no CACHE_TTL: the
	// service runs its default, as its users do.
	cli.Load
	Rounds  int           // interleaved rounds
	Latency time.Duration // the simulator's answer delay
	Cold    int           // sequential requests per query on the cold path
	// The refresh scenario: the upstream's data changes every RefreshEvery
	// and the service, response cache on, runs with CACHE_TTL=RefreshTTL;
	// each query is driven through it for RefreshDuration.
	RefreshDuration time.Duration
	RefreshEvery    time.Duration
	RefreshTTL      time.Duration
	Large           bool // also measure the large dataset
	// Replicas, when above 0, also runs that many replicas on one
	// redis-server (the replicas scenario, replicas.go); ReplicasOnly runs
	// that scenario alone.
	Replicas     int
	ReplicasOnly bool
	// Peers also runs Apollo Server 5 and Mercurius with graphql-jit
	// (peers/, installed with npm ci) on the same schema and data, beside
	// the ceiling and the service in the same rounds.
	Peers bool
	// LargeSize is LargeDataset's types, stages per type and fields per type.
	LargeSize [3]int
	// Pin runs the servers with `taskset -c 0`; the caller puts this process
	// on CPU 1 (main re-executes itself under taskset -c 1).
	Pin bool
	// Progress gets a line per step; nil discards.
	Progress io.Writer
}

// DefaultConfig returns the command's defaults.
func DefaultConfig() Config {
	return Config{
		Load: cli.Load{
			Duration: 10 * time.Second,
			Clients:  32,
			Warmup:   time.Second,
		},
		Rounds:          3,
		Latency:         20 * time.Millisecond,
		Cold:            100,
		RefreshDuration: 24 * time.Second,
		RefreshEvery:    3 * time.Second,
		RefreshTTL:      time.Second,
		LargeSize:       [3]int{40, 30, 150},
		Pin:             true,
	}
}

func (c Config) validate() error {
	load := c.Load
	if load.CacheTTL == 0 {
		// Not set: the service's own default. cli checks a TTL that is
		// passed on, and this one is not.
		load.CacheTTL = time.Second
	}
	errs := []error{load.Validate(clientsFlag)}
	if c.RefreshDuration <= 0 || c.RefreshEvery <= 0 || c.RefreshTTL < time.Millisecond {
		// CACHE_TTL takes whole milliseconds.
		errs = append(errs, errors.New("refresh duration and interval must be positive, the refresh TTL at least 1ms"))
	} else if c.Rounds > 0 && c.RefreshDuration/time.Duration(c.Rounds) < c.RefreshEvery {
		// The data changes every interval of each round: a shorter round
		// would measure no change at all.
		errs = append(errs, fmt.Errorf("refresh duration %s in %d rounds: each round must last at least the refresh interval %s", c.RefreshDuration, c.Rounds, c.RefreshEvery))
	}
	if c.Rounds < 1 {
		errs = append(errs, errors.New("rounds must be at least 1"))
	}
	if c.Latency < 0 {
		errs = append(errs, errors.New("latency must not be negative"))
	}
	if c.Replicas < 0 || (c.ReplicasOnly && c.Replicas == 0) {
		errs = append(errs, errors.New("replicas must not be negative, and -replicas-only needs -replicas"))
	}
	if c.Cold < 1 {
		errs = append(errs, errors.New("cold must be at least 1"))
	}
	for _, n := range c.LargeSize {
		if n < 1 {
			errs = append(errs, errors.New("large sizes must be positive"))
			break
		}
	}
	return errors.Join(errs...)
}

// Target names, in the order of the table.
const (
	targetCeiling  = "ceiling"
	targetCacheOn  = "cache on"
	targetCacheOff = "cache off"
	// targetGqlgen is the cache off with FAST_PATH=false: gqlgen executes
	// every query, as before the compiled fast path.
	targetGqlgen = "cache off, fast path off"
)

// serviceTarget is one configuration of the service in the throughput runs:
// its settings beside the bench's own.
type serviceTarget struct {
	name string
	env  []string
}

// serviceTargets are the configurations the throughput runs measure, in the
// order of the table: as shipped, without stored answers, and without stored
// answers or the compiled fast path.
func serviceTargets() []serviceTarget {
	return []serviceTarget{
		{targetCacheOn, nil},
		{targetCacheOff, []string{"RESPONSE_CACHE=false"}},
		{targetGqlgen, []string{"RESPONSE_CACHE=false", "FAST_PATH=false"}},
	}
}

// targetNames are the table's targets, in its order.
func targetNames() []string {
	names := []string{targetCeiling}
	for _, t := range serviceTargets() {
		names = append(names, t.name)
	}
	return names
}

// notModifiedQuery names the conditional GET answered 304.
const notModifiedQuery = "etag-304"

// Row is one target's result for one query over all rounds.
type Row struct {
	Query, Target string
	Bytes         int           // response body
	Requests      int64         // measured, all rounds
	ReqPerSec     float64       // requests / elapsed, all rounds
	RoundRates    []float64     // req/s of each round
	P50, P99      time.Duration // over every measured request
	Ratio         float64       // ReqPerSec / the ceiling's; 0 for the ceiling
	UpstreamCalls int64         // simulator calls while measuring
	ServerCPU     float64       // cores the target used while measuring
	ClientCPU     float64       // cores this process used while measuring
	OtherCPU      float64       // cores the rest of the machine used meanwhile
	CPUPerRequest time.Duration // the target's CPU time per request
	RSSKB, HWMKB  int64         // VmRSS after the last round, VmHWM
	// Life is how long the target had been running at the end of its last
	// round: a service refreshes at most once per CACHE_TTL of it.
	Life time.Duration
	// Overloaded counts the requests the service refused with 503
	// OVERLOADED (EXECUTION_MEMORY), not in Requests, rates or latencies.
	Overloaded int64
}

// BytesPerSec is the response bytes served per second.
func (r Row) BytesPerSec() float64 { return r.ReqPerSec * float64(r.Bytes) }

// Spread is half the range of the round rates over their mean.
func (r Row) Spread() float64 {
	if len(r.RoundRates) < 2 || r.ReqPerSec == 0 {
		return 0
	}
	return (slices.Max(r.RoundRates) - slices.Min(r.RoundRates)) / 2 / r.ReqPerSec
}

// ColdRow is the cold path of one query: every request refreshes.
type ColdRow struct {
	Query         string
	Requests      int
	UpstreamCalls int64
	P50, P99      time.Duration
	// CeilingP50 is the ceiling's p50 when it makes the same upstream call
	// before answering: the upstream's latency plus one HTTP hop.
	CeilingP50 time.Duration
}

// RefreshRow is one query driven while the upstream's data changes.
type RefreshRow struct {
	Query     string
	Bytes     int // the old data's answer (the demo dataset's)
	Requests  int64
	ReqPerSec float64
	Elapsed   time.Duration
	// P50, P99 and Max are over every measured answer, non-2xx included.
	P50, P99, Max time.Duration
	// Non2xx counts answers with a status outside 2xx; FirstNon2xx is the
	// first one's status and the start of its body.
	Non2xx      int64
	FirstNon2xx string
	// Answered counts the answers of each content, old (the demo dataset)
	// and changed: both being served shows the versions reached clients.
	Answered      [2]int64
	UpstreamCalls int64
	// Allowed is the most upstream calls one refresh per CACHE_TTL makes
	// in the run's rounds.
	Allowed int64
	// DataChanges counts the simulator's changes of data while measuring;
	// Versions, the distinct configuration versions /readyz reported.
	DataChanges, Versions int
	ServerCPU             float64
	RSSKB, HWMKB          int64
	// Steady is the service as shipped on data that does not change,
	// driven in rounds interleaved with these.
	Steady Steady
}

// Steady is the steady service's load beside the refresh scenario's.
type Steady struct {
	ReqPerSec     float64
	P50, P99, Max time.Duration
}

// Report is what a run measured.
type Report struct {
	Config     Config
	Started    time.Time
	Machine    string   // CPU model and count
	Pinning    string   // how processes were placed
	ServiceEnv []string // the throughput services' environment, upstream and credentials left out
	Demo       []Row
	Large      []Row // with Config.Large
	LargeBytes int   // size of the large dataset
	DemoBytes  int
	Cold       []ColdRow
	Refresh    []RefreshRow
	// TTL is the throughput services' CACHE_TTL as they read it: their
	// default unless -cache-ttl or -env set one.
	TTL time.Duration
	// BareUpstream is the p50 of signed POSTs sent straight to the simulator
	// from this process: its latency plus timer and loopback overhead.
	BareUpstream   time.Duration
	AccessLogLines int64 // lines the throughput services wrote (the access log is on, as shipped)
	Elapsed        time.Duration
	// PeerVersions names node and the peers' packages as installed; set
	// with Config.Peers.
	PeerVersions string
	// Replicas and SharedTTL are the replicas scenario's (Config.Replicas).
	Replicas  []ReplicaRow
	SharedTTL *SharedTTL
}

// benchCredentials are what the simulator accepts and the service is given.
// They guard nothing: both ends live only as long as the run.
var benchCredentials = signature.Credentials{
	AppID:     "bench-app",
	AppKey:    signature.NewSecret("bench-key"),
	AppSecret: signature.NewSecret("bench-secret"),
}

// queryNames are the benchmark queries, testdata/queries/NAME.graphql, in
// table order.
var queryNames = []string{"dropdown", "full", "lookup", "default"}

// loadRequests reads the benchmark queries as POSTs, plus the conditional
// GET of the default query (its If-None-Match is filled in once the ETag is
// known).
func loadRequests(root string) ([]request, error) {
	var reqs []request
	for _, name := range queryNames {
		doc, err := os.ReadFile(filepath.Join(root, "testdata", "queries", name+".graphql"))
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(map[string]string{"query": string(doc)})
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, request{name: name, method: http.MethodPost, body: string(body)})
		if name == "default" {
			reqs = append(reqs, request{name: notModifiedQuery, method: http.MethodGet,
				rawQuery: url.Values{"query": {string(doc)}}.Encode()})
		}
	}
	return reqs, nil
}

func pick(reqs []request, names ...string) []request {
	var out []request
	for _, r := range reqs {
		if slices.Contains(names, r.name) {
			out = append(out, r)
		}
	}
	return out
}

// ceilingPackage is the ceiling's package, relative to the module root.
const ceilingPackage = "./internal/tools/bench/ceiling"

// binaries are what Run builds, and with Config.Peers what runs the peers.
type binaries struct {
	service, ceiling string
	peers            peerRuntime
}

// Run builds the service and the ceiling, starts the simulator, measures, and
// reports. It returns an error when the benchmark could not run; what it
// measured is in the report whatever the targets say.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{Config: cfg, Started: time.Now(), Machine: proc.Machine(), Pinning: pinning(cfg.Pin)}

	root, err := proc.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	reqs, err := loadRequests(root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "oppconfig-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(progress, "bench: building the service and the ceiling")
	var bins binaries
	if bins.service, err = proc.Build(ctx, tmp, "."); err != nil {
		return nil, err
	}
	if bins.ceiling, err = proc.Build(ctx, tmp, ceilingPackage); err != nil {
		return nil, err
	}
	if cfg.Peers {
		fmt.Fprintf(progress, "bench: installing the peers (%s, npm ci)\n", peersDir)
		if bins.peers, err = installPeers(ctx, root); err != nil {
			return nil, err
		}
		rep.PeerVersions = bins.peers.versions
	}

	// Compact, as the simulator sends it by default and as an API answers:
	// dataset.json is indented for reading. The bench holds the bytes
	// because the refresh scenario derives its data from them.
	var compact bytes.Buffer
	if err := json.Compact(&compact, simulator.DemoDataset()); err != nil {
		return nil, fmt.Errorf("demo dataset: %w", err)
	}
	demo := compact.Bytes()
	rep.DemoBytes = len(demo)
	sim, simURL, closeSim, err := startSimulator(demo, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer closeSim()
	rep.ServiceEnv = serviceEnv(cfg, "")
	if rep.TTL, err = serviceTTL(serviceEnv(cfg, simURL)); err != nil {
		return nil, err
	}

	m := &measurer{cfg: cfg, bins: bins, dir: tmp, progress: progress}
	if cfg.ReplicasOnly {
		return m.replicasOnly(ctx, rep, sim, simURL, reqs)
	}
	var answers map[string]answer
	rep.Demo, answers, rep.AccessLogLines, err = m.measure(ctx, "demo", sim, simURL, reqs, demo)
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(progress, "bench: cold path, CACHE_TTL=CACHE_MAX_STALE=1ms, UPSTREAM_RATE_LIMIT=0, %d sequential requests per query\n", cfg.Cold)
	if rep.BareUpstream, err = bareUpstream(ctx, simURL, cfg.Cold); err != nil {
		return nil, err
	}
	if rep.Cold, err = m.cold(ctx, sim, simURL, pick(reqs, "dropdown", "full"), answers); err != nil {
		return nil, err
	}

	fmt.Fprintf(progress, "bench: refresh scenario, CACHE_TTL=%s, the upstream's data changing every %s, %s per query\n",
		cfg.RefreshTTL, cfg.RefreshEvery, cfg.RefreshDuration)
	if rep.Refresh, err = m.refresh(ctx, demo, simURL, pick(reqs, queryNames...), answers); err != nil {
		return nil, err
	}

	if cfg.Replicas > 0 {
		fmt.Fprintf(progress, "bench: %d replicas on one redis-server, beside a single one\n", cfg.Replicas)
		if rep.Replicas, rep.SharedTTL, err = m.replicas(ctx, sim, simURL, pick(reqs, "dropdown", "full"), answers); err != nil {
			return nil, err
		}
	}

	if cfg.Large {
		large := simulator.LargeDataset(cfg.LargeSize[0], cfg.LargeSize[1], cfg.LargeSize[2])
		rep.LargeBytes = len(large)
		lsim, lURL, closeLarge, err := startSimulator(large, cfg.Latency)
		if err != nil {
			return nil, err
		}
		defer closeLarge()
		var lines int64
		rep.Large, _, lines, err = m.measure(ctx, "large", lsim, lURL, pick(reqs, "dropdown", "full"), large)
		if err != nil {
			return nil, err
		}
		rep.AccessLogLines += lines
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

func startSimulator(dataset []byte, latency time.Duration) (*simulator.Simulator, string, func(), error) {
	sim := simulator.New(simulator.Options{Credentials: benchCredentials, Recipe: signature.Default(), Dataset: dataset})
	sim.SetLatency(latency)
	simURL, closeSim, err := proc.ServeLoopback(sim)
	if err != nil {
		return nil, "", nil, fmt.Errorf("start simulator: %w", err)
	}
	return sim, simURL, closeSim, nil
}

// serviceEnv is the service's environment: the upstream (left out when
// simURL is ""), then the settings, as shipped but for these and for
// cfg.ServiceEnv, then extra, which the run needs whatever -env says (the
// cache off, the cold path's and the refresh scenario's TTL). RATE_LIMIT=0
// and EXECUTION_RATE=0 (the request limit and its counterpart for
// executions) because the load is a few clients on one address asking far
// more than any user would;
// CACHE_TTL only when -cache-ttl asks for one: the service's default is
// what users run.
func serviceEnv(cfg Config, simURL string, extra ...string) []string {
	var env []string
	if simURL != "" {
		env = proc.UpstreamEnv(simURL, benchCredentials)
	}
	env = append(env, "PORT=0", "LOG_FORMAT=json", "RATE_LIMIT=0", "EXECUTION_RATE=0")
	if cfg.CacheTTL > 0 {
		env = append(env, "CACHE_TTL="+cfg.CacheTTL.String())
	}
	return proc.MergeEnv(proc.MergeEnv(env, cfg.ServiceEnv...), extra...)
}

// serviceTTL is the CACHE_TTL the service reads from env: the value set
// there, or the default internal/config documents.
func serviceTTL(env []string) (time.Duration, error) {
	vars := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	c, err := config.Load(func(name string) string { return vars[name] })
	if err != nil {
		return 0, fmt.Errorf("the service's settings: %w", err)
	}
	return c.CacheTTL, nil
}

// measurer runs the servers of one dataset and drives them.
type measurer struct {
	cfg      Config
	bins     binaries
	dir      string
	progress io.Writer
}

// target is a running server under test.
type target struct {
	name string
	p    *proc.Process
}

func (m *measurer) cpus() string {
	if m.cfg.Pin {
		return "0"
	}
	return ""
}

func (m *measurer) startService(ctx context.Context, name string, env []string) (*target, error) {
	p, err := proc.Start(ctx, m.bins.service, nil, proc.Options{Env: env, CPUs: m.cpus()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := waitReady(ctx, p.Base, 30*time.Second); err != nil {
		p.Kill()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, p.Tail())
	}
	return &target{name: name, p: p}, nil
}

// measure starts the service in each of serviceTargets' configurations and
// the ceiling, checks that all give the same answers, warms up, and runs the
// interleaved rounds. With Config.Peers it starts the peers on data (the
// dataset the simulator serves) as well, checks that their answers are
// JSON-equal to the service's, and drives them in the same rounds on the
// POST queries. It returns the rows, the answers by query, and the
// services' log lines written meanwhile.
func (m *measurer) measure(ctx context.Context, label string, sim *simulator.Simulator, simURL string, reqs []request, data []byte) ([]Row, map[string]answer, int64, error) {
	cfg := m.cfg
	also := ""
	if cfg.Peers {
		also = ", the peers"
	}
	fmt.Fprintf(m.progress, "bench: %s dataset: starting the service (cache on; cache off; cache and fast path off)%s and the ceiling\n", label, also)
	started := map[string]time.Time{}
	var services []*target
	for _, st := range serviceTargets() {
		started[st.name] = time.Now()
		t, err := m.startService(ctx, st.name, serviceEnv(cfg, simURL, st.env...))
		if err != nil {
			return nil, nil, 0, err
		}
		defer stop(t)
		services = append(services, t)
	}
	on := services[0]

	// The answers, from the service as shipped; the others must agree byte
	// for byte (the promise of the response cache and of the fast path).
	reqs = slices.Clone(reqs)
	answers := map[string]answer{}
	for i, r := range reqs {
		if r.name == notModifiedQuery {
			first, err := fetch(ctx, on.p.Base, r)
			if err != nil {
				return nil, nil, 0, err
			}
			etag := first.header.Get("ETag")
			if first.status != http.StatusOK || etag == "" {
				return nil, nil, 0, fmt.Errorf("GET of the default query: HTTP %d, ETag %q; want 200 with an ETag", first.status, etag)
			}
			reqs[i].ifNoneMatch = etag
			r = reqs[i]
		}
		a, err := fetch(ctx, on.p.Base, r)
		if err != nil {
			return nil, nil, 0, err
		}
		wantStatus := http.StatusOK
		if r.ifNoneMatch != "" {
			wantStatus = http.StatusNotModified
		}
		if err := checkData(a, wantStatus); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", r.name, err)
		}
		for _, t := range services[1:] {
			b, err := fetch(ctx, t.p.Base, r)
			if err != nil {
				return nil, nil, 0, err
			}
			if b.status != a.status || string(b.body) != string(a.body) {
				return nil, nil, 0, fmt.Errorf("%s: the service answers differently %s (HTTP %d, %d bytes) and as shipped (HTTP %d, %d bytes)", r.name, t.name, b.status, len(b.body), a.status, len(a.body))
			}
		}
		answers[r.name] = a
	}

	started[targetCeiling] = time.Now()
	ceil, err := m.startCeiling(ctx, label, reqs, answers, "")
	if err != nil {
		return nil, nil, 0, err
	}
	defer stop(ceil)
	for _, r := range reqs {
		a, err := fetch(ctx, ceil.p.Base, r)
		if err != nil {
			return nil, nil, 0, err
		}
		if want := answers[r.name]; a.status != want.status || string(a.body) != string(want.body) {
			return nil, nil, 0, fmt.Errorf("ceiling: %s: HTTP %d with %d bytes, want %d with %d", r.name, a.status, len(a.body), want.status, len(want.body))
		}
	}
	names := targetNames()
	// wants are the answers each target must give, byte for byte: the
	// service's, but for the peers, whose own bytes (JSON-equal to the
	// service's) startPeers fetched. A query a target has none for is not
	// driven on it.
	wants := map[[2]string][]answer{}
	for _, r := range reqs {
		for _, name := range names {
			wants[[2]string{r.name, name}] = []answer{answers[r.name]}
		}
	}
	peers, err := m.startPeers(ctx, label, data, reqs, answers, wants)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, p := range peers {
		defer stop(p)
		started[p.name] = time.Now()
		names = append(names, p.name)
	}
	targets := slices.Concat([]*target{ceil}, services, peers)
	logLines := func() int64 {
		var n int64
		for _, t := range services {
			n += t.p.LogLines()
		}
		return n
	}
	linesBefore := logLines()

	if cfg.Warmup > 0 {
		fmt.Fprintf(m.progress, "bench: %s: warm-up, %s per target and query\n", label, cfg.Warmup)
		for _, r := range reqs {
			for _, t := range targets {
				want, ok := wants[[2]string{r.name, t.name}]
				if !ok {
					continue
				}
				if _, err := drive(ctx, loop{base: t.p.Base, pid: t.p.PID(), req: r, want: want, conns: cfg.Clients, d: cfg.Warmup, countOverloaded: slices.Contains(services, t)}); err != nil {
					return nil, nil, 0, fmt.Errorf("warm-up of %s: %w", t.name, err)
				}
			}
		}
	}

	type acc struct {
		row       Row
		lat       []time.Duration
		elapsed   time.Duration
		serverCPU time.Duration
		clientCPU time.Duration
		otherCPU  time.Duration
	}
	accs := map[[2]string]*acc{}
	for key, want := range wants {
		accs[key] = &acc{row: Row{Query: key[0], Target: key[1], Bytes: len(want[0].body)}}
	}
	for round := range cfg.Rounds {
		// The order of the targets turns each round, so that none always
		// runs first, or right after the same neighbour.
		order := append(slices.Clone(targets[round%len(targets):]), targets[:round%len(targets)]...)
		for _, r := range reqs {
			for _, t := range order {
				want, ok := wants[[2]string{r.name, t.name}]
				if !ok {
					continue
				}
				calls := sim.Calls()
				s, err := drive(ctx, loop{base: t.p.Base, pid: t.p.PID(), req: r, want: want, conns: cfg.Clients, d: cfg.Duration, countOverloaded: slices.Contains(services, t)})
				if err != nil {
					return nil, nil, 0, fmt.Errorf("%s, round %d: %w\n%s", t.name, round+1, err, t.p.Tail())
				}
				a := accs[[2]string{r.name, t.name}]
				a.row.UpstreamCalls += sim.Calls() - calls
				a.row.Requests += s.requests
				a.row.Overloaded += s.overloaded
				rate := float64(s.requests) / s.elapsed.Seconds()
				a.row.RoundRates = append(a.row.RoundRates, rate)
				a.lat = append(a.lat, s.latencies...)
				a.elapsed += s.elapsed
				a.serverCPU += s.serverCPU
				a.clientCPU += s.clientCPU
				a.otherCPU += s.otherCPU
				a.row.RSSKB = t.p.RSSKB()
				a.row.HWMKB = t.p.PeakRSSKB()
				a.row.Life = time.Since(started[t.name])
				fmt.Fprintf(m.progress, "bench: %s round %d/%d  %-8s  %-24s  %8.0f req/s  p99 %s  server CPU %3.0f%%  other CPU %3.0f%%\n",
					label, round+1, cfg.Rounds, r.name, t.name, rate, roundLatency(percentile(sortedCopy(s.latencies), 99)),
					100*s.serverCPU.Seconds()/s.elapsed.Seconds(), 100*s.otherCPU.Seconds()/s.elapsed.Seconds())
			}
		}
	}

	var rows []Row
	for _, r := range reqs {
		ceiling := accs[[2]string{r.name, targetCeiling}]
		for _, name := range names {
			a, ok := accs[[2]string{r.name, name}]
			if !ok {
				continue
			}
			row := a.row
			secs := a.elapsed.Seconds()
			row.ReqPerSec = float64(row.Requests) / secs
			slices.Sort(a.lat)
			row.P50, row.P99 = percentile(a.lat, 50), percentile(a.lat, 99)
			row.ServerCPU = a.serverCPU.Seconds() / secs
			row.ClientCPU = a.clientCPU.Seconds() / secs
			row.OtherCPU = a.otherCPU.Seconds() / secs
			if row.Requests > 0 {
				row.CPUPerRequest = a.serverCPU / time.Duration(row.Requests)
			}
			if name != targetCeiling {
				row.Ratio = row.ReqPerSec / (float64(ceiling.row.Requests) / ceiling.elapsed.Seconds())
			}
			rows = append(rows, row)
		}
	}
	return rows, answers, logLines() - linesBefore, nil
}

// checkData checks a benchmark answer: the status wanted, and for a 200 a
// GraphQL result with data and no errors.
func checkData(a answer, wantStatus int) error {
	if a.status != wantStatus || (wantStatus == http.StatusOK && !bytes.HasPrefix(a.body, []byte(`{"data":`))) || bytes.Contains(a.body, []byte(`"errors"`)) {
		return fmt.Errorf("HTTP %d %.300s; want %d with data", a.status, a.body, wantStatus)
	}
	return nil
}

// startCeiling writes the canned answers and starts the ceiling on them;
// with an upstream, the ceiling calls it before each answer.
func (m *measurer) startCeiling(ctx context.Context, label string, reqs []request, answers map[string]answer, upstreamURL string) (*target, error) {
	type canned struct { // the ceiling's Canned
		Method, Body, RawQuery, IfNoneMatch string
		Status                              int
		Header                              http.Header
		ResponseBody                        []byte
	}
	var table []canned
	for _, r := range reqs {
		a := answers[r.name]
		h := a.header.Clone()
		h.Del("Date")
		h.Del("Content-Length")
		table = append(table, canned{Method: r.method, Body: r.body, RawQuery: r.rawQuery, IfNoneMatch: r.ifNoneMatch,
			Status: a.status, Header: h, ResponseBody: a.body})
	}
	b, err := json.Marshal(table)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(m.dir, "ceiling-"+label+".json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	args, opts := []string{"-responses", file}, proc.Options{CPUs: m.cpus()}
	if upstreamURL != "" {
		// The ceiling reads the credentials as the service does; it takes
		// the URL from -upstream and ignores UPSTREAM_URL.
		args = append(args, "-upstream", upstreamURL)
		opts.Env = proc.UpstreamEnv(upstreamURL, benchCredentials)
	}
	p, err := proc.Start(ctx, m.bins.ceiling, args, opts)
	if err != nil {
		return nil, err
	}
	return &target{name: targetCeiling, p: p}, nil
}

// coldTTL is the cold path's CACHE_TTL and CACHE_MAX_STALE: together shorter
// than the pause before each request, so that every request finds no copy it
// may serve and waits for the upstream (with a longer max-stale, a copy is
// served at once while it is refreshed in the background, and no request
// waits: stale-while-revalidate).
const coldTTL = time.Millisecond

// cold measures requests that each wait for a fetch of the configuration:
// CACHE_TTL=CACHE_MAX_STALE=1ms, one connection, a pause of a few ms before
// each request so that the copy is too old to serve when it comes. The
// ceiling, calling the upstream before each answer, is measured the same way
// beside it. UPSTREAM_RATE_LIMIT=0: the path measured is one fetch per
// request, hundreds a second, which the shipped call budget (5 a second)
// would turn into a measure of the budget.
func (m *measurer) cold(ctx context.Context, sim *simulator.Simulator, simURL string, reqs []request, answers map[string]answer) ([]ColdRow, error) {
	cfg := m.cfg
	svc, err := m.startService(ctx, "cold", serviceEnv(cfg, simURL, "CACHE_TTL="+coldTTL.String(), "CACHE_MAX_STALE="+coldTTL.String(), "UPSTREAM_RATE_LIMIT=0"))
	if err != nil {
		return nil, err
	}
	defer stop(svc)
	ceil, err := m.startCeiling(ctx, "cold", reqs, answers, simURL)
	if err != nil {
		return nil, err
	}
	defer stop(ceil)
	// Most refreshes bring the bytes of the last one, which the client does
	// not decode again; the respelled run makes every refresh decode.
	type run struct {
		r       request
		label   string
		respell bool
	}
	var runs []run
	for _, r := range reqs {
		runs = append(runs, run{r, r.name, false})
	}
	if len(reqs) > 0 {
		runs = append(runs, run{reqs[0], reqs[0].name + ", new bytes each refresh", true})
	}
	var rows []ColdRow
	for _, c := range runs {
		sim.SetRespell(c.respell)
		calls := sim.Calls()
		lat, err := sequential(ctx, svc.p.Base, c.r, answers[c.r.name], cfg.Cold, 3*time.Millisecond)
		if err != nil {
			return nil, err
		}
		row := ColdRow{Query: c.label, Requests: len(lat), UpstreamCalls: sim.Calls() - calls}
		slices.Sort(lat)
		row.P50, row.P99 = percentile(lat, 50), percentile(lat, 99)
		if lat, err = sequential(ctx, ceil.p.Base, c.r, answers[c.r.name], cfg.Cold, 3*time.Millisecond); err != nil {
			return nil, fmt.Errorf("ceiling: %w", err)
		}
		slices.Sort(lat)
		row.CeilingP50 = percentile(lat, 50)
		rows = append(rows, row)
	}
	sim.SetRespell(false)
	return rows, nil
}

// refreshVariants returns the two contents the refresh scenario alternates
// between: changed, demo with every type's name and its first stage's name
// edited (each benchmark query selects one of them, so every answer changes
// with the data), and demo itself, whose answers the throughput runs
// fetched. They go through wire's types, the one spelling of the shape.
func refreshVariants(demo []byte) (changed, old []byte, err error) {
	var types []wire.Type
	if err := json.Unmarshal(demo, &types); err != nil {
		return nil, nil, fmt.Errorf("demo dataset: %w", err)
	}
	for i := range types {
		types[i].TypeName += "（修订）"
		if len(types[i].Stages) > 0 {
			types[i].Stages[0].Name += "（修订）"
		}
	}
	if changed, err = json.Marshal(types); err != nil {
		return nil, nil, err
	}
	return changed, demo, nil
}

// generation is the data the simulator serves at the n-th change: the
// variants in turn, each with n spaces after its opening bracket. The spaces
// change no answer but are part of data's bytes, whose hash is the
// version: every change is then a version the service has not seen, as a
// real edit would be, rather than a return to one whose answers it may still
// hold.
func generation(variants [2][]byte, n int) []byte {
	v := variants[n%2]
	return slices.Concat(v[:1], bytes.Repeat([]byte(" "), n), v[1:])
}

// refresh is the refresh scenario: the service as shipped but for
// CACHE_TTL=RefreshTTL, against a simulator of its own whose data changes
// every RefreshEvery, each query in reqs driven for RefreshDuration in a
// closed loop. Every answer must be the old data's (old, from the throughput
// runs) or the changed data's, fetched first; answers outside 2xx are
// counted, not fatal, for the report to say how many. Beside it, in
// interleaved rounds, the steady service: as shipped, on the demo
// simulator at demoURL, whose data does not change.
func (m *measurer) refresh(ctx context.Context, demo []byte, demoURL string, reqs []request, old map[string]answer) ([]RefreshRow, error) {
	cfg := m.cfg
	changed, oldData, err := refreshVariants(demo)
	if err != nil {
		return nil, err
	}
	variants := [2][]byte{changed, oldData}
	n := 0 // generations served so far
	sim, simURL, closeSim, err := startSimulator(generation(variants, n), cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer closeSim()
	svc, err := m.startService(ctx, "refresh", serviceEnv(cfg, simURL, "CACHE_TTL="+cfg.RefreshTTL.String()))
	if err != nil {
		return nil, err
	}
	defer stop(svc)
	steady, err := m.startService(ctx, "steady", serviceEnv(cfg, demoURL))
	if err != nil {
		return nil, err
	}
	defer stop(steady)

	// The service has fetched the changed data, generation 0: its answers
	// are the other half of what the load accepts.
	news := map[string]answer{}
	for _, r := range reqs {
		a, err := fetch(ctx, svc.p.Base, r)
		if err != nil {
			return nil, err
		}
		if err := checkData(a, http.StatusOK); err != nil {
			return nil, fmt.Errorf("refresh scenario, %s: %w", r.name, err)
		}
		if bytes.Equal(a.body, old[r.name].body) {
			return nil, fmt.Errorf("refresh scenario, %s: the changed data gives the old answer; the change must show in every query", r.name)
		}
		news[r.name] = a
	}

	per := cfg.RefreshDuration / time.Duration(cfg.Rounds)
	var rows []RefreshRow
	for _, r := range reqs {
		through := loop{base: svc.p.Base, pid: svc.p.PID(), req: r, want: []answer{old[r.name], news[r.name]}, conns: cfg.Clients, countNon2xx: true}
		still := loop{base: steady.p.Base, pid: steady.p.PID(), req: r, want: []answer{old[r.name]}, conns: cfg.Clients}
		if cfg.Warmup > 0 {
			for _, l := range []loop{through, still} {
				l.d = cfg.Warmup
				if _, err := drive(ctx, l); err != nil {
					return nil, fmt.Errorf("refresh scenario, warm-up: %w", err)
				}
			}
		}
		row := RefreshRow{Query: r.name, Bytes: len(old[r.name].body)}
		var lat, steadyLat []time.Duration
		var serverCPU, steadyElapsed time.Duration
		var steadyRequests int64
		versions := map[string]bool{}
		still.d = per
		runSteady := func() error {
			s, err := drive(ctx, still)
			if err != nil {
				return fmt.Errorf("refresh scenario, steady: %w\n%s", err, steady.p.Tail())
			}
			steadyLat, steadyElapsed, steadyRequests = append(steadyLat, s.latencies...), steadyElapsed+s.elapsed, steadyRequests+s.requests
			return nil
		}
		for round := range cfg.Rounds {
			// The steady service first on odd rounds: neither always
			// follows the other.
			if round%2 == 1 {
				if err := runSteady(); err != nil {
					return nil, err
				}
			}
			changer, cancel := context.WithCancel(ctx)
			changes := make(chan changeStats, 1)
			go func() { changes <- changeData(changer, sim, svc.p.Base, variants, n, cfg.RefreshEvery) }()
			calls := sim.Calls()
			through.d = per
			s, err := drive(ctx, through)
			cancel()
			cs := <-changes
			n += cs.changes
			if err != nil {
				return nil, fmt.Errorf("refresh scenario: %w\n%s", err, svc.p.Tail())
			}
			if cs.err != nil {
				return nil, fmt.Errorf("refresh scenario, %s: %w", r.name, cs.err)
			}
			row.Requests += s.requests
			row.Elapsed += s.elapsed
			row.Non2xx += s.non2xx
			if row.FirstNon2xx == "" {
				row.FirstNon2xx = s.firstNon2xx
			}
			row.Answered[0] += s.matched[0]
			row.Answered[1] += s.matched[1]
			row.UpstreamCalls += sim.Calls() - calls
			row.Allowed += refreshesAllowed(s.elapsed, cfg.RefreshTTL)
			row.DataChanges += cs.changes
			for _, v := range cs.versions {
				versions[v] = true
			}
			lat = append(lat, s.latencies...)
			serverCPU += s.serverCPU
			if round%2 == 0 {
				if err := runSteady(); err != nil {
					return nil, err
				}
			}
		}
		slices.Sort(lat)
		slices.Sort(steadyLat)
		row.ReqPerSec = float64(row.Requests) / row.Elapsed.Seconds()
		row.P50, row.P99, row.Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
		row.Versions = len(versions)
		row.ServerCPU = serverCPU.Seconds() / row.Elapsed.Seconds()
		row.RSSKB, row.HWMKB = svc.p.RSSKB(), svc.p.PeakRSSKB()
		row.Steady = Steady{ReqPerSec: float64(steadyRequests) / steadyElapsed.Seconds(),
			P50: percentile(steadyLat, 50), P99: percentile(steadyLat, 99), Max: percentile(steadyLat, 100)}
		fmt.Fprintf(m.progress, "bench: refresh  %-8s  %8.0f req/s  p99 %s  max %s  non-2xx %d  upstream calls %d  data changes %d  versions %d  (steady: %.0f req/s, p99 %s)\n",
			r.name, row.ReqPerSec, roundLatency(row.P99), roundLatency(row.Max), row.Non2xx, row.UpstreamCalls, row.DataChanges, row.Versions,
			row.Steady.ReqPerSec, roundLatency(row.Steady.P99))
		rows = append(rows, row)
	}
	return rows, nil
}

// changeStats is what changeData did and saw.
type changeStats struct {
	changes  int      // SetDataset calls
	versions []string // the configVersion values /readyz reported, each once
	err      error    // the first /readyz failure
}

// changeData, until ctx ends, gives sim the next generation of the data
// every interval, the first after generation last, and meanwhile polls the
// service's /readyz, often enough to see every version it takes up, for
// the versions it serves.
func changeData(ctx context.Context, sim *simulator.Simulator, base string, variants [2][]byte, last int, interval time.Duration) changeStats {
	var st changeStats
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	poll := time.NewTicker(min(50*time.Millisecond, interval/4))
	defer poll.Stop()
	change := time.NewTicker(interval)
	defer change.Stop()
	for {
		v, err := readyVersion(ctx, client, base)
		switch {
		case ctx.Err() != nil:
			return st
		case err != nil && st.err == nil:
			st.err = err
		case err == nil && !slices.Contains(st.versions, v):
			st.versions = append(st.versions, v)
		}
		select {
		case <-ctx.Done():
		case <-change.C:
			st.changes++
			sim.SetDataset(generation(variants, last+st.changes))
		case <-poll.C:
		}
	}
}

// readyVersion is the configuration version the service's /readyz names.
func readyVersion(ctx context.Context, client *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		ConfigVersion string `json:"configVersion"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.ConfigVersion == "" {
		return "", fmt.Errorf("/readyz: HTTP %d without a configVersion (%v)", resp.StatusCode, err)
	}
	return body.ConfigVersion, nil
}

// bareUpstream is the p50 of n signed POSTs sent straight to the simulator.
func bareUpstream(ctx context.Context, simURL string, n int) (time.Duration, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	recipe := signature.Default()
	lat := make([]time.Duration, 0, n)
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, simURL+simulator.Path, strings.NewReader("{}"))
		if err != nil {
			return 0, err
		}
		ts, sign := recipe.Sign(benchCredentials, time.Now())
		signature.SetHeaders(req.Header, benchCredentials, ts, sign)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("simulator: HTTP %d, %v", resp.StatusCode, err)
		}
	}
	slices.Sort(lat)
	return percentile(lat, 50), nil
}

func stop(t *target) {
	if t != nil {
		_ = t.p.Stop(10 * time.Second)
	}
}

func pinning(pin bool) string {
	cpus, err := proc.AllowedCPUs()
	self := "?"
	if err == nil {
		self = fmt.Sprint(cpus)
	}
	if !pin {
		return "unpinned (servers and load share the CPUs " + self + ")"
	}
	return "servers on CPU 0 (taskset -c 0), load generator and simulator on CPUs " + self
}
