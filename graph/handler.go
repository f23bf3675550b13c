package graph

import (
	"context"
	"log/slog"
	"math"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
)

// queryCacheSize bounds gqlgen's cache of parsed and validated documents. A
// front-end sends a few dozen distinct operations; 1000 leaves room for many apps.
const queryCacheSize = 1000

// FreshnessExtension is the key under the response's extensions that tells a
// client it was served a stale configuration.
const FreshnessExtension = "opportunityConfig"

// NewHandler builds the GraphQL endpoint explicitly (not NewDefaultServer, which
// is meant for examples): POST and GET only, a bounded query cache, our error
// presenter and recover function. It expects loaders.Middleware in front.
func NewHandler(logger *slog.Logger) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(presentError(logger))
	srv.SetRecoverFunc(recoverPanic(logger))
	srv.AroundResponses(addFreshness)
	return srv
}

// addFreshness tells the client when the configuration it got is a stale copy
// kept because the upstream is failing (RFC 5861 stale-if-error).
func addFreshness(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	l := loaders.For(ctx)
	if resp == nil || l == nil {
		return resp
	}
	res, ok := l.Freshness()
	if !ok || !res.Stale {
		return resp
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions[FreshnessExtension] = map[string]any{
		"stale":      true,
		"ageSeconds": int64(math.Floor(res.Age.Seconds())),
		"version":    res.Value.Version(),
	}
	return resp
}
