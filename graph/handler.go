package graph

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// queryCacheSize bounds gqlgen's cache of parsed and validated documents. A
// front-end sends a few dozen distinct operations; 1000 leaves room for many apps.
const queryCacheSize = 1000

// FreshnessExtension is the key under the response's extensions that tells a
// client it was served a stale configuration.
const FreshnessExtension = "opportunityConfig"

// Options configures the GraphQL endpoint.
type Options struct {
	// Introspection serves __schema and __type, and "Did you mean" suggestions
	// in validation errors; off, both are hidden.
	Introspection bool
	Limits        limits.Limits
	MaxBodyBytes  int64 // larger request bodies get 413
	MaxBatch      int   // operations in one batched POST; 0 refuses batches

	// Observe is told of every operation: its name ("" when anonymous or
	// unknown), outcome (ok, error, rejected) and duration. May be nil.
	Observe func(ctx context.Context, operation, outcome string, d time.Duration)
	// Tracer starts a span per operation; nil means no tracing.
	Tracer trace.Tracer
	// HTTPCache makes GET answers cacheable; nil leaves them uncached.
	HTTPCache *HTTPCache
	// ResponseCache keeps encoded answers per configuration version; nil
	// executes every operation.
	ResponseCache *respcache.Cache
	// Current reports the cached configuration's version and age while it is
	// fresh, without fetching; the HTTP and response caches need it.
	Current func() (version string, age time.Duration, ok bool)
	// APQCacheSize bounds automatic persisted queries (documents kept); 0
	// turns APQ off.
	APQCacheSize int
	// TrustedDocuments, when set, is the only set of documents that may run;
	// APQ is then off, since it would let clients register new ones.
	TrustedDocuments persisted.Manifest
}

// DefaultMaxBodyBytes bounds a request body: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Handler is the GraphQL endpoint. ServeHTTP executes operations and expects
// loaders.Middleware in front; Stored is a middleware that answers, before
// any GraphQL work, the requests that need none.
type Handler struct {
	http.Handler // gqlgen's server with our transport
	transport    httpTransport
}

// NewHandler builds the GraphQL endpoint explicitly (not NewDefaultServer, which
// is meant for examples): our own GET/POST transport, bounded parser and query
// cache, validation limits, a complexity limit, the error presenter and the
// recover function.
func NewHandler(logger *slog.Logger, opts Options) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}, Complexity: complexity()}))
	if opts.Observe == nil {
		opts.Observe = func(context.Context, string, string, time.Duration) {}
	}
	if opts.Current == nil {
		opts.Current = func() (string, time.Duration, bool) { return "", 0, false }
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	transport := httpTransport{
		maxBodyBytes: opts.MaxBodyBytes,
		maxBatch:     opts.MaxBatch,
		limits:       opts.Limits,
		observe:      opts.Observe,
		tracer:       opts.Tracer,
		cache:        opts.HTTPCache,
		responses:    opts.ResponseCache,
		current:      opts.Current,
		bodies:       &sync.Pool{New: func() any { return new(bytes.Buffer) }},

		exactDocuments: opts.TrustedDocuments != nil,
	}
	srv.AddTransport(transport)
	switch {
	case opts.TrustedDocuments != nil:
		srv.Use(persisted.OnlyListed{Manifest: opts.TrustedDocuments})
	case opts.APQCacheSize > 0:
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](opts.APQCacheSize)})
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	if opts.Limits.MaxTokens > 0 {
		srv.SetParserTokenLimit(opts.Limits.MaxTokens)
	}
	srv.SetValidationRulesFn(opts.Limits.Rules())
	if opts.Limits.MaxComplexity > 0 {
		srv.Use(extension.FixedComplexityLimit(opts.Limits.MaxComplexity))
	}
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
	}
	srv.SetErrorPresenter(presentError(logger))
	srv.SetRecoverFunc(recoverPanic(logger))
	srv.AroundResponses(addFreshness)
	return &Handler{Handler: srv, transport: transport}
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
