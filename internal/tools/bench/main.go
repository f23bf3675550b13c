// Command bench is the load benchmark of BENCHMARKS.md. It builds the service
// and runs it as a child process against an in-process tanmarket simulator
// (20ms latency), next to a ceiling server that answers with the same bytes
// and computes nothing; both on CPU 0, the closed-loop load on CPU 1. It
// prints a Markdown report: per query, req/s, p50 and p99 of the service as
// shipped, with the response cache off, and with the fast path off too,
// against the ceiling; the 304 path; the service through refreshes while the
// upstream's data changes; the cold path; with -large, a large dataset; with
// -peers, Apollo Server 5 and Mercurius with graphql-jit on the same schema
// and data (peers/, which needs node and npm), pinned and driven as the
// service is; with -replicas N, N replicas on one redis-server beside a
// single one (replicas.go). The service runs its defaults but RATE_LIMIT=0 and
// EXECUTION_RATE=0 (its two per-client limits) and what a
// measurement needs. It draws internal/tools/bench/bench.png.
//
//	go run ./internal/tools/bench [-duration 10s] [-rounds 3] [-conns 32] [-large] [-peers] [-replicas 3] [-env NAME=value]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/cli"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		var exit proc.PinnedExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Code) // the pinned copy of this command failed and said why
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// pinnedEnv marks the copy of this command that runs under taskset -c 1.
const pinnedEnv = "OPPCONFIG_BENCH_PINNED"

// clientsFlag is the bench's name for cli's -clients flag: its clients are
// connections.
const clientsFlag = "conns"

// run parses the flags, puts itself on CPU 1, runs the benchmark, prints the
// report to stdout and draws the chart; progress goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := DefaultConfig()
	var largeSize, chart string
	var noPin bool
	command := cli.Command{ClientsFlag: clientsFlag, Notes: cli.Notes{
		Duration: "per target, query and round",
		Warmup:   "per target and query",
		Clients:  "closed loop",
		CacheTTL: "only when set: the throughput runs otherwise pass none, and the service runs its default, as its users do",
	}}
	ok, err := command.Parse(args, stderr, &cfg.Load, func(fs *flag.FlagSet) {
		fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "interleaved rounds (service, ceiling, service, …)")
		fs.DurationVar(&cfg.Latency, "latency", cfg.Latency, "the simulator's answer delay")
		fs.IntVar(&cfg.Cold, "cold", cfg.Cold, "sequential requests per query on the cold path (CACHE_TTL=CACHE_MAX_STALE=1ms)")
		fs.DurationVar(&cfg.RefreshDuration, "refresh-duration", cfg.RefreshDuration, "per query, the load of the refresh scenario, split in -rounds rounds (and as long again on the steady service beside it)")
		fs.DurationVar(&cfg.RefreshEvery, "refresh-every", cfg.RefreshEvery, "in the refresh scenario, how often the upstream's data changes")
		fs.DurationVar(&cfg.RefreshTTL, "refresh-ttl", cfg.RefreshTTL, "the refresh scenario's CACHE_TTL")
		fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "also run this many replicas of the service on one redis-server (Debian's, on PATH: .ci/redis.sh installs it), beside a single one; 0 skips")
		fs.BoolVar(&cfg.ReplicasOnly, "replicas-only", cfg.ReplicasOnly, "run the replicas scenario alone (with -replicas)")
		fs.BoolVar(&cfg.Large, "large", cfg.Large, "also run the full and dropdown queries on a large dataset")
		fs.BoolVar(&cfg.Peers, "peers", cfg.Peers, "also run Apollo Server 5 and Mercurius + graphql-jit on the same schema and data, beside the cache off (needs node and npm: installs "+peersDir+" with npm ci)")
		fs.StringVar(&largeSize, "large-size", "40x30x150", "the large dataset: types x stages per type x fields per type")
		fs.BoolVar(&noPin, "no-pin", false, "do not pin: servers and load share every CPU")
		fs.StringVar(&chart, "chart", "internal/tools/bench/bench.png", "PNG chart to write, relative to the module root; empty for none")
	})
	if !ok {
		return err
	}
	size, err := parseSize(largeSize)
	if err != nil {
		return err
	}
	cfg.LargeSize = size
	cfg.Progress = stderr

	cfg.Pin = !noPin
	if cfg.Pin && getenv(pinnedEnv) == "" {
		// Itself on CPU 1; the servers it starts get CPU 0.
		reason := proc.PinReason()
		if reason == "" {
			return proc.ReexecPinned(ctx, "1", pinnedEnv, args, stdout, stderr)
		}
		fmt.Fprintf(stderr, "bench: warning: running unpinned: %s\n", reason)
		cfg.Pin = false
	}

	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if chart != "" {
		path := chart
		if !filepath.IsAbs(path) {
			root, err := proc.ModuleRoot(ctx)
			if err != nil {
				return err
			}
			path = filepath.Join(root, path)
		}
		if err := rep.WriteChart(path); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		fmt.Fprintf(stderr, "bench: wrote %s\n", path)
	}
	return nil
}

func parseSize(s string) ([3]int, error) {
	parts := strings.Split(s, "x")
	var out [3]int
	if len(parts) != 3 {
		return [3]int{}, fmt.Errorf("-large-size %q: want TYPESxSTAGESxFIELDS, e.g. 40x30x150", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return [3]int{}, fmt.Errorf("-large-size %q: want three positive integers", s)
		}
		out[i] = n
	}
	return out, nil
}
