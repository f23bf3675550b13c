// Package server builds the whole service from its configuration: the one
// constructor that run, every test, the benchmark and the soak call. routes.go
// lists every route and middleware on one screen.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/configsource"
	"github.com/oppconfig/oppconfig-graphql/internal/endpoint"
	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/origin"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/redis"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/subgraph"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// Deps are what the service takes from its caller rather than from the
// configuration: where it logs and traces, and, for tests, its clock.
type Deps struct {
	Logger  *slog.Logger       // required
	Tracing *telemetry.Tracing // nil: spans are not recorded
	Metrics *telemetry.Metrics // nil: a registry of its own
	// Now is the configuration cache's clock; nil is time.Now. Tests move it
	// to expire the TTL without waiting.
	Now func() time.Time
	// StreamsOpen, when set, is told how many streams are open, rounded up
	// to a multiple of 64, each time that changes: run grows Go's soft
	// memory limit by StreamMemory per stream with it (unless GOMEMLIMIT is
	// the operator's).
	StreamsOpen func(n int)
}

// Service is the assembled service.
type Service struct {
	// Handler serves every route (routes.go).
	Handler http.Handler
	// Config is the configuration copy every request reads.
	Config *configsource.Source
	// Metrics is what /metrics serves.
	Metrics *telemetry.Metrics
	// Responses is the response cache; nil with RESPONSE_CACHE=false.
	Responses *respcache.Cache
	// UpstreamURL is where the configuration comes from: UPSTREAM_URL, or
	// the embedded simulator's loopback address in demo mode.
	UpstreamURL string
	// Live feeds the subscriptions: it watches Config from New to Close.
	Live *live.Feed
	// Redis is what the replicas share; nil without REDIS_URL.
	Redis *redis.Client

	cfg       config.Config
	logger    *slog.Logger
	closers   []func()
	closeOnce sync.Once
	// streams bounds the open streams; endStreams closes them.
	streams *live.Streams
	// keepAlives sends the SSE streams' keep-alives until the streams
	// are closed.
	keepAlives *live.KeepAlives
	// detacher holds the SSE streams taken off net/http's goroutines;
	// endStreams waits for them.
	detacher *live.Detacher
	// feedDone is closed when the feed has stopped and completed every
	// subscription; closeStreams then closes what is still open.
	stopFeed     context.CancelFunc
	feedDone     chan struct{}
	streamsCtx   context.Context
	closeStreams context.CancelFunc
}

// New builds the service from cfg. In demo mode (no UPSTREAM_URL) it starts
// the embedded simulator on a loopback port; Close stops it.
func New(ctx context.Context, cfg config.Config, d Deps) (svc *Service, err error) {
	if d.Logger == nil {
		return nil, errors.New("service: a logger is required")
	}
	if d.Tracing == nil {
		// Without an exporter: trace context is carried, nothing is recorded.
		if d.Tracing, err = telemetry.NewTracing(ctx, func(string) string { return "" }); err != nil {
			return nil, err
		}
	}
	if d.Metrics == nil {
		d.Metrics = telemetry.NewMetrics()
	}
	s := &Service{Metrics: d.Metrics, UpstreamURL: cfg.UpstreamURL, cfg: cfg, logger: d.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.Demo() {
		if s.UpstreamURL, err = s.startSimulator(); err != nil {
			return nil, err
		}
	}
	if !cfg.RedisURL.IsZero() {
		if s.Redis, err = redis.New(redis.Options{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout, Logger: s.logger, Metrics: d.Metrics}); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { _ = s.Redis.Close() })
	}
	if s.Config, err = s.newSource(d); err != nil {
		return nil, err
	}
	s.startFeed(d.Metrics, d.StreamsOpen)
	if s.Handler, err = s.newHandler(ctx, d); err != nil {
		return nil, err
	}
	return s, nil
}

// newSource builds the signed upstream client, instrumented and paced by
// UPSTREAM_RATE_LIMIT, and the configuration copy in front of it: this
// replica's own, or with Redis the one all replicas share, whose version
// changes each replica then hears of at once.
func (s *Service) newSource(d Deps) (*configsource.Source, error) {
	cfg := s.cfg
	// The copy and the call budget are per account: in demo mode every
	// replica's simulator serves the same data, so they share one too.
	tenant := redis.Hash(cfg.Credentials.AppID + " " + cfg.UpstreamURL)
	var calls tanmarket.CallLimiter
	switch {
	case cfg.UpstreamRateLimit > 0 && s.Redis != nil:
		calls = s.Redis.NewCallLimiter(tenant, cfg.UpstreamRateLimit)
	case cfg.UpstreamRateLimit > 0:
		calls = rate.NewLimiter(rate.Limit(cfg.UpstreamRateLimit), cfg.UpstreamRateLimit)
	}
	rt := http.DefaultTransport.(*http.Transport).Clone()
	client, err := tanmarket.NewClient(s.UpstreamURL, cfg.Credentials, cfg.Recipe,
		&http.Client{Transport: d.Metrics.InstrumentTransport(d.Tracing.Transport(rt))},
		tanmarket.Options{
			AttemptTimeout:  cfg.UpstreamTimeout,
			Budget:          cfg.UpstreamBudget,
			MaxRetries:      &cfg.UpstreamRetries,
			BreakerFailures: cfg.BreakerFailures,
			BreakerCooldown: cfg.BreakerCooldown,
			MaxBodyBytes:    cfg.MaxBodyBytes,
			Limiter:         calls,
			OnStateChange: func(from, to string) {
				d.Metrics.ObserveBreaker(from, to)
				s.logger.Warn("upstream circuit breaker changed state", "from", from, "to", to)
			},
		})
	if err != nil {
		return nil, fmt.Errorf("upstream client: %w", err)
	}
	var fetcher configsource.Fetcher = client
	var shared *redis.SharedConfig
	if s.Redis != nil {
		shared, err = s.Redis.NewConfig(client, redis.ConfigOptions{
			Tenant: tenant, TTL: cfg.CacheTTL, MaxStale: cfg.CacheMaxStale, RetryInterval: cfg.CacheRetry,
			Lease: cfg.UpstreamBudget + leaseMargin, Now: d.Now, Logger: s.logger, Metrics: d.Metrics,
		})
		if err != nil {
			return nil, err
		}
		fetcher = shared
	}
	src, err := configsource.New(fetcher, configsource.Options{
		TTL: cfg.CacheTTL, MaxStale: cfg.CacheMaxStale, RetryInterval: cfg.CacheRetry,
		Now: d.Now, Logger: s.logger, Metrics: d.Metrics,
		AllowEmptyAfter: cfg.UpstreamAllowEmpty,
	})
	if err != nil {
		return nil, err
	}
	if shared != nil {
		s.hearVersions(shared, src)
	}
	return src, nil
}

// leaseMargin is how much longer than UPSTREAM_BUDGET a replica holds the
// refresh lease: the budget bounds the upstream call, the margin the Redis
// writes after it.
const leaseMargin = 2 * time.Second

// hearVersions revalidates src whenever a replica publishes a version that
// src does not hold, until Close: the replicas then serve one version, and
// their subscribers hear of a change within a second of the replica that
// fetched it.
func (s *Service) hearVersions(shared *redis.SharedConfig, src *configsource.Source) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		shared.Versions(ctx, func(version string) {
			if held, ok := src.Peek(); ok && held.Value.Version() == version {
				return
			}
			if err := src.Revalidate(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("revalidating after another replica's change failed; the copy held is kept", "version", version, "err", err)
			}
		})
	}()
	s.closers = append(s.closers, func() { stop(); <-done })
}

// memoryHeadroom is what the process holds besides executions and stored
// answers: the configuration (a large tenant's snapshot is about 20 MiB, two
// during a refresh), the runtime, buffers and connections.
const memoryHeadroom = 96 << 20

// StreamMemory is what one open stream holds: measured by
// internal/tools/streams with 10 000 idle streams, 25–27 KiB of RSS per SSE
// stream (its goroutine, the middleware's and gqlgen's records, the
// subscription) and 59 KiB per WebSocket (net/http's connection and buffers
// too, gqlgen's transport goroutines). The soft memory limit
// grows by it for each stream open (Deps.StreamsOpen): without it, 10 000
// streams held more than the limit and the collector ran without pause,
// 27 % of a core with nothing to do.
const StreamMemory = 64 << 10

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) the
// configuration implies with no stream open: what executions may hold at
// once (EXECUTION_MEMORY), what the response cache may keep
// (RESPONSE_CACHE_BYTES) and the rest of the process (memoryHeadroom); each
// open stream adds StreamMemory.
func MemoryLimit(cfg config.Config) int64 {
	limit := cfg.ExecutionMemory + memoryHeadroom
	if cfg.ResponseCache {
		limit += int64(cfg.ResponseCacheBytes)
	}
	return limit
}

// newHandler builds the executor, the /query endpoint and every route.
func (s *Service) newHandler(ctx context.Context, d Deps) (http.Handler, error) {
	cfg := s.cfg
	authOpts := cfg.Auth
	authOpts.Logger = s.logger
	authn, err := auth.New(ctx, authOpts)
	if err != nil {
		return nil, fmt.Errorf("client authentication (AUTH_*): %w", err)
	}
	// Made even with RATE_LIMIT=0: it names the client the execution limit
	// counts.
	rlOpts := ratelimit.Options{Limit: cfg.RateLimit, Window: cfg.RateLimitWindow, TrustedProxies: cfg.TrustedProxies, Exempt: live.IsStream, ClientHeader: cfg.SubgraphClientHeader}
	// The federation gateway's rules (SUBGRAPH_*): nil when not a subgraph.
	var gateway *subgraph.Gate
	if cfg.SubgraphMode {
		gateway = subgraph.New(subgraph.Options{Enabled: true, Secret: cfg.SubgraphSecret, Authenticated: cfg.Auth.Mode != auth.ModeNone})
	}
	var budget ratelimit.SharedBudget
	if s.Redis != nil {
		if cfg.RateLimit > 0 {
			rlOpts.Counter = s.Redis.RateCounter(cfg.RateLimitWindow)
		}
		if cfg.ExecutionRate > 0 {
			budget = s.Redis.NewLedger()
		}
	}
	limiter, err := ratelimit.New(rlOpts)
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	// On wall time, not Deps.Now: a test's stopped clock would never
	// refill a bucket.
	executions, err := ratelimit.NewExecutions(cfg.ExecutionRate, cfg.ExecutionBurst, nil, budget)
	if err != nil {
		return nil, fmt.Errorf("EXECUTION_RATE, EXECUTION_BURST: %w", err)
	}
	var trusted persisted.Manifest
	if cfg.PersistedOnly {
		if trusted, err = persisted.LoadManifest(cfg.PersistedFile); err != nil {
			return nil, fmt.Errorf("PERSISTED_QUERIES_FILE: %w", err)
		}
		d.Metrics.KnownOperations(trusted.OperationNames())
	}
	if cfg.ResponseCache {
		s.Responses = respcache.New(cfg.ResponseCacheBytes)
	}
	origins, err := origin.Parse(cfg.CORSAllowedOrigins...)
	if err != nil {
		return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err)
	}
	var apq graphql.Cache[string]
	if s.Redis != nil && cfg.APQCacheSize > 0 {
		if apq, err = s.Redis.NewAPQ(cfg.APQCacheSize); err != nil {
			return nil, fmt.Errorf("APQ_CACHE_SIZE: %w", err)
		}
	}
	exec := graph.NewExecutor(s.logger, graph.Options{
		Introspection:    cfg.Introspection,
		Limits:           cfg.Limits,
		APQCacheSize:     cfg.APQCacheSize,
		APQCache:         apq,
		TrustedDocuments: trusted,
		FastPath:         cfg.FastPath,
		ExecutionMemory:  cfg.ExecutionMemory,
		ExecutionWait:    cfg.ExecutionWait,
		Admission:        executions,
		Live:             s.Live,
		Subgraph:         gateway != nil,
		Gateway:          gatewayTrust(gateway),
	})
	// Clients are named for the execution limit only; with EXECUTION_RATE=0
	// nothing reads the name, and making it cost an executed request 0.8 µs
	// and three allocations (BenchmarkHandler).
	var nameClient func(context.Context, *http.Request) context.Context
	if executions != nil {
		nameClient = limiter.NameClient
	}
	// Operation spans only when an exporter records them: without one,
	// starting, naming and tagging a span nobody keeps cost every
	// execution six allocations.
	var tracer trace.Tracer
	if d.Tracing.Exporting() {
		tracer = d.Tracing.Tracer()
	}
	gql, err := endpoint.New(exec, s.Config, endpoint.Options{
		MaxBodyBytes:   cfg.MaxRequestBytes,
		MaxBatch:       cfg.MaxBatch,
		Limits:         cfg.Limits,
		RequestTimeout: cfg.RequestTimeout,
		CacheTTL:       cfg.CacheTTL,
		Private:        cfg.Auth.Mode != auth.ModeNone,
		SchemaTag:      graph.SchemaTag(),
		Responses:      s.Responses,
		ExactDocuments: trusted != nil,
		NameClient:     nameClient,
		Observer:       d.Metrics,
		Tracer:         tracer,
		Logger:         s.logger,
		Stream: &endpoint.StreamOptions{
			Streams:    s.streams,
			Client:     limiter.ClientKey,
			KeepAlive:  cfg.StreamKeepAlive,
			KeepAlives: s.keepAlives,
			// One client's bound holds on one connection too.
			MaxSubscriptions: cfg.MaxStreamsPerClient,
			Origins:          origins,
			InitPayload:      authn.InitPayload,
			Shutdown:         s.streamsCtx,
		},
	})
	if err != nil {
		return nil, err
	}
	rd := routeDeps{
		logger:    s.logger,
		metrics:   d.Metrics,
		tracing:   d.Tracing,
		ready:     s.ready,
		auth:      authn,
		subgraph:  gateway,
		rateLimit: limiter,
		origins:   origins,
		graphQL:   gql,
		detacher:  s.detacher,
	}
	if cfg.Playground {
		rd.playground = playground.Handler(playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
		if !cfg.Introspection {
			s.logger.Warn("PLAYGROUND is on but INTROSPECTION is off: GraphiQL reads the schema by introspection, so its docs and completion stay empty; set INTROSPECTION=true with it")
		}
	}
	if cfg.Explorer {
		rd.explorer = explorer.Handler("/query")
	}
	if cfg.Introspection {
		// The SDL is the schema introspection would give: both or neither.
		rd.schemaSDL = graph.SDL()
	}
	if cfg.MetricsAddr == "" {
		rd.metricsPage = d.Metrics.Handler()
	}
	return routes(rd), nil
}

// gatewayTrust is g as graph's Gateway, nil (every request may federate)
// when g is: a nil *subgraph.Gate in the interface would not be nil.
func gatewayTrust(g *subgraph.Gate) graph.Gateway {
	if g == nil {
		return nil
	}
	return g
}

// ready is GET /readyz: the configuration copy's readiness, and with Redis
// its state, which does not change readiness (a replica serves alone).
func (s *Service) ready() (bool, map[string]any) {
	ok, detail := s.Config.Ready()
	if s.Redis != nil {
		detail["redis"] = s.Redis.Ready()
	}
	return ok, detail
}

// feedInterval is how often the feed would check a configuration source
// that cannot say when its copy changes. The service's (configsource) can:
// its feed publishes when a refresh ends and sleeps otherwise (live.Run).
const feedInterval = 250 * time.Millisecond

// startFeed starts the subscriptions' feed, which runs until Close or
// shutdown (endStreams), and the streams' bounds, which report the count of
// open streams to streamsOpen.
func (s *Service) startFeed(metrics *telemetry.Metrics, streamsOpen func(n int)) {
	s.Live = live.New(s.Config, feedInterval)
	s.streams = live.NewStreams(s.cfg.MaxStreams, s.cfg.MaxStreamsPerClient, countStreams(metrics, roundedTo64(streamsOpen)))
	feedCtx, stopFeed := context.WithCancel(context.Background())
	s.stopFeed, s.feedDone = stopFeed, make(chan struct{})
	s.streamsCtx, s.closeStreams = context.WithCancel(context.Background())
	go func() {
		defer close(s.feedDone)
		s.Live.Run(feedCtx)
	}()
	s.keepAlives = live.NewKeepAlives(s.cfg.StreamKeepAlive)
	go s.keepAlives.Run(s.streamsCtx)
	s.detacher = live.NewDetacher(s.logger)
	s.closers = append(s.closers, func() { s.endStreams(context.Background()) })
}

// countStreams shows the open streams in metrics and tells report.
func countStreams(metrics *telemetry.Metrics, report func(open int)) func(open int) {
	return func(open int) {
		metrics.ObserveStreams(open)
		if report != nil {
			report(open)
		}
	}
}

// roundedTo64 calls report with n rounded up to a multiple of 64 when that
// changes: a memory limit set once per 64 streams, not on every one.
func roundedTo64(report func(n int)) func(open int) {
	if report == nil {
		return nil
	}
	last := -1
	return func(open int) { // called under live.Streams' lock: no race on last
		if r := (open + 63) / 64 * 64; r != last {
			last = r
			report(r)
		}
	}
}

// streamGrace is how long endStreams lets the transports write the complete
// message of each subscription the feed ended before their connections are
// closed: the writes are already under way, each a few bytes.
const streamGrace = 200 * time.Millisecond

// endStreams ends every stream cleanly: the feed stops and completes every
// subscription (SSE streams then end with their complete event), then, after
// streamGrace or when ctx is done, every stream still open is closed (a
// WebSocket with a normal closure). Idempotent.
func (s *Service) endStreams(ctx context.Context) {
	if s.stopFeed == nil {
		return
	}
	s.stopFeed()
	select {
	case <-s.feedDone:
	case <-ctx.Done():
	}
	if s.streams.Count() > 0 {
		grace := time.NewTimer(streamGrace)
		defer grace.Stop()
		select {
		case <-grace.C:
		case <-ctx.Done():
		}
	}
	s.closeStreams()
	// The SSE streams taken off net/http's goroutines are not
	// http.Server.Shutdown's to wait for: each writes the end of its body
	// and closes its connection once its transport has returned.
	ctx, cancel := context.WithTimeout(ctx, streamGrace)
	defer cancel()
	s.detacher.Shutdown(ctx)
}

// startSimulator serves the demo endpoint on a loopback port, checking the
// same signature recipe the client uses, and returns its base URL.
func (s *Service) startSimulator() (string, error) {
	sim := simulator.New(simulator.Options{Credentials: s.cfg.Credentials, Recipe: s.cfg.Recipe})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("start simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed when closed
	s.closers = append(s.closers, func() { _ = srv.Close() })
	url := "http://" + ln.Addr().String()
	s.logger.Info("UPSTREAM_URL is not set: serving demo data from the embedded tanmarket simulator", "simulator", url)
	return url, nil
}

// Close stops what New started, last first as defer would: the
// subscriptions' feed and streams, the listener of other replicas' versions,
// Redis, the demo simulator. It is safe to call more than once, concurrently
// too.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		for _, c := range slices.Backward(s.closers) {
			c()
		}
	})
}

// Serve answers on ln, and on METRICS_ADDR when set, until ctx is done, then
// drains in-flight requests on both for up to SHUTDOWN_TIMEOUT together. It
// fetches the configuration in the background at once, so that /readyz turns
// green and the first user does not wait.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.cfg
	servers := []*http.Server{s.httpServer(s.Handler)}
	listeners := []net.Listener{ln}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close() // Serve owns ln, as http.Server.Serve would
			return fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		servers = append(servers, s.httpServer(metricsRoutes(s.logger, s.Metrics.Handler())))
		listeners = append(listeners, mln)
	}
	go s.Config.Warm(ctx)

	serveErr := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { serveErr <- srv.Serve(listeners[i]) }()
	}
	base := browsable(ln.Addr())
	attrs := []any{"addr", base}
	if cfg.Playground {
		attrs = append(attrs, "playground", base+"/")
	}
	if cfg.Explorer {
		attrs = append(attrs, "explorer", base+"/explorer")
	}
	if cfg.MetricsAddr != "" {
		attrs = append(attrs, "metrics", browsable(listeners[1].Addr())+"/metrics")
	}
	s.logger.Info("listening", attrs...)
	if cfg.Demo() && cfg.Playground && cfg.Explorer {
		// A newcomer's first screen: where to look, and that it is not real data.
		s.logger.Info("demo mode: open " + base + "/ for the GraphQL playground and " + base +
			"/explorer for the pipeline explorer; the data is the embedded simulator's demo data, not a real tanmarket account")
	}

	select {
	case err := <-serveErr:
		// One listener failed: the others are closed, not left serving.
		for _, srv := range servers {
			_ = srv.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// Streams first: http.Server.Shutdown waits for their handlers (SSE)
	// or does not see them at all (a WebSocket is hijacked).
	s.endStreams(shutdownCtx)
	// Every listener drains at once, within the one SHUTDOWN_TIMEOUT; what
	// is still open then is closed rather than left to its client.
	shutdownErr := make(chan error, len(servers))
	for _, srv := range servers {
		go func() {
			err := srv.Shutdown(shutdownCtx)
			if err != nil {
				_ = srv.Close()
			}
			shutdownErr <- err
		}()
	}
	var errs []error
	for range servers {
		errs = append(errs, <-shutdownErr)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// httpServer is an http.Server for h with the SERVER_* bounds against slow
// clients, logging its own errors as warnings.
func (s *Service) httpServer(h http.Handler) *http.Server {
	cfg := s.cfg
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// browsable is the base URL a person would open for addr: localhost for a
// listener on every interface ([::] or 0.0.0.0 cannot be opened everywhere).
func browsable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := "localhost"
	if !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
