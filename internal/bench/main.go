// Command bench is the load benchmark of BENCHMARKS.md. It builds the service
// and runs it as a child process against an in-process tanmarket simulator
// (20ms latency), next to a ceiling server that answers with the same bytes
// and computes nothing; both on CPU 0, the closed-loop load on CPU 1. It
// prints a Markdown report: per query, req/s, p50 and p99 with the response
// cache on and off, against the ceiling; the 304 path; the cold path; with
// -large, a large dataset. It draws internal/bench/bench.png.
//
//	go run ./internal/bench [-duration 10s] [-rounds 3] [-conns 32] [-large]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/oppconfig/oppconfig-graphql/internal/proc"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode()) // the pinned copy of this command failed and said why
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// pinnedEnv marks the copy of this command that runs under taskset -c 1.
const pinnedEnv = "OPPCONFIG_BENCH_PINNED"

// run parses the flags, puts itself on CPU 1, runs the benchmark, prints the
// report to stdout and draws the chart; progress goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := DefaultConfig()
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured load per target, query and round")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "interleaved rounds (service, ceiling, service, …)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "closed-loop keep-alive connections")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "load per target and query before measuring (not counted)")
	fs.DurationVar(&cfg.Latency, "latency", cfg.Latency, "the simulator's answer delay")
	fs.DurationVar(&cfg.CacheTTL, "cache-ttl", cfg.CacheTTL, "the services' CACHE_TTL in the throughput runs; longer than the run, so every measured request is on a fresh cache")
	fs.IntVar(&cfg.Cold, "cold", cfg.Cold, "sequential requests per query on the cold path (CACHE_TTL=1ms)")
	fs.BoolVar(&cfg.Large, "large", cfg.Large, "also run the full and dropdown queries on a large dataset")
	largeSize := fs.String("large-size", "40x30x150", "the large dataset: types x stages per type x fields per type")
	noPin := fs.Bool("no-pin", false, "do not pin: servers and load share every CPU")
	chart := fs.String("chart", "internal/bench/bench.png", "PNG chart to write, relative to the module root; empty for none")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	size, err := parseSize(*largeSize)
	if err != nil {
		return err
	}
	cfg.LargeSize = size
	cfg.Progress = stderr

	cfg.Pin = !*noPin
	if cfg.Pin && os.Getenv(pinnedEnv) == "" {
		reason := canPin()
		if reason == "" {
			return reexecPinned(ctx, args, stdout, stderr)
		}
		fmt.Fprintf(stderr, "bench: warning: running unpinned: %s\n", reason)
		cfg.Pin = false
	}

	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if *chart != "" {
		path := *chart
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

// canPin returns why the servers cannot get CPU 0 and the load CPU 1, or "".
func canPin() string {
	if _, err := exec.LookPath("taskset"); err != nil {
		return "taskset (util-linux) is not installed"
	}
	cpus, err := proc.AllowedCPUs()
	if err != nil {
		return err.Error()
	}
	if !slices.Contains(cpus, 0) || !slices.Contains(cpus, 1) {
		return fmt.Sprintf("this process may run on CPUs %v, not on both 0 and 1", cpus)
	}
	return ""
}

// reexecPinned runs this command again under taskset -c 1; the servers it
// starts get CPU 0.
func reexecPinned(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", "1", self}, args[1:]...)...)
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// SIGINT reaches the whole process group, the copy included; let it
	// shut its children down rather than killing it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	return cmd.Run()
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
