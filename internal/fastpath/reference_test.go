package fastpath_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// gqlgenData runs query with vars through gqlgen's real executor, set up as
// the service sets it up (graph.NewExecutor with the configuration's default
// limits and introspection on) and with a request's loaders over snap, as
// internal/endpoint installs them, and returns graphql.Response.Data: nil
// when gqlgen refused the request before executing it (parse, validation,
// variables, complexity). Field errors do not make it fail: the data gqlgen
// answers with them is what the fast path must match. It skips t where
// gqlgen's executor panics instead of answering (a null variable read by an
// @skip or @include of the root selection): there is no data to compare.
func gqlgenData(t testing.TB, snap *opportunity.Snapshot, query string, vars map[string]any) []byte {
	t.Helper()
	ref := newReference(t, defaultLimits(t))
	var resp *graphql.Response
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Skipf("gqlgen's executor panicked: %v", p)
			}
		}()
		resp = ref.response(t, snap, query, "", vars)
	}()
	return resp.Data
}

// fastData runs query with vars through the fast path the way the endpoint
// does: gqlgen parses, validates and coerces the variables (the same parser
// and validator, limits and complexity as gqlgenData's executor, through
// executor.CreateOperationContext), then fastpath.Compile plans the document
// and Execute writes the data over snap. It returns nil where gqlgen refuses
// the request, as gqlgenData does; it skips t when Compile returns
// ErrUnsupported (the service would run gqlgen, so there is nothing to
// compare) and fails t on any other Compile error.
func fastData(t testing.TB, snap *opportunity.Snapshot, query string, vars map[string]any) []byte {
	t.Helper()
	plan, opVars, ok := newReference(t, defaultLimits(t)).plan(t, query, "", vars)
	if !ok {
		return nil
	}
	if plan == nil {
		t.Skip("fastpath.Compile: the operation is unsupported")
	}
	data, deferred := execute(t, plan, snap, opVars)
	if deferred {
		t.Skip("the fast path leaves the answer to gqlgen (ErrNeedsReference)")
	}
	return data
}

// execute runs plan as graph.Executor does: the fast path's data, or
// deferred where the fast path leaves the answer to gqlgen
// (ErrNeedsReference), whose response the service then serves.
func execute(t testing.TB, plan *fastpath.Plan, snap *opportunity.Snapshot, vars map[string]any) (data []byte, deferred bool) {
	t.Helper()
	out, err := plan.ExecuteContext(context.Background(), nil, snap, vars)
	switch {
	case errors.Is(err, fastpath.ErrNeedsReference):
		return nil, true
	case err != nil:
		t.Fatalf("ExecuteContext: %v", err)
	}
	return out, false
}

// sameAnswer reports whether the service's answer by the fast path is
// gqlgen's: the same data, or, where the fast path deferred to gqlgen, an
// answer with the errors that made it defer (deferring without them would
// be a fast path that gives up for nothing).
func sameAnswer(resp *graphql.Response, data []byte, deferred bool) bool {
	if deferred {
		return len(resp.Errors) > 0
	}
	return bytes.Equal(data, resp.Data)
}

func defaultLimits(t testing.TB) limits.Limits {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Limits
}

// reference is gqlgen's executor as the service builds it. It is held as
// the interface both gqlgen's executor and graph's wrapper implement; the
// options leave graph's own fast path off, and TestReferenceIsGqlgen checks
// that gqlgen's resolvers really run.
type reference struct {
	exec   graphql.GraphExecutor
	schema *ast.Schema
	// lookups counts the lookups by id gqlgen's resolvers make; the fast
	// path makes none.
	lookups atomic.Int64
}

func newReference(t testing.TB, l limits.Limits) *reference {
	t.Helper()
	// The answer's cost is not what these tests compare: the reference
	// executes whatever it is given, however large.
	l.MaxCostFactor, l.MaxResponseBytes = 0, 0
	return &reference{
		// Introspection on, as in demo mode, so that gqlgen answers what the
		// fast path leaves to it (federation's _service and _entities too, as a
		// subgraph); no FastPath, so that gqlgen executes.
		exec:   graph.NewExecutor(slog.New(slog.DiscardHandler), graph.Options{Introspection: true, Limits: l, Subgraph: true}),
		schema: graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema(),
	}
}

// staticSource is a warm configuration cache holding one snapshot.
type staticSource struct{ snap *opportunity.Snapshot }

func (s staticSource) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	return cache.Result[*opportunity.Snapshot]{Value: s.snap}, nil
}

// response executes query with gqlgen over snap, as internal/endpoint does.
func (r *reference) response(t testing.TB, snap *opportunity.Snapshot, query, operationName string, vars map[string]any) *graphql.Response {
	t.Helper()
	l := loaders.New(staticSource{snap})
	defer func() { r.lookups.Add(l.LookupsByID()) }()
	ctx := loaders.NewContext(context.Background(), l)
	ctx = graphql.StartOperationTrace(ctx)
	rc, errs := r.exec.CreateOperationContext(ctx, &graphql.RawParams{
		Query:         query,
		OperationName: operationName,
		Variables:     vars,
		ReadTime:      graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()},
	})
	if errs != nil {
		return r.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
	}
	responses, ctx := r.exec.DispatchOperation(ctx, rc)
	return responses(ctx)
}

// plan compiles query as the endpoint would: ok is false when gqlgen refuses
// the request; plan is nil when the fast path does not support it.
func (r *reference) plan(t testing.TB, query, operationName string, vars map[string]any) (plan *fastpath.Plan, opVars map[string]any, ok bool) {
	t.Helper()
	ctx := graphql.StartOperationTrace(context.Background())
	rc, errs := r.exec.CreateOperationContext(ctx, &graphql.RawParams{
		Query:         query,
		OperationName: operationName,
		Variables:     vars,
		ReadTime:      graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()},
	})
	if errs != nil {
		return nil, nil, false
	}
	p, err := fastpath.Compile(r.schema, rc.Doc, rc.OperationName)
	switch {
	case errors.Is(err, fastpath.ErrUnsupported):
		return nil, rc.Variables, true
	case err != nil:
		t.Fatalf("fastpath.Compile: %v", err)
	}
	return p, rc.Variables, true
}

// TestReferenceIsGqlgen makes sure the reference executes with gqlgen's
// resolvers (which read the request's snapshot through internal/loaders), not
// with a fast path graph's executor may put in front of them: the byte
// identity tests would otherwise compare the fast path with itself.
func TestReferenceIsGqlgen(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	resp := ref.response(t, fetch(t, nil), `{ opportunityType(typeId: 1001) { typeId } }`, "", nil)
	if string(resp.Data) != `{"opportunityType":{"typeId":1001}}` {
		t.Fatalf("data %s, errors %v", resp.Data, resp.Errors)
	}
	if ref.lookups.Load() == 0 {
		t.Fatal("no lookup by id: the reference did not run gqlgen's resolvers")
	}
}
