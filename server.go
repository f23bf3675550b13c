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
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
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
	metrics := telemetry.NewMetrics()

	upstreamURL := cfg.UpstreamURL
	if cfg.Demo() {
		url, closeSim, err := startSimulator(cfg)
		if err != nil {
			return err
		}
		defer closeSim()
		upstreamURL = url
		logger.Info("UPSTREAM_URL is not set: serving demo data from the embedded tanmarket simulator", "simulator", url)
	}
	configCache, err := newConfigCache(cfg, upstreamURL, logger, metrics, tracing)
	if err != nil {
		return err
	}
	handler, err := newHandler(ctx, cfg, configCache, logger, metrics, tracing)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Warm the cache in the background, so that /readyz turns green and the
	// first user does not wait for the upstream.
	go func() {
		if _, err := configCache.Get(ctx); err != nil {
			logger.Warn("initial configuration fetch failed; will retry on demand", "err", err)
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "playground", "http://"+ln.Addr().String()+"/")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newConfigCache builds the signed upstream client, instrumented, and the
// process-wide cache in front of it.
func newConfigCache(cfg config.Config, upstreamURL string, logger *slog.Logger, metrics *telemetry.Metrics, tracing *telemetry.Tracing) (*cache.Cache[*opportunity.Snapshot], error) {
	transport := metrics.InstrumentTransport(tracing.Transport(http.DefaultTransport.(*http.Transport).Clone()))
	client, err := tanmarket.NewClient(upstreamURL, cfg.Credentials, cfg.Recipe, &http.Client{Transport: transport},
		tanmarket.Options{
			AttemptTimeout:  cfg.UpstreamTimeout,
			Budget:          cfg.UpstreamBudget,
			MaxRetries:      &cfg.UpstreamRetries,
			BreakerFailures: cfg.BreakerFailures,
			BreakerCooldown: cfg.BreakerCooldown,
			MaxBodyBytes:    cfg.MaxBodyBytes,
			OnStateChange: func(from, to string) {
				metrics.ObserveBreaker(from, to)
				logger.Warn("upstream circuit breaker changed state", "from", from, "to", to)
			},
		})
	if err != nil {
		return nil, fmt.Errorf("upstream client: %w", err)
	}
	return cache.New(func(ctx context.Context) (*opportunity.Snapshot, error) {
		start := time.Now()
		snap, err := client.OpportunityConfig(ctx)
		metrics.ObserveRefresh(tanmarket.Outcome(err), time.Since(start))
		if err != nil {
			// Logged here, once per failed refresh, rather than once per
			// resolver that sees it.
			logger.WarnContext(ctx, "opportunity config refresh failed", "err", err, "duration_ms", time.Since(start).Milliseconds())
			return nil, err
		}
		logger.InfoContext(ctx, "opportunity config fetched", "version", snap.Version(), "types", len(snap.Types()), "duration_ms", time.Since(start).Milliseconds())
		return snap, nil
	}, cache.Options{TTL: cfg.CacheTTL, MaxStale: cfg.CacheMaxStale, RetryInterval: cfg.CacheRetry}), nil
}

// newHandler builds every route's handler from the configuration.
func newHandler(ctx context.Context, cfg config.Config, configCache *cache.Cache[*opportunity.Snapshot], logger *slog.Logger, metrics *telemetry.Metrics, tracing *telemetry.Tracing) (http.Handler, error) {
	authOpts := cfg.Auth
	authOpts.Logger = logger
	authn, err := auth.New(ctx, authOpts)
	if err != nil {
		return nil, fmt.Errorf("client authentication (AUTH_*): %w", err)
	}
	var limiter *ratelimit.Limiter
	if cfg.RateLimit > 0 {
		limiter, err = ratelimit.New(ratelimit.Options{Limit: cfg.RateLimit, Window: cfg.RateLimitWindow, TrustedProxies: cfg.TrustedProxies})
		if err != nil {
			return nil, fmt.Errorf("rate limit: %w", err)
		}
	}
	var trusted persisted.Manifest
	if cfg.PersistedOnly {
		if trusted, err = persisted.LoadManifest(cfg.PersistedFile); err != nil {
			return nil, fmt.Errorf("PERSISTED_QUERIES_FILE: %w", err)
		}
	}
	var responses *respcache.Cache
	if cfg.ResponseCache {
		responses = respcache.New(cfg.ResponseCacheBytes)
	}
	var playgroundHandler http.Handler
	if cfg.Playground {
		playgroundHandler = playground.Handler(playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
	}
	gql := graph.NewHandler(logger, graph.Options{
		APQCacheSize:     cfg.APQCacheSize,
		TrustedDocuments: trusted,
		HTTPCache:        &graph.HTTPCache{TTL: cfg.CacheTTL, Private: cfg.Auth.Mode != auth.ModeNone},
		ResponseCache:    responses,
		Current: func() (string, time.Duration, bool) {
			res, ok := configCache.Peek()
			if !ok || res.Stale {
				return "", 0, false
			}
			return res.Value.Version(), res.Age, true
		},
		Introspection: cfg.Introspection,
		Limits:        cfg.Limits,
		MaxBodyBytes:  cfg.MaxRequestBytes,
		MaxBatch:      cfg.MaxBatch,
		Tracer:        tracing.Tracer(),
		Observe: func(ctx context.Context, operation, outcome string, d time.Duration) {
			metrics.ObserveOperation(operation, outcome, d)
			telemetry.SetOperationName(ctx, operation)
		},
	})
	return server.NewHandler(server.Deps{
		Logger:         logger,
		Metrics:        metrics,
		Tracing:        tracing,
		Playground:     playgroundHandler,
		Explorer:       explorer.Handler("/query"),
		SchemaSDL:      graph.SDL(),
		Readiness:      readiness(configCache, cfg.CacheTTL+cfg.CacheMaxStale),
		Auth:           authn,
		RateLimit:      limiter,
		RequestTimeout: cfg.RequestTimeout,
		CORSOrigins:    cfg.CORSAllowedOrigins,
		GraphQL:        gql,
		Stored:         gql.Stored,
		Source:         meteredSource{configCache, metrics},
		Loaders:        loaders.Options{Wait: cfg.LoaderWait, OnBatch: metrics.ObserveBatch},
	}), nil
}

// meteredSource counts cache hits, misses, stale serves and errors.
type meteredSource struct {
	cache   *cache.Cache[*opportunity.Snapshot]
	metrics *telemetry.Metrics
}

func (s meteredSource) Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error) {
	res, err := s.cache.Get(ctx)
	switch {
	case err != nil:
		s.metrics.ObserveCache("error")
	case res.Stale:
		s.metrics.ObserveCache("stale")
	case res.Refreshed:
		s.metrics.ObserveCache("miss")
	default:
		s.metrics.ObserveCache("hit")
	}
	return res, err
}

// startSimulator serves the demo endpoint on a loopback port, checking the same
// signature recipe the client uses, and returns its base URL.
func startSimulator(cfg config.Config) (string, func(), error) {
	sim := simulator.New(simulator.Options{Credentials: cfg.Credentials, Recipe: cfg.Recipe})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: cfg.ReadHeaderTimeout}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed when closed below
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// readiness is ready while a configuration no older than maxAge is cached.
func readiness(c *cache.Cache[*opportunity.Snapshot], maxAge time.Duration) func() (bool, map[string]any) {
	return func() (bool, map[string]any) {
		res, ok := c.Peek()
		if !ok {
			return false, map[string]any{"status": "not ready", "reason": "no opportunity configuration fetched yet"}
		}
		detail := map[string]any{
			"configVersion": res.Value.Version(),
			"ageSeconds":    int64(res.Age.Seconds()),
			"stale":         res.Stale,
		}
		if res.Age > maxAge {
			detail["status"], detail["reason"] = "not ready", "the cached configuration is older than CACHE_TTL + CACHE_MAX_STALE"
			return false, detail
		}
		detail["status"] = "ready"
		return true, detail
	}
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
