// Package server assembles the HTTP handler: every route and middleware of the
// service is listed in NewHandler, on one screen.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
)

// Deps is what the handler needs; run builds it.
type Deps struct {
	Logger         *slog.Logger
	GraphQL        http.Handler   // graph.NewHandler
	Source         loaders.Source // the configuration cache
	LoaderWait     time.Duration
	Auth           *auth.Authenticator // nil: no client authentication
	RateLimit      *ratelimit.Limiter  // nil: no rate limiting
	RequestTimeout time.Duration       // 0: no per-request deadline
}

// CodeCrossOrigin is the extensions.code of a refused cross-site request.
const CodeCrossOrigin = "CROSS_ORIGIN_REFUSED"

// NewHandler returns the service's routes:
//
//	GET  /        GraphiQL playground
//	GET  /query   GraphQL over HTTP (queries)
//	POST /query   GraphQL over HTTP
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(recoverer(d.Logger))
	r.Use(accessLog(d.Logger))

	r.Get("/", playground.Handler("Opportunity configuration", "/query"))

	// Only GET and POST are mounted; chi answers 405 to the rest. In order, a
	// request to /query is checked for a cross-site origin, then for
	// credentials (401 before any work), then against its client's rate (429),
	// then given a deadline that bounds the upstream work it causes.
	csrf := http.NewCrossOriginProtection()
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
	if d.RequestTimeout > 0 {
		q = q.With(deadline(d.RequestTimeout))
	}
	q = q.With(loaders.Middleware(d.Source, d.LoaderWait))
	q.Method(http.MethodGet, "/query", d.GraphQL)
	q.Method(http.MethodPost, "/query", d.GraphQL)
	return r
}
