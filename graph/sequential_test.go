package graph

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// operation returns a context carrying an operation and a response, as
// gqlgen's executor makes them, and a function returning the errors reported
// so far as "path: message" lines.
func operation(t *testing.T, middleware graphql.RootFieldMiddleware) (context.Context, *graphql.OperationContext, func() []string) {
	t.Helper()
	recoverFunc := func(_ context.Context, v any) error { return fmt.Errorf("panic: %v", v) }
	oc := &graphql.OperationContext{RecoverFunc: recoverFunc, RootResolverMiddleware: middleware}
	ctx := graphql.WithResponseContext(t.Context(), graphql.DefaultErrorPresenter, recoverFunc)
	ctx = graphql.WithOperationContext(ctx, oc)
	errs := func() []string {
		var out []string
		for _, e := range graphql.GetErrors(ctx) {
			out = append(out, e.Path.String()+": "+e.Message)
		}
		return out
	}
	return ctx, oc, errs
}

func marshal(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

// TestMarshalSliceSequentiallyMatchesGqlgen: the same array and the same
// errors as graphql.MarshalSliceConcurrently, whose place it takes.
func TestMarshalSliceSequentiallyMatchesGqlgen(t *testing.T) {
	tests := []struct {
		name             string
		length, panicAt  int // panicAt -1: no element panics
		workerLimit      int64
		cancelled        bool
		omitPanicHandler bool
	}{
		{name: "empty", length: 0, panicAt: -1},
		{name: "one element", length: 1, panicAt: -1},
		{name: "many elements", length: 5, panicAt: -1},
		{name: "the only element panics", length: 1, panicAt: 0},
		{name: "an element panics", length: 4, panicAt: 2},
		{name: "worker limit", length: 3, panicAt: -1, workerLimit: 2},
		{name: "cancelled with a worker limit", length: 3, panicAt: -1, workerLimit: 1, cancelled: true},
	}
	type marshalFunc func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array
	run := func(t *testing.T, f marshalFunc, length, panicAt int, workerLimit int64, cancelled, omit bool) (string, []string) {
		ctx, _, errs := operation(t, nil)
		if cancelled {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		ret := f(ctx, length, workerLimit, omit, func(ctx context.Context, i int) graphql.Marshaler {
			fc := graphql.GetFieldContext(ctx)
			fc.Result = i
			if i == panicAt {
				panic(fmt.Sprintf("element %d", i))
			}
			return graphql.MarshalString(fmt.Sprintf("%d at %s", i, fc.Path()))
		})
		return marshal(ret), errs()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantArray, wantErrs := run(t, graphql.MarshalSliceConcurrently, tt.length, tt.panicAt, tt.workerLimit, tt.cancelled, tt.omitPanicHandler)
			gotArray, gotErrs := run(t, marshalSliceSequentially, tt.length, tt.panicAt, tt.workerLimit, tt.cancelled, tt.omitPanicHandler)
			if gotArray != wantArray || fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
				t.Errorf("sequential: %s %q\ngqlgen:     %s %q", gotArray, gotErrs, wantArray, wantErrs)
			}
		})
	}
	t.Run("cancelled without a worker limit: stops, where gqlgen goes on", func(t *testing.T) {
		// The one deliberate difference: a cancelled request's answer is
		// discarded, so building the rest of its lists is work for nobody.
		got, errs := run(t, marshalSliceSequentially, 3, -1, 0, true, false)
		if got != "[null,null,null]" || fmt.Sprint(errs) != "[[0]: context canceled]" {
			t.Errorf("%s %q", got, errs)
		}
		want, _ := run(t, graphql.MarshalSliceConcurrently, 3, -1, 0, true, false)
		if want == got {
			t.Errorf("gqlgen's stops too (%s): this twin may follow it again", want)
		}
	})
	t.Run("a panic is not caught with omitPanicHandler", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("the panic was caught")
			}
		}()
		run(t, marshalSliceSequentially, 2, 1, 0, false, true)
	})
}

// TestResolveSequentiallyMatchesGqlgen: field i of an object resolved at
// once leaves the object as gqlgen's ResolveConcurrently and Dispatch leave
// it (values, invalid count, errors, the deferred group).
func TestResolveSequentiallyMatchesGqlgen(t *testing.T) {
	value := graphql.MarshalString("v")
	tests := []struct {
		name     string
		nonNull  bool
		result   graphql.Marshaler // nil: the resolver panics
		deferred bool
	}{
		{"non-null value", true, value, false},
		{"non-null field resolves to null", true, graphql.Null, false},
		{"nullable field resolves to null", false, graphql.Null, false},
		{"nullable field resolves to required null", false, graphql.RequiredNull, false},
		{"non-null field panics", true, nil, false},
		{"nullable field panics", false, nil, false},
		{"deferred field", false, value, true},
		{"deferred field panics", true, nil, true},
	}
	type state struct {
		object, deferredPayload string
		invalids                uint32
		defers                  int
		errs                    []string
	}
	run := func(t *testing.T, sequential bool, nonNull bool, result graphql.Marshaler, deferred bool) state {
		ctx, oc, errs := operation(t, nil)
		fields := []graphql.CollectedField{
			{Field: &ast.Field{Alias: "plain", Name: "plain"}},
			{Field: &ast.Field{Alias: "resolved", Name: "resolved"}},
		}
		if deferred {
			fields[1].Deferrables = []*graphql.Deferrable{{Label: "later"}}
		}
		resolve := func(ctx context.Context) graphql.Marshaler {
			if result == nil {
				panic("resolver")
			}
			return result
		}
		out := graphql.NewFieldSet(fields)
		group := graphql.NewDeferredGroup(ctx)
		out.Values[0] = graphql.MarshalString("p")
		if sequential {
			resolveSequentially(ctx, out, fields, oc, &group, 1, true, nonNull, resolve)
		} else {
			out.ResolveConcurrently(oc, &group, 1, true, nonNull, resolve)
		}
		out.Dispatch(ctx)
		group.FieldSet.Dispatch(ctx)
		return state{marshal(out), marshal(group.FieldSet), out.Invalids, len(group.Defers), errs()}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := run(t, false, tt.nonNull, tt.result, tt.deferred)
			got := run(t, true, tt.nonNull, tt.result, tt.deferred)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sequential: %+v\ngqlgen:     %+v", got, want)
			}
		})
	}
}

// TestResolveRootSequentiallyMatchesGqlgen: a root field resolved at once,
// through the operation's root middleware and under its own context, leaves
// the Query object as gqlgen's ResolveRootConcurrently and Dispatch leave it.
func TestResolveRootSequentiallyMatchesGqlgen(t *testing.T) {
	type key struct{}
	tests := []struct {
		name    string
		nonNull bool
		result  graphql.Marshaler // nil: the resolver panics
	}{
		{"non-null value", true, graphql.MarshalString("v")},
		{"non-null field resolves to null", true, graphql.Null},
		{"nullable field resolves to required null", false, graphql.RequiredNull},
		{"nullable field panics", false, nil},
	}
	run := func(t *testing.T, sequential bool, nonNull bool, result graphql.Marshaler) string {
		var seen []string
		ctx, oc, errs := operation(t, func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
			seen = append(seen, fmt.Sprint("middleware ", ctx.Value(key{})))
			return next(ctx)
		})
		fields := []graphql.CollectedField{{Field: &ast.Field{Alias: "root", Name: "root"}}}
		out := graphql.NewFieldSet(fields)
		innerCtx := context.WithValue(ctx, key{}, "inner")
		resolve := func(ctx context.Context) graphql.Marshaler {
			seen = append(seen, fmt.Sprint("resolver ", ctx.Value(key{})))
			if result == nil {
				panic("resolver")
			}
			return result
		}
		if sequential {
			resolveRootSequentially(innerCtx, out, oc, 0, true, nonNull, resolve)
		} else {
			out.ResolveRootConcurrently(innerCtx, oc, 0, true, nonNull, resolve)
		}
		out.Dispatch(ctx)
		return fmt.Sprint(marshal(out), out.Invalids, seen, errs())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := run(t, true, tt.nonNull, tt.result), run(t, false, tt.nonNull, tt.result); got != want {
				t.Errorf("sequential: %s\ngqlgen:     %s", got, want)
			}
		})
	}
}

// fixedSource is a warm configuration cache holding one snapshot.
type fixedSource struct{ snap *opportunity.Snapshot }

func (s fixedSource) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	return cache.Result[*opportunity.Snapshot]{Value: s.snap}, nil
}

// TestGeneratedExecutorStartsNoGoroutines runs a query over every list and
// resolver of the schema on gqlgen's generated executor: after
// internal/tools/gqlgenpost, it starts no goroutine but the dataloader's
// (gqlgen's own started one per list element, hundreds here).
func TestGeneratedExecutorStartsNoGoroutines(t *testing.T) {
	var types []*opportunity.Type
	for i := range 4 {
		options := []*opportunity.FieldOption{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}
		var fields []*opportunity.Field
		var required []*opportunity.RequiredOppTypeField
		for f := range 5 {
			fields = append(fields, &opportunity.Field{ID: 10 + f, Name: fmt.Sprint("field ", f), Options: options})
			required = append(required, &opportunity.RequiredOppTypeField{ID: 10 + f, Name: fmt.Sprint("field ", f), Options: options})
		}
		var stages []*opportunity.Stage
		for s := range 4 {
			child := &opportunity.Stage{ID: 1000*i + 100 + s, Name: "child", RequiredOppTypeFields: required}
			stages = append(stages, &opportunity.Stage{
				ID: 1000*i + s, Name: fmt.Sprint("stage ", s), RemindAfterDays: []string{"1", "2"},
				Children: []*opportunity.Stage{child}, CustomerFields: []*opportunity.CustomerField{{FieldID: 1, Name: "c"}},
				RequiredOppTypeFields: required,
			})
		}
		types = append(types, &opportunity.Type{TypeID: 1001 + i, TypeName: fmt.Sprint("type ", i), DefaultType: i == 0, Stages: stages, Fields: fields})
	}
	query := `{
		opportunityTypes {
			typeId fields { id options { id name } }
			allStages { id path { id } remindAfterDays customerFields { fieldId }
				requiredOppTypeFields { id options { id } field { id options { name } } } }
			stages { children { id parent { id } } }
		}
		a: opportunityType(typeId: 1002) { typeId }
		defaultOpportunityType { typeName }
		__schema { types { name fields { name } } }
	}`
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	exec.Use(extension.Introspection{})
	l := loaders.New(fixedSource{opportunity.NewSnapshot(types, "v1")})
	ctx := loaders.NewContext(graphql.StartOperationTrace(t.Context()), l)
	now := graphql.Now()
	rc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, ReadTime: graphql.TraceTiming{Start: now, End: now}})
	if errs != nil {
		t.Fatal(errs)
	}

	// A collection first: the runtime starts its mark workers (one
	// goroutine per P) at the process's first one, which would otherwise
	// fall inside the count when the query's allocations trigger it.
	runtime.GC()
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	metrics.Read(created)
	n := created[0].Value.Uint64() - before

	if len(resp.Errors) > 0 || !bytes.Contains(resp.Data, []byte(`"field":{"id":14,"options":[{"name":"a"},{"name":"b"}]}`)) {
		t.Fatalf("errors %v, data %.300s", resp.Errors, resp.Data)
	}
	// The dataloader runs each batch (one per distinct key looked up) on
	// two goroutines of its own (the batch and its timer); the executor must
	// start none.
	if batches := uint64(l.Batches()); batches == 0 || n != 2*batches {
		t.Errorf("executing the query started %d goroutines for %d dataloader batches, want only their two each", n, batches)
	}
}

// TestGeneratedCodeIsRewritten: generated.go is gqlgen's output as
// internal/tools/gqlgenpost leaves it (CI checks it is also fresh).
func TestGeneratedCodeIsRewritten(t *testing.T) {
	src, err := os.ReadFile("generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("\n// Rewritten by internal/tools/gqlgenpost:")) {
		t.Error("generated.go lacks gqlgenpost's line: run `go generate ./graph/...`")
	}
	if i := bytes.Index(src, []byte("Concurrently(")); i >= 0 {
		t.Errorf("generated.go:%d still calls a *Concurrently function: run `go generate ./graph/...`", 1+bytes.Count(src[:i], []byte("\n")))
	}
}
