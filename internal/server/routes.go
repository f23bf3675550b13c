// Package server assembles the HTTP handler: every route and middleware of the
// service is listed in NewHandler, on one screen.
package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// Deps is what the handler needs; run builds it.
type Deps struct {
	Logger  *slog.Logger
	GraphQL http.Handler // graph.NewHandler
	// Stored answers requests that need no GraphQL work (graph.Handler.Stored:
	// 304s and response-cache hits), before the deadline and loaders that
	// only execution uses. nil: everything goes to GraphQL.
	Stored         func(http.Handler) http.Handler
	Source         loaders.Source // the configuration cache
	Loaders        loaders.Options
	Metrics        *telemetry.Metrics  // nil: no /metrics
	Tracing        *telemetry.Tracing  // nil: no spans
	Auth           *auth.Authenticator // nil: no client authentication
	RateLimit      *ratelimit.Limiter  // nil: no rate limiting
	RequestTimeout time.Duration       // 0: no per-request deadline
	Playground     http.Handler        // nil: no playground at /
	Explorer       http.Handler        // nil: no explorer at /explorer
	SchemaSDL      string              // served at /graphql/schema.graphql
	CORSOrigins    []string            // origins allowed to call from browsers
	// Readiness reports whether the service can answer: a configuration is
	// cached. detail explains, for operators.
	Readiness func() (ready bool, detail map[string]any)
}

// CodeCrossOrigin is the extensions.code of a refused cross-site request.
const CodeCrossOrigin = "CROSS_ORIGIN_REFUSED"

// NewHandler returns the service's routes:
//
//	GET  /                        GraphiQL playground (unless switched off)
//	GET  /playground/assets/*     its embedded GraphiQL assets (versioned, immutable)
//	GET  /explorer, /explorer/*   the pipeline explorer page and its CSS and JS
//	GET  /query                   GraphQL over HTTP (queries)
//	POST /query                   GraphQL over HTTP
//	GET  /graphql/schema.graphql  the schema as SDL
//	GET  /healthz                 the process is alive
//	GET  /readyz                  a configuration is cached (503 otherwise)
//	GET  /metrics                 Prometheus metrics
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.AccessLog(d.Logger)) // request id first: every later log line carries it
	r.Use(recoverer(d.Logger))
	if d.Tracing != nil {
		r.Use(d.Tracing.Middleware)
	}
	if len(d.CORSOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: d.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Accept", "Content-Type", "Authorization", "X-API-Key", "X-Request-Id", "If-None-Match", "traceparent", "tracestate"},
			ExposedHeaders: []string{"ETag", "X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
			MaxAge:         600,
		}))
	}
	if d.Metrics != nil {
		r.Use(d.Metrics.InFlight)
		r.Method(http.MethodGet, "/metrics", d.Metrics.Handler())
	}

	if d.Playground != nil {
		r.Method(http.MethodGet, "/", d.Playground)
		r.Method(http.MethodGet, playground.AssetsPath+"*", d.Playground)
	}
	if d.Explorer != nil {
		r.Method(http.MethodGet, "/explorer", d.Explorer)
		r.Method(http.MethodGet, "/explorer/*", d.Explorer)
	}
	r.Get("/graphql/schema.graphql", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, d.SchemaSDL)
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, detail := d.Readiness()
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, detail)
	})

	// Only GET and POST are mounted; chi answers 405 to the rest. In order, a
	// request to /query is checked for a cross-site origin, then for
	// credentials (401 before any work), then against its client's rate (429),
	// then answered from what is stored if it can be, else given a deadline
	// that bounds the upstream work it causes and its loaders.
	csrf := http.NewCrossOriginProtection()
	for _, origin := range d.CORSOrigins {
		// An allowed front-end's POSTs are cross-origin too; trust them here
		// as CORS does. AddTrustedOrigin only fails on a malformed origin,
		// which config has refused already.
		_ = csrf.AddTrustedOrigin(origin)
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		auth.WriteError(w, http.StatusForbidden, CodeCrossOrigin, "cross-origin request refused")
	}))
	q := r.With(csrf.Handler)
	if d.Auth != nil {
		q = q.With(d.Auth.Middleware)
	}
	if d.RateLimit != nil {
		q = q.With(d.RateLimit.Middleware)
	}
	if d.Stored != nil {
		q = q.With(d.Stored)
	}
	if d.RequestTimeout > 0 {
		q = q.With(deadline(d.RequestTimeout))
	}
	q = q.With(loaders.Middleware(d.Source, d.Loaders))
	q.Method(http.MethodGet, "/query", d.GraphQL)
	q.Method(http.MethodPost, "/query", d.GraphQL)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
