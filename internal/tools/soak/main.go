// Command soak runs the service as a child process against an in-process
// tanmarket simulator, drives a fixed client load through a fixed cycle of
// upstream faults, and prints a report ending in a verdict. It exits 1 when the
// verdict fails.
//
// With -large the simulator serves the large dataset; with -mix heavy the
// clients (32 by default) also send the heaviest legitimate query, variants
// of it that must execute, a back-reference query that must be refused, and
// requests they give up mid-way, and the run ends with a burst of abandoned
// heavy requests after which the service's CPU must fall idle.
//
//	go run ./internal/tools/soak [-duration 2m] [-clients 16] [-rps 0] [-phase 10s] [-large] [-mix ordinary|heavy] [-env NAME=value]
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

	cfg, ok, err := parseConfig(args, stderr)
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

// parseConfig reads the command line into a Config; false (and no error)
// when -h asked for the usage. -clients defaults to heavyClients with the
// heavy mix.
func parseConfig(args []string, stderr io.Writer) (Config, bool, error) {
	cfg := DefaultConfig()
	command := cli.Command{ClientsFlag: clientsFlag, Notes: cli.Notes{
		Warmup:   "against a healthy upstream",
		Clients:  "a closed loop unless -rps is set",
		CacheTTL: "short, so that refreshes happen during every phase",
	}}
	var flags *flag.FlagSet
	ok, err := command.Parse(args, stderr, &cfg.Load, func(fs *flag.FlagSet) {
		flags = fs
		fs.Float64Var(&cfg.RPS, "rps", cfg.RPS, "requests per second across all clients; 0 is a closed loop (each client sends as soon as it has its answer)")
		fs.DurationVar(&cfg.Phase, "phase", cfg.Phase, "length of each upstream phase (normal, slow, 5xx, malformed, down, then again)")
		fs.Float64Var(&cfg.MaxRSSGrowth, "max-rss-growth", cfg.MaxRSSGrowth, "largest RSS growth from start to end the verdict accepts, as a fraction")
		fs.BoolVar(&cfg.Large, "large", cfg.Large, fmt.Sprintf("serve the large dataset (%d types × %d stages × %d fields) instead of the demo's; the verdict then bounds the peak RSS", largeSize[0], largeSize[1], largeSize[2]))
		fs.StringVar(&cfg.Mix, "mix", cfg.Mix, fmt.Sprintf("%s: the front-end's queries; %s: also the heaviest query, variants of it, back-references and abandoned requests, then a burst of %d abandoned heavy requests (-clients defaults to %d)", MixOrdinary, MixHeavy, burstSize, heavyClients))
		fs.IntVar(&cfg.MaxPeakRSSMiB, "max-peak-rss", cfg.MaxPeakRSSMiB, fmt.Sprintf("largest peak RSS the verdict accepts, in MiB; 0: with -large %d with the fast path, %d with FAST_PATH=false, else unchecked", peakRSSFastMiB, peakRSSGqlgenMiB))
	})
	if !ok {
		return cfg, false, err
	}
	clientsSet := false
	flags.Visit(func(f *flag.Flag) { clientsSet = clientsSet || f.Name == clientsFlag })
	if cfg.Mix == MixHeavy && !clientsSet {
		cfg.Clients = heavyClients
	}
	return cfg, true, nil
}
