// Command soak runs the service as a child process against an in-process
// tanmarket simulator, drives a fixed client load through a fixed cycle of
// upstream faults, and prints a report ending in a verdict. It exits 1 when the
// verdict fails.
//
//	go run ./internal/tools/soak [-duration 2m] [-clients 16] [-rps 0] [-phase 10s] [-env NAME=value]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/cli"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// errVerdict is run's error when the soak ran to the end but failed its checks.
var errVerdict = errors.New("verdict: FAIL")

// clientsFlag is the soak's name for cli's -clients flag.
const clientsFlag = "clients"

// run parses the flags, soaks, and prints the report to stdout; progress goes
// to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := DefaultConfig()
	command := cli.Command{ClientsFlag: clientsFlag, Notes: cli.Notes{
		Warmup:   "against a healthy upstream",
		Clients:  "a closed loop unless -rps is set",
		CacheTTL: "short, so that refreshes happen during every phase",
	}}
	ok, err := command.Parse(args, stderr, &cfg.Load, func(fs *flag.FlagSet) {
		fs.Float64Var(&cfg.RPS, "rps", cfg.RPS, "requests per second across all clients; 0 is a closed loop (each client sends as soon as it has its answer)")
		fs.DurationVar(&cfg.Phase, "phase", cfg.Phase, "length of each upstream phase (normal, slow, 5xx, malformed, down, then again)")
		fs.Float64Var(&cfg.MaxRSSGrowth, "max-rss-growth", cfg.MaxRSSGrowth, "largest RSS growth from start to end the verdict accepts, as a fraction")
	})
	if !ok {
		return err
	}
	cfg.Progress = stderr

	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if !rep.Pass() {
		return errVerdict
	}
	return nil
}
