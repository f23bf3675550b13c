package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	gqllru "github.com/99designs/gqlgen/graphql/handler/lru"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
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
	// FastPath executes the queries it covers with internal/fastpath, over the
	// request's snapshot, instead of gqlgen's interpreter (FAST_PATH).
	FastPath bool
}

// Executor is gqlgen's executor, which parses, validates, costs and runs
// every operation, with the compiled fast path in front of its execution:
// a validated query the fast path covers is answered by its plan, byte for
// byte what gqlgen would answer (internal/fastpath's tests prove it); anything
// else (introspection, what the plan does not cover, a configuration that
// could not be had) runs on gqlgen.
type Executor struct {
	gql    *executor.Executor
	schema *ast.Schema
	// plans holds a plan (its compiled part nil when not covered) per
	// parsed document and operation. The documents are gqlgen's query cache's, so one document
	// text maps to one pointer while it is cached; bounded like that cache.
	plans *lru.Cache[planKey, *plan] // nil: the fast path is off
}

// plan is a compiled operation (nil: not covered) and the size of its last
// answer, so that the next one is written into a buffer of about its size
// instead of one grown by doubling (a quarter of the full query's time).
type plan struct {
	compiled *fastpath.Plan
	lastSize atomic.Int64
}

type planKey struct {
	doc       *ast.QueryDocument
	operation string
}

var _ graphql.GraphExecutor = (*Executor)(nil)

// CreateOperationContext parses, validates and costs the request (gqlgen).
func (e *Executor) CreateOperationContext(ctx context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	return e.gql.CreateOperationContext(ctx, p)
}

// DispatchError presents a request's errors (gqlgen).
func (e *Executor) DispatchError(ctx context.Context, list gqlerror.List) *graphql.Response {
	return e.gql.DispatchError(ctx, list)
}

// DispatchOperation runs a validated operation: by its plan when the fast
// path covers it, otherwise by gqlgen.
func (e *Executor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if nulls := nullVariables(rc); len(nulls) > 0 {
		if name, ok := nullCondition(rc, nulls); ok {
			// gqlgen panics on a null @skip/@include condition at the root
			// and reports field errors below it; either way the request
			// cannot be answered as asked, so it is refused as a whole.
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{apierror.GraphQL(apierror.ValidationFailed,
				fmt.Sprintf("variable $%s is the condition of @skip or @include and must be true or false, not null", name))}}), ctx
		}
		// Another null may still make gqlgen answer with errors a plan
		// does not report: gqlgen answers.
		return e.gql.DispatchOperation(ctx, rc)
	}
	if resp := e.fast(ctx, rc); resp != nil {
		return graphql.OneShot(resp), ctx
	}
	return e.gql.DispatchOperation(ctx, rc)
}

// nullVariables returns the names of rc's variables that are null.
func nullVariables(rc *graphql.OperationContext) []string {
	var nulls []string
	for name, v := range rc.Variables {
		if v == nil {
			nulls = append(nulls, name)
		}
	}
	return nulls
}

// nullCondition returns the name of a variable of nulls that is the
// condition of a @skip or @include the operation can reach.
func nullCondition(rc *graphql.OperationContext, nulls []string) (string, bool) {
	if rc.Operation == nil {
		return "", false
	}
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) (string, bool)
	conditions := func(list ast.DirectiveList) (string, bool) {
		for _, d := range list {
			if d.Name != "skip" && d.Name != "include" {
				continue
			}
			if arg := d.Arguments.ForName("if"); arg != nil && arg.Value != nil && arg.Value.Kind == ast.Variable && slices.Contains(nulls, arg.Value.Raw) {
				return arg.Value.Raw, true
			}
		}
		return "", false
	}
	walk = func(set ast.SelectionSet) (string, bool) {
		for _, sel := range set {
			var list ast.DirectiveList
			var children ast.SelectionSet
			switch s := sel.(type) {
			case *ast.Field:
				list, children = s.Directives, s.SelectionSet
			case *ast.InlineFragment:
				list, children = s.Directives, s.SelectionSet
			case *ast.FragmentSpread:
				list = s.Directives
				if !seen[s.Name] && rc.Doc != nil {
					seen[s.Name] = true
					if f := rc.Doc.Fragments.ForName(s.Name); f != nil {
						children = f.SelectionSet
					}
				}
			}
			if name, ok := conditions(list); ok {
				return name, true
			}
			if name, ok := walk(children); ok {
				return name, true
			}
		}
		return "", false
	}
	return walk(rc.Operation.SelectionSet)
}

// fast answers rc by its plan, or returns nil for gqlgen to answer.
func (e *Executor) fast(ctx context.Context, rc *graphql.OperationContext) *graphql.Response {
	if e.plans == nil || rc.Doc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Query {
		return nil
	}
	key := planKey{rc.Doc, rc.OperationName}
	p, ok := e.plans.Get(key)
	if !ok {
		compiled, err := fastpath.Compile(e.schema, rc.Doc, rc.OperationName)
		if err != nil {
			compiled = nil // not covered: remembered, so it is not compiled again
		}
		p = &plan{compiled: compiled}
		e.plans.Add(key, p)
	}
	l := loaders.For(ctx)
	if p.compiled == nil || l == nil {
		return nil
	}
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil // gqlgen presents the error, as it always has
	}
	// An eighth more than last time: answers of one operation change size
	// only with the configuration.
	last := p.lastSize.Load()
	data := p.compiled.Execute(make([]byte, 0, last+last/8), snap, rc.Variables)
	p.lastSize.Store(int64(len(data)))
	return &graphql.Response{Data: data, Extensions: freshness(ctx)}
}

// NewExecutor builds gqlgen's executor explicitly (not NewDefaultServer, which
// is meant for examples): bounded parser and query cache, validation limits, a
// complexity limit, persisted documents, the error presenter and the recover
// function. It is the GraphQL half of the service; internal/endpoint serves it
// over HTTP.
func NewExecutor(logger *slog.Logger, opts Options) *Executor {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}, Complexity: complexity()})
	exec := executor.New(es)
	switch {
	case opts.TrustedDocuments != nil:
		exec.Use(persisted.OnlyListed{Manifest: opts.TrustedDocuments})
	case opts.APQCacheSize > 0:
		exec.Use(extension.AutomaticPersistedQuery{Cache: gqllru.New[string](opts.APQCacheSize)})
	}
	exec.SetQueryCache(gqllru.New[*ast.QueryDocument](queryCacheSize))
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
	e := &Executor{gql: exec, schema: es.Schema()}
	if opts.FastPath {
		// Only fails for a non-positive size.
		e.plans, _ = lru.New[planKey, *plan](queryCacheSize)
	}
	return e
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
	if resp == nil {
		return resp
	}
	if ext := freshness(ctx); ext != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		maps.Copy(resp.Extensions, ext)
	}
	return resp
}

// freshness is the response extension that marks an answer built from a
// stale configuration, or nil when it was not: the same for gqlgen's answers
// and the fast path's.
func freshness(ctx context.Context) map[string]any {
	l := loaders.For(ctx)
	if l == nil {
		return nil
	}
	res, ok := l.Freshness()
	if !ok || !res.Stale {
		return nil
	}
	return map[string]any{FreshnessExtension: map[string]any{
		"stale":      true,
		"ageSeconds": int64(math.Floor(res.Age.Seconds())),
		"version":    res.Value.Version(),
	}}
}
