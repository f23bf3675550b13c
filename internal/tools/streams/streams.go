package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/cli"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// Config is one run.
type Config struct {
	// Load is the idle window (Duration, -idle), the pause after the last
	// first event before the RSS is read and the window starts (Warmup),
	// the subscribers (Clients, -subscribers) per transport, the
	// service's CACHE_TTL and extra service settings.
	cli.Load
	Changes    int      // changes of the upstream's data, after the idle window
	Transports []string // transportSSE, transportWS, in order
	// OpenAtOnce bounds the streams being opened at the same time: a few
	// thousand SYNs at once would overflow the listen backlog
	// (net.core.somaxconn) and wait for TCP's 1s retransmission.
	OpenAtOnce int
	// Dump ends each service with SIGQUIT while its streams are open and
	// counts its goroutines by stack: what each stream holds.
	Dump bool
	// Pin runs the service with `taskset -c 0`; the caller puts this
	// process on CPU 1 (main re-executes itself under taskset -c 1).
	Pin bool
	// Progress gets a line per step; nil discards.
	Progress io.Writer
}

// DefaultConfig returns the command's defaults.
func DefaultConfig() Config {
	return Config{
		Load: cli.Load{
			// Two rounds of the shipped STREAM_KEEPALIVE (15s): a window
			// of whole rounds holds every stream's keep-alives as often as
			// a long idle stretch does.
			Duration: 30 * time.Second,
			Warmup:   2 * time.Second,
			Clients:  10000,
			// 1s, not the shipped 30s: a change of the upstream's data is
			// seen within about a second, so that each change is measured
			// in seconds; the fan-out, from the service's publish to the
			// last subscriber, does not depend on it.
			CacheTTL: time.Second,
		},
		Changes:    3,
		Transports: []string{transportSSE, transportWS},
		OpenAtOnce: 128,
		Dump:       true,
		Pin:        true,
	}
}

// command is this tool's spelling of the shared flags.
var command = cli.Command{ClientsFlag: "subscribers", DurationFlag: "idle", Notes: cli.Notes{
	Duration: "the idle window: streams open, the data unchanged, the service's CPU measured",
	Warmup:   "pause after the last first event, before the RSS is read and the idle window starts",
	Clients:  "per transport, every one from 127.0.0.1 (so MAX_STREAMS_PER_CLIENT is raised to it)",
	CacheTTL: "short, so that a change of the upstream's data is seen within about a second",
}}

func (c Config) validate() error {
	errs := []error{c.Load.ValidateFor(command)}
	if c.Changes < 1 {
		errs = append(errs, errors.New("changes must be at least 1"))
	}
	if len(c.Transports) == 0 {
		errs = append(errs, errors.New("no transport"))
	}
	if c.OpenAtOnce < 1 {
		errs = append(errs, errors.New("open-at-once must be at least 1"))
	}
	if c.CacheTTL < time.Millisecond {
		errs = append(errs, errors.New("cache TTL must be at least 1ms")) // CACHE_TTL takes whole milliseconds
	}
	return errors.Join(errs...)
}

// parseTransport reads -transport.
func parseTransport(s string) ([]string, error) {
	switch s {
	case transportSSE, transportWS:
		return []string{s}, nil
	case transportBoth:
		return []string{transportSSE, transportWS}, nil
	}
	return nil, fmt.Errorf("-transport %q: want %s, %s or %s", s, transportSSE, transportWS, transportBoth)
}

// streamsCredentials are what the simulator accepts and the service is
// given; they guard nothing and live as long as the run.
var streamsCredentials = signature.Credentials{
	AppID:     "streams-app",
	AppKey:    signature.NewSecret("streams-key"),
	AppSecret: signature.NewSecret("streams-secret"),
}

// settle is how long after a refresh a duplicate event would have come: the
// service's feed publishes a refreshed copy as soon as the refresh ends.
const settle = 500 * time.Millisecond

// Report is what a run measured.
type Report struct {
	Config  Config
	Started time.Time
	Machine string
	Pinning string
	// ServiceEnv is the service's environment, upstream and credentials
	// left out; Service, the settings it reads from it.
	ServiceEnv []string
	Service    config.Config
	Results    []*Result
	Elapsed    time.Duration
}

// Result is one transport's run.
type Result struct {
	Transport   string
	Subscribers int
	// Open is how long opening every stream took, to its first event.
	Open time.Duration
	// RSS (VmRSS) and its anonymous part (RssAnon), in kB: before any
	// stream, after every first event and the warm-up, after the idle
	// window; Peak is VmHWM at the end.
	RSSBefore, RSSAfter, RSSAfterIdle, Peak int64
	AnonBefore, AnonAfter                   int64
	// Before and After are the Go runtime's figures of /metrics at the
	// same moments as RSSBefore and RSSAfter; AfterIdle, at the idle
	// window's end.
	Before, After, AfterIdle RuntimeStats
	// IdleGCs counts the GC cycles in the idle window.
	IdleGCs int64
	// The idle window: how long, the service's and this process's CPU
	// time, the events (must be 0) and keep-alives received, the streams
	// that ended.
	Idle                 time.Duration
	IdleCPU, ClientCPU   time.Duration
	IdleUser, IdleSystem time.Duration // IdleCPU's two parts
	IdleEvents           int
	IdlePings            int
	Changes              []ChangeResult
	// Goroutines groups the service's goroutines by stack with every
	// stream open (Config.Dump); GoroutineTotal counts them all.
	Goroutines     []GoroutineGroup
	GoroutineTotal int
	// Shutdown is how the service ended, with every stream open: on
	// SIGQUIT with Config.Dump (exit status 2 once the dump is written),
	// else on SIGTERM.
	Shutdown proc.StopResult
	Problems Problems
}

// PerSubscriberKB is the RSS each stream added, in kB (KiB).
func (r *Result) PerSubscriberKB() float64 {
	return float64(r.RSSAfter-r.RSSBefore) / float64(r.Subscribers)
}

// IdleCores is the service's CPU over the idle window, in cores.
func (r *Result) IdleCores() float64 {
	if r.Idle <= 0 {
		return 0
	}
	return r.IdleCPU.Seconds() / r.Idle.Seconds()
}

// MaxFanOut is the largest fan-out over the changes.
func (r *Result) MaxFanOut() time.Duration {
	var m time.Duration
	for _, c := range r.Changes {
		m = max(m, c.FanOut)
	}
	return m
}

// ChangeResult is one change of the upstream's data, timed from the
// SetDataset call.
type ChangeResult struct {
	Version string
	// Visible is when /readyz first named the new version (polled every
	// 10ms): the service's refresh brought it. -1 when not seen.
	Visible time.Duration
	// Arrival is when the subscribers got its event.
	Arrival
	// Complete tells whether every subscriber got it in time.
	Complete bool
	// ServiceCPU is the service's CPU time from the SetDataset call to the
	// last arrival: the refresh, the publish and every stream's write.
	ServiceCPU time.Duration
}

// Run builds the service, starts the simulator, and measures each
// transport on a service of its own. It returns an error when the run could
// not be made; wrong answers are in the results' Problems.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{Config: cfg, Started: time.Now(), Machine: proc.Machine(), Pinning: pinning(cfg.Pin)}
	if err := clientLimits(cfg.Clients); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "oppconfig-streams-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(progress, "streams: building the service")
	bin, err := proc.Build(ctx, tmp, ".")
	if err != nil {
		return nil, err
	}
	data, err := newGenerations(simulator.DemoDataset())
	if err != nil {
		return nil, err
	}
	sim := simulator.New(simulator.Options{Credentials: streamsCredentials, Recipe: signature.Default(), Dataset: data.at(0)})
	simURL, closeSim, err := proc.ServeLoopback(sim)
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	defer closeSim()
	env := serviceEnv(cfg, simURL)
	rep.ServiceEnv = serviceEnv(cfg, "")
	if rep.Service, err = serviceConfig(env); err != nil {
		return nil, err
	}
	for _, tr := range cfg.Transports {
		r, err := measure(ctx, cfg, bin, env, sim, data, tr, rep.Service, progress)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tr, err)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// defaultMaxStreams is MAX_STREAMS as shipped (internal/config).
const defaultMaxStreams = 10000

// serviceEnv is the service's environment: the upstream (left out when
// simURL is ""), then the settings, as shipped but for these and for
// cfg.ServiceEnv, which replaces them: CACHE_TTL (see DefaultConfig),
// MAX_STREAMS_PER_CLIENT raised to the subscribers, who all come from
// 127.0.0.1 (the bound is per client address with AUTH_MODE=none), and
// MAX_STREAMS only when the subscribers outnumber its default. RATE_LIMIT
// is as shipped: streams are not counted by it.
func serviceEnv(cfg Config, simURL string) []string {
	var env []string
	if simURL != "" {
		env = proc.UpstreamEnv(simURL, streamsCredentials)
	}
	env = append(env, "PORT=0", "LOG_FORMAT=json", "CACHE_TTL="+cfg.CacheTTL.String(),
		"MAX_STREAMS_PER_CLIENT="+strconv.Itoa(cfg.Clients))
	if cfg.Clients > defaultMaxStreams {
		env = append(env, "MAX_STREAMS="+strconv.Itoa(cfg.Clients))
	}
	return proc.MergeEnv(env, cfg.ServiceEnv...)
}

// serviceConfig is the configuration the service reads from env.
func serviceConfig(env []string) (config.Config, error) {
	vars := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	c, err := config.Load(func(name string) string { return vars[name] })
	if err != nil {
		return config.Config{}, fmt.Errorf("the service's settings: %w", err)
	}
	return c, nil
}

// generations are the data the simulator serves: at(0) the demo dataset,
// at(k) the same with its first type renamed "…（修订 k）", so that each
// change is a new version that changes one type, changedID.
type generations struct {
	types     []wire.Type
	changedID int
}

func newGenerations(demo []byte) (*generations, error) {
	var types []wire.Type
	if err := json.Unmarshal(demo, &types); err != nil || len(types) == 0 {
		return nil, fmt.Errorf("demo dataset: %d types, %v", len(types), err)
	}
	return &generations{types: types, changedID: types[0].TypeID}, nil
}

// at returns generation k. Every generation goes through wire's types, the
// one spelling of the shape, so that they differ only in the name.
func (g *generations) at(k int) []byte {
	types := append([]wire.Type(nil), g.types...)
	if k > 0 {
		types[0].TypeName += fmt.Sprintf("（修订 %d）", k)
	}
	b, err := json.Marshal(types)
	if err != nil {
		panic(fmt.Sprintf("marshal decoded types: %v", err)) // cannot happen: they were decoded from JSON
	}
	return b
}

// measure runs one transport on a service of its own: the baseline, the
// streams opened, the idle window, the changes, the goroutine dump.
func measure(ctx context.Context, cfg Config, bin string, env []string, sim *simulator.Simulator, data *generations, transport string, svc config.Config, progress io.Writer) (*Result, error) {
	r := &Result{Transport: transport, Subscribers: cfg.Clients}
	sim.SetDataset(data.at(0))
	dump := newGoroutineDump()
	opts := proc.Options{Env: env, OnLine: dump.line}
	if cfg.Pin {
		opts.CPUs = "0"
	}
	fmt.Fprintf(progress, "streams: %s: starting the service\n", transport)
	p, err := proc.Start(ctx, bin, nil, opts)
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	v0, err := waitVersion(ctx, client, p.Base, "", 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.Tail())
	}

	// The baseline: started, ready, idle.
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	r.RSSBefore, r.AnonBefore = p.RSSKB(), proc.StatusKB(p.PID(), "RssAnon")
	if r.Before, err = runtimeStats(ctx, client, p.Base); err != nil {
		return nil, err
	}

	var sub subscriber
	if transport == transportWS {
		sub, err = wsSubscriber(p.Base)
	} else {
		sub, err = sseSubscriber(p.Base)
	}
	if err != nil {
		return nil, err
	}
	t := newTally(cfg.Clients)
	subCtx, closeStreams := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		t.freeze()
		closeStreams()
		wg.Wait()
	}()
	fmt.Fprintf(progress, "streams: %s: opening %d streams, %d at a time\n", transport, cfg.Clients, cfg.OpenAtOnce)
	start := time.Now()
	if err := open(subCtx, &wg, sub, t, cfg.Clients, cfg.OpenAtOnce); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.Tail())
	}
	r.Open = time.Since(start)
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	r.RSSAfter, r.AnonAfter = p.RSSKB(), proc.StatusKB(p.PID(), "RssAnon")
	if r.After, err = runtimeStats(ctx, client, p.Base); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "streams: %s: %d open in %s; RSS %s → %s (%.1f KiB per stream); idle for %s\n",
		transport, cfg.Clients, r.Open.Round(time.Millisecond), kbText(r.RSSBefore), kbText(r.RSSAfter), r.PerSubscriberKB(), cfg.Duration)

	// The idle window: the data unchanged, the service refreshing every
	// CACHE_TTL with the same bytes.
	// /metrics is read outside the window, whose CPU time it would add to.
	idleFrom := r.After
	events0, pings0, _ := t.counts()
	user0, sys0 := proc.CPUTimes(p.PID())
	self0, idleStart := proc.CPUTime(os.Getpid()), time.Now()
	if err := sleep(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	user1, sys1 := proc.CPUTimes(p.PID())
	self1 := proc.CPUTime(os.Getpid())
	r.Idle = time.Since(idleStart)
	if r.AfterIdle, err = runtimeStats(ctx, client, p.Base); err != nil {
		return nil, err
	}
	r.IdleGCs = r.AfterIdle.GCCycles - idleFrom.GCCycles
	events1, pings1, _ := t.counts()
	r.IdleUser, r.IdleSystem = user1-user0, sys1-sys0
	r.IdleCPU, r.ClientCPU = r.IdleUser+r.IdleSystem, self1-self0
	r.IdleEvents, r.IdlePings = events1-events0, pings1-pings0
	r.RSSAfterIdle = p.RSSKB()
	if r.IdleEvents != 0 {
		r.Problems.add("events while the data did not change", "%d events in the idle window", r.IdleEvents)
	}
	fmt.Fprintf(progress, "streams: %s: idle %s: service CPU %.2f%% of a core, %d events, %d keep-alives\n",
		transport, r.Idle.Round(time.Millisecond), 100*r.IdleCores(), r.IdleEvents, r.IdlePings)

	wants := []want{{version: v0, changed: []int{}}}
	prev := v0
	for k := 1; k <= cfg.Changes; k++ {
		c, err := measureChange(ctx, client, p, sim, data, t, k, prev, cfg.CacheTTL)
		if err != nil {
			return nil, err
		}
		r.Changes = append(r.Changes, c)
		wants = append(wants, want{version: c.Version, changed: []int{data.changedID}})
		prev = c.Version
		fmt.Fprintf(progress, "streams: %s: change %d: /readyz at %s, first subscriber at %s, last at %s, fan-out %s, %d/%d got it\n",
			transport, k, durText(c.Visible), durText(c.First), durText(c.Last), durText(c.FanOut), c.Received, cfg.Clients)
	}
	// A duplicate would come just after a refresh, a refresh's at the
	// next TTL.
	if err := sleep(ctx, cfg.CacheTTL+settle); err != nil {
		return nil, err
	}
	t.freeze()
	t.check(wants, &r.Problems)
	r.Peak = p.PeakRSSKB()

	if cfg.Dump {
		// Every stream is still open: the dump shows what each holds.
		// Ten thousand streams make a dump of a few hundred MB of text.
		dump.arm()
		r.Shutdown = p.StopWith(syscall.SIGQUIT, 3*time.Minute)
		r.Goroutines, r.GoroutineTotal = dump.groups()
		if r.GoroutineTotal == 0 {
			return nil, fmt.Errorf("SIGQUIT dumped no goroutines (%+v)", r.Shutdown)
		}
	} else {
		r.Shutdown = p.Stop(svc.ShutdownTimeout + 5*time.Second)
	}
	return r, nil
}

// open starts n subscribers, at most atOnce of them opening at a time, and
// returns once every one has its first event, or with the first failure.
func open(ctx context.Context, wg *sync.WaitGroup, sub subscriber, t *tally, n, atOnce int) error {
	slots := make(chan struct{}, atOnce)
	results := make(chan error, n)
	for id := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			sub(ctx, id, t, func(err error) {
				once.Do(func() {
					<-slots
					if err != nil {
						err = fmt.Errorf("stream %d: %w", id, err)
					}
					results <- err
				})
			})
		}()
	}
	// A stream that opens and never sends its first event would hold the
	// run forever; 10ms per stream is ten times what a stream took to open
	// on a service whose collector ran all the time.
	timeout := time.Minute + time.Duration(n)*10*time.Millisecond
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var errs []error
	for i := range n {
		select {
		case err := <-results:
			if err != nil && len(errs) < 3 {
				errs = append(errs, err)
			}
		case <-timer.C:
			return errors.Join(append(errs, fmt.Errorf("%d of %d streams without their first event after %s", n-i, n, timeout))...)
		}
	}
	return errors.Join(errs...)
}

// measureChange gives the simulator generation k and times its event to every
// subscriber.
func measureChange(ctx context.Context, client *http.Client, p *proc.Process, sim *simulator.Simulator, data *generations, t *tally, k int, prev string, ttl time.Duration) (ChangeResult, error) {
	b := data.at(k)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	cpu0 := proc.CPUTime(p.PID())
	start := time.Now()
	sim.SetDataset(b)
	visible := make(chan time.Time, 1)
	go func() {
		if _, err := waitVersion(watchCtx, client, p.Base, prev, time.Minute); err == nil {
			visible <- time.Now()
		}
		close(visible)
	}()
	// The service sees the change at its next refresh, within a TTL, and
	// publishes it when the refresh ends; far more than that is a loss.
	_, complete := t.waitEvents(ctx, k+1, 2*ttl+10*time.Second)
	cpu1 := proc.CPUTime(p.PID())
	c := ChangeResult{Visible: -1, Arrival: t.arrival(k, start), Complete: complete}
	if c.Received > 0 {
		c.ServiceCPU = cpu1 - cpu0
	}
	stopWatch()
	if at, ok := <-visible; ok {
		c.Visible = at.Sub(start)
	}
	v, err := waitVersion(ctx, client, p.Base, prev, 5*time.Second)
	if err != nil {
		return c, fmt.Errorf("change %d: %w", k, err)
	}
	c.Version = v
	return c, nil
}

// waitVersion polls /readyz every 10ms until it names a configuration
// version other than old, and returns it.
func waitVersion(ctx context.Context, client *http.Client, base, old string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		v, err := readyVersion(ctx, client, base)
		if err == nil && v != old {
			return v, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("/readyz named no version other than %q within %s (last error: %v)", old, timeout, last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readyVersion is the configuration version /readyz names.
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
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.ConfigVersion == "" {
		return "", fmt.Errorf("/readyz: HTTP %d without a configVersion (%v)", resp.StatusCode, err)
	}
	return body.ConfigVersion, nil
}

// RuntimeStats are the Go runtime's figures the service's /metrics gives
// (Prometheus' Go collector).
type RuntimeStats struct {
	Goroutines   int64
	HeapInuse    int64 // bytes in in-use heap spans
	StackInuse   int64 // bytes of goroutine stacks
	HeapObjects  int64
	NextGC       int64 // the heap size of the next GC
	Sys          int64 // bytes obtained from the OS
	OpenFDs      int64
	ResidentByte int64 // process_resident_memory_bytes, for comparison with VmRSS
	GCCycles     int64 // completed GC cycles
	// MemoryLimit is Go's soft memory limit (GOMEMLIMIT, or what the
	// service sets from its configuration), in bytes.
	MemoryLimit int64
}

// runtimeStats scrapes /metrics (on the main listener unless METRICS_ADDR
// is set, open with AUTH_MODE=none as shipped).
func runtimeStats(ctx context.Context, client *http.Client, base string) (RuntimeStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return RuntimeStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return RuntimeStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return RuntimeStats{}, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	var s RuntimeStats
	fields := map[string]*int64{
		"go_goroutines":                 &s.Goroutines,
		"go_memstats_heap_inuse_bytes":  &s.HeapInuse,
		"go_memstats_stack_inuse_bytes": &s.StackInuse,
		"go_memstats_heap_objects":      &s.HeapObjects,
		"go_memstats_next_gc_bytes":     &s.NextGC,
		"go_memstats_sys_bytes":         &s.Sys,
		"process_open_fds":              &s.OpenFDs,
		"process_resident_memory_bytes": &s.ResidentByte,
		"go_gc_duration_seconds_count":  &s.GCCycles,
		"go_gc_gomemlimit_bytes":        &s.MemoryLimit,
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if dst := fields[name]; ok && dst != nil {
			f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err == nil {
				*dst = int64(f)
			}
		}
	}
	return s, sc.Err()
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}

func pinning(pin bool) string {
	cpus, err := proc.AllowedCPUs()
	self := "?"
	if err == nil {
		self = fmt.Sprint(cpus)
	}
	if !pin {
		return "unpinned (the service and the subscribers share the CPUs " + self + ")"
	}
	return "the service on CPU 0 (taskset -c 0); the subscribers and the simulator on CPUs " + self
}
