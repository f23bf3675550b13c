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

	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
)

// Deps is what the handler needs; run builds it.
type Deps struct {
	Logger     *slog.Logger
	GraphQL    http.Handler   // graph.NewHandler
	Source     loaders.Source // the configuration cache
	LoaderWait time.Duration
}

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

	// Only GET and POST are mounted; chi answers 405 to the rest. Cross-site
	// form posts (and any cross-origin unsafe request a browser marks so) are
	// refused before they cost anything.
	csrf := http.NewCrossOriginProtection()
	gql := csrf.Handler(loaders.Middleware(d.Source, d.LoaderWait)(d.GraphQL))
	r.Method(http.MethodGet, "/query", gql)
	r.Method(http.MethodPost, "/query", gql)
	return r
}
