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
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// routeDeps is what the routes are made of; New builds it.
type routeDeps struct {
	logger      *slog.Logger
	metrics     *telemetry.Metrics
	tracing     *telemetry.Tracing
	playground  http.Handler // nil: no playground at /
	explorer    http.Handler
	schemaSDL   string // served at /graphql/schema.graphql
	ready       func() (ready bool, detail map[string]any)
	auth        *auth.Authenticator
	rateLimit   *ratelimit.Limiter // nil: no rate limiting
	corsOrigins []string           // origins allowed to call from browsers
	graphQL     http.Handler       // the /query endpoint (internal/endpoint)
}

// routes returns the service's routes:
//
//	GET  /                        GraphiQL playground (unless switched off)
//	GET  /playground/assets/*     its embedded GraphiQL assets (versioned, immutable)
//	GET  /explorer, /explorer/*   the pipeline explorer page and its CSS and JS
//	GET  /query                   GraphQL over HTTP (queries)
//	POST /query                   GraphQL over HTTP (other methods: 405)
//	GET  /graphql/schema.graphql  the schema as SDL
//	GET  /healthz                 the process is alive
//	GET  /readyz                  a configuration is cached (503 otherwise)
//	GET  /metrics                 Prometheus metrics
//
// Every request is given an id and an access-log line, then has panics
// answered, is traced, and gets CORS headers; /query is then checked for a
// cross-site origin (403), for credentials (401 before any work) and against
// its client's rate (429) before the endpoint answers it. Every refusal is
// written by apierror.Write.
func routes(d routeDeps) http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.AccessLog(d.logger)) // request id first: every later log line carries it
	r.Use(recoverer(d.logger))
	r.Use(d.tracing.Middleware)
	if len(d.corsOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: d.corsOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Accept", "Content-Type", "Authorization", "X-API-Key", "X-Request-Id", "If-None-Match", "traceparent", "tracestate"},
			ExposedHeaders: []string{"ETag", "X-Request-Id", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
			MaxAge:         600,
		}))
	}
	r.Use(d.metrics.InFlight)

	r.Method(http.MethodGet, "/metrics", d.metrics.Handler())
	if d.playground != nil {
		r.Method(http.MethodGet, "/", d.playground)
		r.Method(http.MethodGet, playground.AssetsPath+"*", d.playground)
	}
	r.Method(http.MethodGet, "/explorer", d.explorer)
	r.Method(http.MethodGet, "/explorer/*", d.explorer)
	r.Get("/graphql/schema.graphql", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, d.schemaSDL)
	})
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

	csrf := http.NewCrossOriginProtection()
	for _, origin := range d.corsOrigins {
		// An allowed front-end's POSTs are cross-origin too; trust them here
		// as CORS does. AddTrustedOrigin only fails on a malformed origin,
		// which config has refused already.
		_ = csrf.AddTrustedOrigin(origin)
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierror.Write(w, "", apierror.CrossOriginRefused, "cross-origin request refused")
	}))
	q := r.With(csrf.Handler, d.auth.Middleware)
	if d.rateLimit != nil {
		q = q.With(d.rateLimit.Middleware)
	}
	// Every method goes to the endpoint, which answers GET and POST and
	// refuses the rest itself, GraphQL-shaped (405 with Allow: GET, POST).
	q.Handle("/query", d.graphQL)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
