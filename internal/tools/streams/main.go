// Command streams measures the subscription's streams (graph/schema/
// live.graphqls) against the figures: 10 000 idle subscribers on
// loopback cost at most 32 KiB of the service's RSS each and 2 % of a core
// between events, and a change fans out to all of them within 1 s. Like the
// load benchmark, it builds the service and runs it as a child process on
// CPU 0 against an in-process tanmarket simulator, itself and its
// subscribers on CPU 1. Per transport (GraphQL over SSE, graphql-transport-ws
// over WebSocket), on a service of its own, it reads the service's RSS,
// opens the streams, reads it again once every first event is in, stays
// idle while measuring the service's CPU time, then changes the upstream's
// data a few times and times each event's arrival at every subscriber;
// finally it dumps the service's goroutines (SIGQUIT) to show what a stream
// holds. The service runs its defaults but CACHE_TTL=1s and
// MAX_STREAMS_PER_CLIENT raised to the subscribers (all on 127.0.0.1). It
// prints a Markdown report and exits 1 on a wrong answer (a missing,
// duplicated or wrong event, a stream that ended), not on a missed target.
//
//	go run ./internal/tools/streams [-subscribers 10000] [-idle 30s] [-changes 3] [-transport sse|ws|both] [-env NAME=value]
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

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		var exit proc.PinnedExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Code) // the pinned copy of this command failed and said why
		}
		fmt.Fprintln(os.Stderr, "streams:", err)
		os.Exit(1)
	}
}

// pinnedEnv marks the copy of this command that runs under taskset -c 1.
const pinnedEnv = "OPPCONFIG_STREAMS_PINNED"

// errWrongAnswers is run's error when the run was made and some subscriber
// got a wrong answer; the report says which.
var errWrongAnswers = errors.New("wrong answers: see the report")

// run parses the flags, puts itself on CPU 1, measures, and prints the
// report to stdout; progress goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := DefaultConfig()
	transport := transportBoth
	var noPin bool
	ok, err := command.Parse(args, stderr, &cfg.Load, func(fs *flag.FlagSet) {
		fs.IntVar(&cfg.Changes, "changes", cfg.Changes, "changes of the upstream's data, after the idle window")
		fs.StringVar(&transport, "transport", transport, "sse, ws (graphql-transport-ws) or both, each on a service of its own")
		fs.IntVar(&cfg.OpenAtOnce, "open-at-once", cfg.OpenAtOnce, "streams being opened at the same time")
		fs.BoolVar(&cfg.Dump, "dump", cfg.Dump, "end each service with SIGQUIT while its streams are open and count its goroutines by stack")
		fs.BoolVar(&noPin, "no-pin", false, "do not pin: the service and the subscribers share every CPU")
	})
	if !ok {
		return err
	}
	if cfg.Transports, err = parseTransport(transport); err != nil {
		return err
	}
	cfg.Progress = stderr

	cfg.Pin = !noPin
	if cfg.Pin && getenv(pinnedEnv) == "" {
		reason := proc.PinReason()
		if reason == "" {
			return proc.ReexecPinned(ctx, "1", pinnedEnv, args, stdout, stderr)
		}
		fmt.Fprintf(stderr, "streams: warning: running unpinned: %s\n", reason)
		cfg.Pin = false
	}

	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if rep.Failed() {
		return errWrongAnswers
	}
	return nil
}
