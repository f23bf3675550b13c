package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
)

// queryCacheSize bounds gqlgen's cache of parsed and validated documents. A
// front-end sends a few dozen distinct operations; 1000 leaves room for many apps.
const queryCacheSize = 1000

// FreshnessExtension is the key under the response's extensions that tells a
// client it was served a stale configuration.
const FreshnessExtension = "opportunityConfig"

// Options configures the executor.
type Options struct {
	// Introspection serves __schema and __type, and "Did you mean" suggestions
	// in validation errors; off, both are hidden.
	Introspection bool
	// Limits bound the document: tokens, depth, aliases, root fields,
	// directives and complexity are checked here; the sizes the transport
	// checks before parsing are the endpoint's.
	Limits limits.Limits
	// APQCacheSize bounds automatic persisted queries (documents kept); 0
	// turns APQ off.
	APQCacheSize int
	// TrustedDocuments, when set, is the only set of documents that may run;
	// APQ is then off, since it would let clients register new ones.
	TrustedDocuments persisted.Manifest
}

// NewExecutor builds gqlgen's executor explicitly (not NewDefaultServer, which
// is meant for examples): bounded parser and query cache, validation limits, a
// complexity limit, persisted documents, the error presenter and the recover
// function. It is the GraphQL half of the service; internal/endpoint serves it
// over HTTP.
func NewExecutor(logger *slog.Logger, opts Options) *executor.Executor {
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}, Complexity: complexity()}))
	switch {
	case opts.TrustedDocuments != nil:
		exec.Use(persisted.OnlyListed{Manifest: opts.TrustedDocuments})
	case opts.APQCacheSize > 0:
		exec.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](opts.APQCacheSize)})
	}
	exec.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	if opts.Limits.MaxTokens > 0 {
		exec.SetParserTokenLimit(opts.Limits.MaxTokens)
	}
	exec.SetDefaultRulesFn(opts.Limits.Rules())
	if opts.Limits.MaxComplexity > 0 {
		exec.Use(extension.FixedComplexityLimit(opts.Limits.MaxComplexity))
	}
	if opts.Introspection {
		exec.Use(extension.Introspection{})
	} else {
		exec.SetDisableSuggestion(true)
	}
	exec.SetErrorPresenter(presentError(logger))
	exec.SetRecoverFunc(recoverPanic(logger))
	exec.AroundResponses(addFreshness)
	return exec
}

// SchemaTag changes whenever the schema does, so that validators (ETags) made
// for one schema do not match answers of another after a deploy.
var SchemaTag = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(SDL()))
	return hex.EncodeToString(sum[:4])
})

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
