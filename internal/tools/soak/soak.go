package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/cli"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// Config is one soak run.
type Config struct {
	// Load is the duration, warm-up (against a healthy upstream), clients,
	// CACHE_TTL and extra service settings, as the bench also takes them.
	cli.Load
	RPS          float64       // total requests per second; 0 is a closed loop
	Phase        time.Duration // length of each upstream phase
	MaxRSSGrowth float64       // largest accepted (end-start)/start RSS, e.g. 0.20
	// Large serves the large dataset (largeSize) instead of the demo's.
	Large bool
	// Mix is MixOrdinary or MixHeavy (heavyCycle, then the abandoned burst).
	Mix string
	// MaxPeakRSSMiB bounds the child's peak RSS; 0 means the issue's
	// targets with Large (peakRSSFastMiB, peakRSSGqlgenMiB), else no bound.
	MaxPeakRSSMiB int

	// Progress gets a line per phase; nil discards.
	Progress io.Writer
}

// DefaultConfig returns the command's defaults.
func DefaultConfig() Config {
	return Config{
		Load: cli.Load{
			Duration: 2 * time.Minute,
			Clients:  16,
			Warmup:   5 * time.Second,
			CacheTTL: 2 * time.Second,
		},
		Phase:        10 * time.Second,
		MaxRSSGrowth: 0.20,
		Mix:          MixOrdinary,
	}
}

// heavyClients is -clients' default with the heavy mix: the issue's "32
// concurrent clients".
const heavyClients = 32

// largeSize is simulator.LargeDataset's types, stages per type and fields
// per type for -large: the large tenant of the issue and the benchmark.
var largeSize = [3]int{40, 30, 150}

// The bounds on the peak RSS on the large dataset, with the fast
// path and without (FAST_PATH=false), in MiB.
const (
	peakRSSFastMiB   = 256
	peakRSSGqlgenMiB = 512
)

// fastPath reports whether the service runs with settings' FAST_PATH
// (default true).
func fastPath(settings []string) bool {
	for _, kv := range settings {
		if v, ok := strings.CutPrefix(kv, "FAST_PATH="); ok {
			return v != "false"
		}
	}
	return true
}

// peakRSSLimitKB is the verdict's bound on the peak RSS for settings, 0 for
// none.
func (c Config) peakRSSLimitKB(settings []string) int64 {
	switch {
	case c.MaxPeakRSSMiB > 0:
		return int64(c.MaxPeakRSSMiB) << 10
	case !c.Large:
		return 0
	case fastPath(settings):
		return peakRSSFastMiB << 10
	}
	return peakRSSGqlgenMiB << 10
}

func (c Config) validate() error {
	errs := []error{c.Load.Validate(clientsFlag)}
	if c.RPS < 0 {
		errs = append(errs, errors.New("rps must not be negative"))
	}
	if c.Phase <= 0 {
		errs = append(errs, errors.New("phase must be positive"))
	}
	if c.MaxRSSGrowth <= 0 {
		errs = append(errs, errors.New("max RSS growth must be positive"))
	}
	if c.Mix != MixOrdinary && c.Mix != MixHeavy {
		errs = append(errs, fmt.Errorf("mix %q: want %s or %s", c.Mix, MixOrdinary, MixHeavy))
	}
	if c.MaxPeakRSSMiB < 0 {
		errs = append(errs, errors.New("max peak RSS must not be negative"))
	}
	return errors.Join(errs...)
}

// slowLatency is the simulator's delay in the slow phase: 800ms, under the
// 1s UPSTREAM_TIMEOUT, so slow refreshes succeed but hold their callers.
const slowLatency = 800 * time.Millisecond

// phase is one state of the upstream. The order is fixed so that runs compare.
type phase struct {
	name    string
	latency time.Duration
	fault   simulator.Fault
}

// phases run in this order and then again from the top, so "normal" after
// "down" is the upstream coming back.
var phases = [...]phase{
	{"normal", 0, simulator.FaultNone},
	{"slow", slowLatency, simulator.FaultNone},
	{"5xx", 0, simulator.FaultServerError},
	{"malformed", 0, simulator.FaultMalformedJSON},
	{"down", 0, simulator.FaultTimeout}, // accepts the connection, never answers
}

// stopTimeout is how long the service may take to exit after SIGTERM.
const stopTimeout = 15 * time.Second

// soakCredentials are what the simulator accepts and the service is given.
// They guard nothing: both ends live only as long as the run.
var soakCredentials = signature.Credentials{
	AppID:     "soak-app",
	AppKey:    signature.NewSecret("soak-key"),
	AppSecret: signature.NewSecret("soak-secret"),
}

// serviceSettings are the service's environment apart from the upstream's URL
// and credentials: short timeouts and TTL so that every phase exercises
// refreshes, retries and the breaker within seconds. RATE_LIMIT=0 lets the
// closed loop run (its clients send thousands of requests a minute each);
// EXECUTION_RATE keeps its default. With the heavy mix, the loopback peer is
// a trusted proxy, so that each client's X-Forwarded-For (clientAddr) makes
// it a user of its own to the execution rate, as users behind a load
// balancer are.
// A ServiceEnv entry replaces the setting of the same name in place, so the
// list reads as what the service gets.
func serviceSettings(cfg Config) []string {
	env := []string{
		"PORT=0",
		"CACHE_TTL=" + cfg.CacheTTL.String(),
		"RATE_LIMIT=0",
		"BREAKER_COOLDOWN=5s",
		"UPSTREAM_TIMEOUT=1s",
		"UPSTREAM_BUDGET=3s",
	}
	if cfg.Mix == MixHeavy {
		env = append(env, "TRUSTED_PROXIES=127.0.0.1,::1")
	}
	return proc.MergeEnv(env, cfg.ServiceEnv...)
}

// Run starts the simulator and the service, warms up, drives cfg's load
// through the phases, stops the service, and reports. It returns an error
// only when the soak could not run; a run that fails its checks returns a
// Report whose Pass is false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}

	var dataset []byte // nil: the demo's
	ordinary := ordinaryRequests(1004, 2321, 401)
	if cfg.Large {
		dataset = simulator.LargeDataset(largeSize[0], largeSize[1], largeSize[2])
		ordinary = ordinaryRequests(1004, largeStageID, largeFieldID)
	}
	sim := simulator.New(simulator.Options{Credentials: soakCredentials, Recipe: signature.Default(), Dataset: dataset})
	simURL, closeSim, err := proc.ServeLoopback(sim)
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	defer closeSim()

	tmp, err := os.MkdirTemp("", "oppconfig-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(progress, "soak: building the service")
	bin, err := proc.Build(ctx, tmp, ".")
	if err != nil {
		return nil, err
	}

	env := append(proc.UpstreamEnv(simURL, soakCredentials), serviceSettings(cfg)...)
	svc, err := startService(ctx, bin, env)
	if err != nil {
		return nil, err
	}
	defer svc.Kill()
	fmt.Fprintf(progress, "soak: service pid %d at %s, simulator at %s\n", svc.PID(), svc.Base, simURL)

	ld := newLoad(svc.Base, cfg, ordinary)
	defer ld.client.CloseIdleConnections()
	if err := ld.check(ctx); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	if cfg.Warmup > 0 {
		fmt.Fprintf(progress, "soak: warm-up for %s\n", cfg.Warmup)
		ld.drive(ctx, time.Now().Add(cfg.Warmup), nil)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}

	settings := serviceSettings(cfg)
	rep := &Report{Config: cfg, Settings: settings, DatasetBytes: len(dataset),
		FastPath: fastPath(settings), PeakRSSLimitKB: cfg.peakRSSLimitKB(settings)}
	rep.RSSStartKB = svc.RSSKB()
	rep.GoroutinesStart = ld.goroutines(ctx)
	callsAtStart := sim.Calls()
	logsAtStart := svc.logs.snapshot()

	heapDone := make(chan struct{})
	var heapWG sync.WaitGroup
	heapWG.Go(func() { rep.Heap = ld.sampleHeap(ctx, heapDone) })

	// The phase clock runs on its own: a client stuck on a hung upstream
	// must not delay the next phase.
	var current atomic.Int32
	phasesDone := make(chan struct{})
	var phaseWG sync.WaitGroup
	start := time.Now()
	until := start.Add(cfg.Duration)
	phaseWG.Go(func() {
		for i := 0; ; i++ {
			p := i % len(phases)
			sim.SetLatency(phases[p].latency)
			sim.SetFault(phases[p].fault)
			current.Store(int32(p))
			rep.PhasesEntered++
			fmt.Fprintf(progress, "soak: %7s  phase %-9s  upstream calls %d\n",
				time.Since(start).Round(time.Second), phases[p].name, sim.Calls()-callsAtStart)
			next := start.Add(time.Duration(i+1) * cfg.Phase)
			if !next.Before(until) {
				// The load ends within this phase; only wait for it to.
				<-phasesDone
				return
			}
			select {
			case <-time.After(time.Until(next)):
			case <-phasesDone:
				return
			}
		}
	})
	stats := ld.drive(ctx, until, &current)
	rep.Elapsed = time.Since(start)
	close(phasesDone)
	phaseWG.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	rep.add(stats)

	rep.UpstreamCalls = sim.Calls() - callsAtStart
	rep.RSSEndKB = svc.RSSKB()

	// A healthy upstream for the burst and the shutdown, so that nothing the
	// service still waits on is held by a fault.
	sim.SetLatency(0)
	sim.SetFault(simulator.FaultNone)
	if cfg.Mix == MixHeavy {
		fmt.Fprintf(progress, "soak: %d abandoned heavy requests, given up after %s\n", burstSize, burstCancelAfter)
		rep.Burst = ld.abandonBurst(ctx, svc.PID())
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	close(heapDone)
	heapWG.Wait()
	rep.PeakRSSKB = svc.PeakRSSKB()
	rep.GoroutinesEnd = ld.goroutines(ctx)
	ld.client.CloseIdleConnections()
	fmt.Fprintln(progress, "soak: stopping the service with SIGTERM")
	rep.Stop = svc.Stop(stopTimeout)
	rep.Logs = svc.logs.snapshot().since(logsAtStart)
	return rep, nil
}
