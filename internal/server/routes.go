package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/origin"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/subgraph"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// routeDeps is what the routes are made of; New builds it.
type routeDeps struct {
	logger     *slog.Logger
	metrics    *telemetry.Metrics
	tracing    *telemetry.Tracing
	playground http.Handler // nil: no playground at / (PLAYGROUND)
	explorer   http.Handler // nil: no explorer at /explorer (EXPLORER)
	schemaSDL  string       // served at /graphql/schema.graphql; "": not served (INTROSPECTION off)
	// metricsPage serves /metrics on this listener; nil when METRICS_ADDR
	// gives /metrics a listener of its own.
	metricsPage http.Handler
	ready       func() (ready bool, detail map[string]any)
	auth        *auth.Authenticator
	subgraph    *subgraph.Gate     // the federation gateway's secret (SUBGRAPH_SECRET); nil: not a subgraph
	rateLimit   *ratelimit.Limiter // requests per client (RATE_LIMIT), and the client's name for the execution limit
	origins     *origin.List       // origins allowed to call from browsers (CORS_ALLOWED_ORIGINS)
	graphQL     http.Handler       // the /query endpoint (internal/endpoint)
	// detacher runs each SSE stream request on a goroutine of its own, so
	// that net/http's can be let go once the stream is open.
	detacher *live.Detacher
}

// routes returns the service's routes:
//
//	GET  /healthz                 the process is alive                         anyone
//	GET  /readyz                  a configuration is cached (503 otherwise)    anyone
//	GET  /                        GraphiQL playground (PLAYGROUND)             credential, Basic challenge
//	GET  /playground/assets/*     its embedded GraphiQL assets                 credential, Basic challenge
//	GET  /explorer, /explorer/*   the pipeline explorer, its CSS and JS        credential, Basic challenge
//	GET  /graphql/schema.graphql  the schema as SDL (INTROSPECTION)            credential, Basic challenge
//	GET  /metrics                 Prometheus metrics (unless METRICS_ADDR)     credential, Bearer challenge
//	GET  /query                   GraphQL over HTTP (queries)                  credential, Bearer challenge
//	POST /query                   GraphQL over HTTP (other methods: 405)       credential, Bearer challenge
//	POST /query, Accept: text/event-stream   subscriptions over SSE            credential, Bearer challenge
//	GET  /query, Upgrade: websocket          graphql-transport-ws              credential, or in connection_init
//
// Every request is given an id and an access-log line, then has panics
// answered, is traced, and gets CORS headers. With AUTH_MODE set, every route
// but the two probes needs the credential /query takes (401 before any
// work): what browsers open challenges Basic, so that the browser asks for
// it and resends it with the page's own requests; what programs call
// challenges Bearer. /query is also checked for a cross-site origin (403)
// before its credentials (or, in SUBGRAPH_MODE, the gateway's
// X-Subgraph-Secret in their place), and against its client's request rate
// (429) after them; the executions it makes are paced by their cost in the
// executor (EXECUTION_RATE), never its stored answers. Streams
// (subscriptions over SSE and WebSocket) are counted by MAX_STREAMS and
// MAX_STREAMS_PER_CLIENT instead of the request rate (internal/live).
// Every refusal is written by apierror.Write. A request that may open an SSE
// stream runs, router and middleware included, on a goroutine of its own
// (live.Detacher, outside the router), so that net/http's connection
// goroutine and buffers can be let go once the stream is open.
func routes(d routeDeps) http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.AccessLog(d.logger)) // request id first: every later log line carries it
	r.Use(recoverer(d.logger))
	r.Use(d.tracing.Middleware)
	if !d.origins.Empty() {
		r.Use(cors.Handler(cors.Options{
			// The same matcher as the cross-origin check below, wildcards
			// included: a preflight it passes is never followed by a 403.
			AllowOriginFunc: func(_ *http.Request, o string) bool { return d.origins.Allows(o) },
			AllowedMethods:  []string{http.MethodGet, http.MethodPost},
			AllowedHeaders:  []string{"Accept", "Content-Type", "Authorization", "X-API-Key", "X-Request-Id", "If-None-Match", "traceparent", "tracestate"},
			ExposedHeaders:  []string{"ETag", "X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
			MaxAge:          600,
		}))
	}
	r.Use(d.metrics.InFlight)

	// The probes are open: a load balancer or an orchestrator has no
	// credential, and they tell nothing but up and ready.
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, detail := d.ready()
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, detail)
	})

	pages := r.With(d.auth.Pages)
	if d.playground != nil {
		pages.Method(http.MethodGet, "/", d.playground)
		pages.Method(http.MethodGet, playground.AssetsPath+"*", d.playground)
	}
	if d.explorer != nil {
		pages.Method(http.MethodGet, "/explorer", d.explorer)
		pages.Method(http.MethodGet, "/explorer/*", d.explorer)
	}
	if d.schemaSDL != "" {
		pages.Get("/graphql/schema.graphql", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, d.schemaSDL)
		})
	}
	if d.metricsPage != nil {
		r.With(d.auth.Middleware).Method(http.MethodGet, "/metrics", d.metricsPage)
	}

	// A federation gateway with SUBGRAPH_SECRET authenticates by it in
	// place of AUTH_MODE's credential (internal/subgraph).
	q := r.With(crossOrigin(d.origins), d.subgraph.Authenticate(d.auth.Middleware))
	if d.rateLimit != nil {
		q = q.With(d.rateLimit.Middleware)
	}
	// Every method goes to the endpoint, which answers GET and POST and
	// refuses the rest itself, GraphQL-shaped (405 with Allow: GET, POST).
	q.Handle("/query", d.graphQL)
	return d.detacher.Handler(r)
}

// crossOrigin refuses cross-site requests that are not safe (POSTs from a
// page of another site) with 403, using http.CrossOriginProtection, except
// from the origins CORS allows: those are exempt exactly when CORS lets them
// through, by the same matcher. CrossOriginProtection's own trusted origins
// are exact strings, so a wildcard given to it would never match and every
// POST after a passing preflight would be refused.
func crossOrigin(origins *origin.List) func(http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierror.Write(w, "", apierror.CrossOriginRefused, "cross-origin request refused")
	}))
	return func(next http.Handler) http.Handler {
		checked := csrf.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if origins.Allows(r.Header.Get("Origin")) {
				next.ServeHTTP(w, r)
				return
			}
			checked.ServeHTTP(w, r)
		})
	}
}

// metricsRoutes serves /metrics alone, on the listener of METRICS_ADDR: no
// access-log line per scrape (a scrape flood must not fill the log either),
// no authentication (the address is the protection), panics answered.
func metricsRoutes(logger *slog.Logger, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return recoverer(logger)(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
