// Command oppconfig-graphql serves tanmarket's opportunity configuration as a
// GraphQL API. Without UPSTREAM_URL it serves demo data from an embedded
// simulator of the tanmarket endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"go.opentelemetry.io/otel"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/gcfloor"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oppconfig-graphql:", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled or SIGINT/SIGTERM arrives, then drains
// in-flight requests for up to SHUTDOWN_TIMEOUT.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { usage(stdout) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logOut := stderr
	if cfg.LogFlushInterval > 0 {
		// Closed last (deferred first): the shutdown lines are written too.
		buffered := telemetry.NewBufferedWriter(stderr, cfg.LogFlushInterval)
		defer buffered.Close()
		logOut = buffered
	}
	logger, err := telemetry.NewLogger(logOut, cfg.LogFormat)
	if err != nil {
		return err
	}
	tracing, err := telemetry.NewTracing(ctx, getenv)
	if err != nil {
		return err
	}
	// OpenTelemetry reports export failures through a process-wide handler;
	// route them to our log instead of the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("opentelemetry", "err", err) }))
	defer func() {
		// Flush spans after the server has drained; bounded like the drain.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := tracing.Shutdown(flushCtx); err != nil {
			logger.Warn("flushing traces failed", "err", err)
		}
	}()
	if getenv("GOGC") == "" && cfg.GCHeapFloor > 0 {
		// GOGC, when set, is the operator's, as GOMEMLIMIT is below.
		floor := gcfloor.Start(uint64(cfg.GCHeapFloor))
		defer floor.Stop()
	}
	var streamsOpen func(int)
	if getenv("GOMEMLIMIT") == "" {
		// Go's soft memory limit, from what the configuration lets the
		// service hold: the collector then runs before the heap doubles
		// past it (GOGC's default), which is what kept peak RSS over the
		// execution budget; each open stream adds its share. GOMEMLIMIT,
		// when set, is the operator's.
		base := server.MemoryLimit(cfg)
		debug.SetMemoryLimit(base)
		streamsOpen = func(n int) { debug.SetMemoryLimit(base + int64(n)*server.StreamMemory) }
	}
	svc, err := server.New(ctx, cfg, server.Deps{Logger: logger, Tracing: tracing, StreamsOpen: streamsOpen})
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	return svc.Serve(ctx, ln)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: oppconfig-graphql\n\nServes tanmarket's opportunity configuration as GraphQL. Settings come from the environment:")
	for _, v := range config.Variables {
		def := v.Default
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(w, "  %-24s %s\n  %-24s default: %s\n", v.Name, v.Help, "", def)
	}
}
