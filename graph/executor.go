package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
)

// queryCacheSize bounds gqlgen's cache of parsed and validated documents. A
// front-end sends a few dozen distinct operations; 1000 leaves room for many apps.
const queryCacheSize = 1000

// FreshnessExtension is the key under the response's extensions that tells a
// client it was served a stale configuration.
const FreshnessExtension = loaders.FreshnessExtension

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
	// APQCache, when set, holds the APQ documents instead of an LRU of
	// APQCacheSize: internal/redis's, shared by the replicas.
	APQCache graphql.Cache[string]
	// TrustedDocuments, when set, is the only set of documents that may run;
	// APQ is then off, since it would let clients register new ones.
	TrustedDocuments persisted.Manifest
	// FastPath executes the queries it covers with internal/fastpath, over the
	// request's snapshot, instead of gqlgen's interpreter (FAST_PATH).
	FastPath bool
	// ExecutionMemory bounds the memory the executions running at once may
	// hold, each weighed by the answer its cost says it will build
	// (EXECUTION_MEMORY); 0 is no bound. A request waits up to ExecutionWait
	// for its share, then is refused with OVERLOADED.
	ExecutionMemory int64
	ExecutionWait   time.Duration
	// Admission paces each client's executions by their counted weight
	// (EXECUTION_RATE); nil admits everything.
	Admission Admission
	// Live feeds Subscription.opportunityConfigChanged; nil refuses
	// subscriptions.
	Live *live.Feed
	// Subgraph serves federation's _service and _entities (SUBGRAPH_MODE);
	// off, validation refuses them with FEDERATION_DISABLED.
	Subgraph bool
	// Gateway, with Subgraph, says which requests may select them and
	// which may run them unlisted under TrustedDocuments; nil lets every
	// request select them and none run unlisted.
	Gateway Gateway
}

// Admission paces executions: Admit takes weight (limits.WholeUnits: a
// thousandth of the whole configuration) from the request's client's budget
// and says whether the execution may run, or when it could.
// *ratelimit.Executions is one.
type Admission interface {
	Admit(ctx context.Context, weight int) (retryAfter time.Duration, ok bool)
}

// RetryAfterExtension is the key under a refusal's extensions that says, in
// whole seconds, when the request may be sent again; internal/endpoint
// writes it as the Retry-After header too.
const RetryAfterExtension = "retryAfterSeconds"

// Memory an execution holds per byte of its answer: the fast path's buffer,
// the endpoint's encoded copy and the stored answer; gqlgen's result tree,
// its per-field contexts, then the same copies. BenchmarkCost
// (internal/endpoint) prints the peak heap of the large dataset's heaviest
// query (1.9 MB): about 22 MiB more than at rest on gqlgen, so 40 per byte
// leaves room for the garbage a collection has not yet reclaimed.
const (
	fastPathMemoryPerByte = 3
	gqlgenMemoryPerByte   = 40
)

// Executor is gqlgen's executor, which parses, validates, costs and runs
// every operation, with the compiled fast path in front of its execution:
// a validated query the fast path covers is answered by its plan, byte for
// byte what gqlgen would answer (internal/fastpath's tests prove it); anything
// else (introspection, what the plan does not cover, a configuration that
// could not be had) runs on gqlgen.
type Executor struct {
	gql    *executor.Executor
	schema *ast.Schema
	// plans holds the plans of each parsed document and operation. The
	// documents are gqlgen's query cache's, so one document text maps to one
	// pointer while it is cached; bounded like that cache.
	plans    *lru.Cache[planKey, *plan]
	fastPath bool

	// The cost bounds: limits' MaxCostFactor and MaxResponseBytes, measured
	// against whole, the configuration served once, per snapshot (budget).
	limits limits.Limits
	whole  *fastpath.Whole
	budget atomic.Pointer[budget]

	memory    *memoryBudget // nil: executions are not bounded by memory
	admission Admission     // nil: executions are not paced
	subgraph  bool          // SUBGRAPH_MODE: _service and _entities are served
	gateway   Gateway       // with subgraph, who may select them; nil: every request
}

// plan is an operation's compiled plan (nil: not covered, or the fast path
// is off), its cost plan (the compiled one when there is one; nil: its cost
// cannot be counted), and the size of its last answer, so that the next one
// is written into a buffer of about its size instead of one grown by
// doubling (a quarter of the full query's time).
type plan struct {
	compiled *fastpath.Plan
	cost     *fastpath.Plan
	lastSize atomic.Int64
	// counted is the count of the last snapshot, for an operation whose
	// count no variable changes (most front-end queries): counted once per
	// configuration version, not per request.
	counted atomic.Pointer[counted]
}

// counted is one snapshot's count of an operation.
type counted struct {
	snap   *opportunity.Snapshot
	cost   fastpath.Cost
	within bool
}

// budget is the largest answer allowed on one snapshot.
type budget struct {
	snap  *opportunity.Snapshot
	whole fastpath.Cost
	limit fastpath.Cost
}

type planKey struct {
	doc       *ast.QueryDocument
	operation string
}

var _ graphql.GraphExecutor = (*Executor)(nil)

// CreateOperationContext parses, validates and costs the request (gqlgen),
// and refuses Int variables outside 32 bits, naming the variable: gqlparser
// coerces variables with no rule to hook (see limits.IntVariables). The raw
// variables are read, so that one gqlparser failed itself (1e20 for an Int)
// gets the clear message too; once an operation is found, gqlgen has set
// rc.Operation, whether or not coercion failed.
func (e *Executor) CreateOperationContext(ctx context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	rc, errs := e.gql.CreateOperationContext(ctx, p)
	if rc != nil && rc.Operation != nil {
		if err := limits.IntVariables(e.schema, rc.Operation, p.Variables); err != nil {
			return rc, gqlerror.List{err}
		}
	}
	return rc, errs
}

// DispatchError presents a request's errors (gqlgen).
func (e *Executor) DispatchError(ctx context.Context, list gqlerror.List) *graphql.Response {
	return e.gql.DispatchError(ctx, list)
}

// DispatchOperation runs a validated operation: it refuses a null
// @skip/@include condition, counts the answer on the request's snapshot and
// refuses it over the cost bounds, waits for the memory it will take, then
// executes it by its plan when the fast path covers it, otherwise by gqlgen.
func (e *Executor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		// A stream of events, each a few bytes, read from the feed: nothing
		// to count or budget, and its handler's nil ends the stream.
		return e.gql.DispatchOperation(ctx, rc)
	}
	return e.dispatchQuery(ctx, rc)
}

// dispatchQuery is DispatchOperation for a query. It is a function of its
// own so that a subscription's stream, which stays in DispatchOperation for
// its whole life, does not hold this frame (half a kilobyte) on its stack
// (TestStreamMemory, internal/server).
func (e *Executor) dispatchQuery(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if err := e.federationGate(ctx, rc); err != nil {
		return refusal(err), ctx
	}
	nulls := nullVariables(rc)
	if len(nulls) > 0 {
		if name, ok := nullCondition(rc, nulls); ok {
			// gqlgen panics on a null @skip/@include condition at the root
			// and reports field errors below it; either way the request
			// cannot be answered as asked, so it is refused as a whole.
			return refusal(apierror.GraphQL(apierror.ValidationFailed,
				fmt.Sprintf("variable $%s is the condition of @skip or @include and must be true or false, not null", name))), ctx
		}
	}
	p := e.planFor(rc)
	var snap *opportunity.Snapshot
	if l := loaders.For(ctx); l != nil && p != nil {
		// An error is gqlgen's to present, as it always has been.
		snap, _ = l.Snapshot(ctx)
	}
	release := func() {}
	if snap != nil && p.cost == nil {
		// Every validated query can be counted (CompileCost covers what the
		// fast path does not); one that cannot is not run unbounded.
		return refusal(apierror.GraphQL(apierror.CostLimitExceeded, "the cost of this operation cannot be counted, so it is not run")), ctx
	}
	if snap != nil {
		cost, refused := e.check(p, snap, rc.Variables)
		if refused == nil {
			refused = e.admit(ctx, cost, snap)
		}
		if refused != nil {
			return refusal(refused), ctx
		}
		perByte := int64(gqlgenMemoryPerByte)
		if p.compiled != nil && len(nulls) == 0 && !p.compiled.MayNeedReference() {
			perByte = fastPathMemoryPerByte
		}
		var err *gqlerror.Error
		if release, err = e.memory.acquire(ctx, perByte*int64(cost.Bytes)); err != nil {
			return refusal(err), ctx
		}
	}
	if ctx.Err() != nil {
		// Its client left, or its deadline passed, while it was counted
		// or waited for memory: nothing is built for nobody.
		release()
		return refusal(cancelled()), ctx
	}
	if snap != nil && p.compiled != nil && len(nulls) == 0 {
		// Another null may make gqlgen answer with errors a plan does
		// not report: gqlgen answers those.
		if resp := e.fast(ctx, p, snap, rc); resp != nil {
			release()
			return graphql.OneShot(resp), ctx
		}
		// The answer holds an error only gqlgen reports: gqlgen answers,
		// within the memory budgeted for it (MayNeedReference).
	}
	h, ctx := e.gql.DispatchOperation(ctx, rc)
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		once.Do(release)
		if resp == nil || ctx.Err() != nil {
			// Stopped by its deadline or its client (see stopWhenDone):
			// whatever was built is not an answer. gqlgen answers nil
			// when the context was done before it began.
			return &graphql.Response{Errors: gqlerror.List{cancelled()}}
		}
		return resp
	}, ctx
}

// cancelled is the error of an execution stopped by its deadline or its
// client.
func cancelled() *gqlerror.Error {
	return apierror.GraphQL(apierror.RequestCancelled, "the request was cancelled or ran out of time before its answer was ready")
}

// refusal answers an operation refused as a whole: no data.
func refusal(err *gqlerror.Error) graphql.ResponseHandler {
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
}

// planFor returns rc's plans, compiling them on first use; nil for what is
// not a query.
func (e *Executor) planFor(rc *graphql.OperationContext) *plan {
	if rc.Doc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Query {
		return nil
	}
	key := planKey{rc.Doc, rc.OperationName}
	if p, ok := e.plans.Get(key); ok {
		return p
	}
	p := &plan{}
	if e.fastPath {
		if compiled, err := fastpath.Compile(e.schema, rc.Doc, rc.OperationName); err == nil {
			p.compiled, p.cost = compiled, compiled
		}
	}
	if p.cost == nil {
		// Not compiled (remembered, so it is not compiled again): counted
		// by a plan that covers introspection and any number of conditions.
		p.cost, _ = fastpath.CompileCost(e.schema, rc.Doc, rc.OperationName)
	}
	e.plans.Add(key, p)
	return p
}

// check counts the answer to p on snap (once per snapshot when no variable
// can change it) and refuses it over the bounds, with the count and the
// bound in the error's extensions.
func (e *Executor) check(p *plan, snap *opportunity.Snapshot, vars map[string]any) (fastpath.Cost, *gqlerror.Error) {
	b := e.budgetFor(snap)
	var cost fastpath.Cost
	var within bool
	if c := p.counted.Load(); c != nil && c.snap == snap {
		cost, within = c.cost, c.within
	} else {
		cost, within = p.cost.Cost(snap, vars, b.limit)
		if !p.cost.ReadsVariables() {
			p.counted.Store(&counted{snap: snap, cost: cost, within: within})
		}
	}
	if within {
		return cost, nil
	}
	if b.limit.Values > 0 && cost.Values > b.limit.Values {
		err := apierror.GraphQL(apierror.CostLimitExceeded, fmt.Sprintf(
			"the answer would hold more than %d values; the limit is %d (MAX_COST_FACTOR %d times the %d values of the whole configuration)",
			b.limit.Values, b.limit.Values, e.limits.MaxCostFactor, b.whole.Values))
		err.Extensions["cost"] = cost.Values
		err.Extensions["maxCost"] = b.limit.Values
		return cost, err
	}
	err := apierror.GraphQL(apierror.ResponseTooLarge, fmt.Sprintf(
		"the answer would be more than %d bytes; the limit is %d (MAX_RESPONSE_BYTES)", b.limit.Bytes, b.limit.Bytes))
	err.Extensions["bytes"] = cost.Bytes
	err.Extensions["maxBytes"] = b.limit.Bytes
	return cost, err
}

// admit takes the execution's weight from its client's budget: its counted
// values in thousandths of the whole configuration, at least one.
func (e *Executor) admit(ctx context.Context, cost fastpath.Cost, snap *opportunity.Snapshot) *gqlerror.Error {
	if e.admission == nil {
		return nil
	}
	whole := max(e.budgetFor(snap).whole.Values, 1)
	weight := max(1, (cost.Values*limits.WholeUnits+whole-1)/whole)
	wait, ok := e.admission.Admit(ctx, weight)
	if ok {
		return nil
	}
	err := apierror.GraphQL(apierror.RateLimited, fmt.Sprintf(
		"this client's executions are over EXECUTION_RATE; this one weighs %d thousandths of the whole configuration; stored answers are not limited", weight))
	err.Extensions[RetryAfterExtension] = int(math.Ceil(wait.Seconds()))
	return err
}

// budgetFor returns the bounds on snap, computed once per snapshot: the
// configuration changes a few times a day, and every request of one
// version shares them.
func (e *Executor) budgetFor(snap *opportunity.Snapshot) *budget {
	if b := e.budget.Load(); b != nil && b.snap == snap {
		return b
	}
	// The whole configuration's size weighs executions too (admit), with
	// or without a cost bound.
	b := &budget{snap: snap, whole: e.whole.Size(snap), limit: fastpath.Cost{Bytes: e.limits.MaxResponseBytes}}
	if e.limits.MaxCostFactor > 0 {
		b.limit.Values = max(e.limits.MaxCostFactor*b.whole.Values, limits.MinCost)
	}
	e.budget.Store(b)
	return b
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

// fast answers rc by its compiled plan over snap; nil when the answer holds
// an error only gqlgen reports (fastpath.ErrNeedsReference).
func (e *Executor) fast(ctx context.Context, p *plan, snap *opportunity.Snapshot, rc *graphql.OperationContext) *graphql.Response {
	// An eighth more than last time: answers of one operation change size
	// only with the configuration.
	last := p.lastSize.Load()
	data, err := p.compiled.ExecuteContext(ctx, make([]byte, 0, last+last/8), snap, rc.Variables)
	if errors.Is(err, fastpath.ErrNeedsReference) {
		return nil
	}
	if err != nil {
		return &graphql.Response{Errors: gqlerror.List{cancelled()}}
	}
	p.lastSize.Store(int64(len(data)))
	return &graphql.Response{Data: data, Extensions: freshness(ctx)}
}

// NewExecutor builds gqlgen's executor explicitly (not NewDefaultServer, which
// is meant for examples): bounded parser and query cache, validation limits,
// persisted documents, the error presenter and the recover function; the
// cost bounds and the memory budget are the Executor's own. It is the GraphQL half of the service; internal/endpoint serves it
// over HTTP.
func NewExecutor(logger *slog.Logger, opts Options) *Executor {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{Live: opts.Live}})
	exec := executor.New(es)
	switch {
	case opts.TrustedDocuments != nil && opts.Subgraph && opts.Gateway != nil:
		exec.Use(gatewayDocuments{OnlyListed: persisted.OnlyListed{Manifest: opts.TrustedDocuments}, gateway: opts.Gateway, maxTokens: opts.Limits.MaxTokens})
	case opts.TrustedDocuments != nil:
		exec.Use(persisted.OnlyListed{Manifest: opts.TrustedDocuments})
	case opts.APQCacheSize > 0 && opts.APQCache != nil:
		exec.Use(extension.AutomaticPersistedQuery{Cache: opts.APQCache})
	case opts.APQCacheSize > 0:
		exec.Use(extension.AutomaticPersistedQuery{Cache: gqllru.New[string](opts.APQCacheSize)})
	}
	exec.SetQueryCache(gqllru.New[*ast.QueryDocument](queryCacheSize))
	if opts.Limits.MaxTokens > 0 {
		exec.SetParserTokenLimit(opts.Limits.MaxTokens)
	}
	rulesFn := opts.Limits.Rules()
	if !opts.Introspection {
		rulesFn = withoutIntrospection(rulesFn)
	}
	if !opts.Subgraph {
		rulesFn = refusingFederation(rulesFn)
	}
	exec.SetDefaultRulesFn(rulesFn)
	exec.AroundFields(stopWhenDone)
	if opts.Introspection {
		exec.Use(extension.Introspection{})
	} else {
		exec.SetDisableSuggestion(true)
	}
	exec.SetErrorPresenter(presentError(logger))
	exec.SetRecoverFunc(recoverPanic(logger))
	exec.AroundResponses(addFreshness)
	e := &Executor{
		gql:       exec,
		schema:    es.Schema(),
		fastPath:  opts.FastPath,
		limits:    opts.Limits,
		whole:     fastpath.NewWhole(es.Schema()),
		memory:    newMemoryBudget(opts.ExecutionMemory, opts.ExecutionWait),
		admission: opts.Admission,
	}
	if opts.Subgraph {
		e.subgraph, e.gateway = true, opts.Gateway
	}
	// Only fails for a non-positive size.
	e.plans, _ = lru.New[planKey, *plan](queryCacheSize)
	return e
}

// stopWhenDone resolves nothing more once the request's context is done (its
// deadline passed, its client gone): gqlgen would otherwise build the rest
// of the answer for nobody. The fields left resolve to errors, and
// DispatchOperation answers REQUEST_CANCELLED in their place.
func stopWhenDone(ctx context.Context, next graphql.Resolver) (any, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
		return next(ctx)
	}
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
	return loaders.StaleExtension(res.Value.Version(), res.Age)
}
