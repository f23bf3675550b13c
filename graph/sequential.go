package graph

import (
	"context"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
)

// The sequential twins of gqlgen's concurrent execution, which
// internal/tools/gqlgenpost puts in generated.go in place of
// graphql.MarshalSliceConcurrently, (*graphql.FieldSet).ResolveConcurrently
// and (*graphql.FieldSet).ResolveRootConcurrently. Each does what gqlgen's
// does (field contexts, panic guards, invalid counts), in place, on the
// request's goroutine: every resolver reads the request's in-memory snapshot
// and none blocks, so a goroutine per list element or per resolver field is
// pure overhead (issue 5's profile put 57 % of the full query's CPU in
// MarshalSliceConcurrently). A @defer'd field keeps gqlgen's own scheduling.
//
// gqlgen's signatures, which the generated calls and these twins share; the
// build fails here when a gqlgen upgrade changes one.
var _, _ func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array = graphql.MarshalSliceConcurrently, marshalSliceSequentially

var _ func(*graphql.FieldSet, *graphql.OperationContext, *graphql.DeferredGroup, int, bool, bool, func(context.Context) graphql.Marshaler) = (*graphql.FieldSet).ResolveConcurrently

var _ func(*graphql.FieldSet, context.Context, *graphql.OperationContext, int, bool, bool, func(context.Context) graphql.Marshaler) = (*graphql.FieldSet).ResolveRootConcurrently

// marshalSliceSequentially is graphql.MarshalSliceConcurrently, one element
// after another: each element gets its field context (its Index), a panic
// marshalling it is reported and leaves Null in its place unless
// omitPanicHandler, and an element not started when ctx is cancelled is
// Null, the cancellation reported once (gqlgen's does so only with a
// workerLimit).
func marshalSliceSequentially(
	ctx context.Context,
	length int,
	workerLimit int64,
	omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if (workerLimit > 0 || done(ctx)) && ctx.Err() != nil {
			graphql.AddError(childCtx, ctx.Err())
			for j := i; j < length; j++ {
				ret[j] = graphql.Null
			}
			break
		}
		ret[i] = marshalElementGuarded(childCtx, i, omitPanicHandler, marshalElement)
	}
	return ret
}

// done reports whether ctx is done, without the lock ctx.Err takes: a list
// of a cancelled request (its deadline passed, its client gone) stops at its
// next element instead of building the rest for nobody; gqlgen's own goes on
// unless it has a worker limit. What such a request built is discarded
// (graph.Executor answers REQUEST_CANCELLED).
func done(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// marshalElementGuarded marshals element i, reporting a panic as gqlgen's
// MarshalSliceConcurrently does unless omitPanicHandler.
func marshalElementGuarded(ctx context.Context, i int, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (res graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				res = graphql.Null
			}
		}()
	}
	return marshalElement(ctx, i)
}

// resolveSequentially is out.ResolveConcurrently(oc, deferred, i, …) followed
// by the field's share of out.Dispatch(ctx), done at once: out must be
// graphql.NewFieldSet(fields) and ctx the context Dispatch would be given. A
// @defer'd field (fields[i].IsDeferred()) is handed to gqlgen unchanged: it
// goes to the deferred group, not to out.
func resolveSequentially(
	ctx context.Context,
	out *graphql.FieldSet,
	fields []graphql.CollectedField,
	oc *graphql.OperationContext,
	deferred *graphql.DeferredGroup,
	i int,
	recoverFromPanic bool,
	nonNull bool,
	resolve func(ctx context.Context) graphql.Marshaler,
) {
	if fields[i].IsDeferred() {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	setField(out, i, nonNull, recoverToNull(ctx, oc, recoverFromPanic, resolve))
}

// resolveRootSequentially is out.ResolveRootConcurrently(ctx, oc, i, …)
// followed by the field's share of out.Dispatch, done at once: the field
// runs under the operation's root resolver middleware and ctx, its
// RootFieldContext.
func resolveRootSequentially(
	ctx context.Context,
	out *graphql.FieldSet,
	oc *graphql.OperationContext,
	i int,
	recoverFromPanic bool,
	nonNull bool,
	resolve func(ctx context.Context) graphql.Marshaler,
) {
	setField(out, i, nonNull, oc.RootResolverMiddleware(ctx, func(ctx context.Context) graphql.Marshaler {
		return recoverToNull(ctx, oc, recoverFromPanic, resolve)
	}))
}

// setField stores field i's value and counts it against out.Invalids when it
// is the value that makes the enclosing object invalid: Null for a non-null
// field, RequiredNull for a nullable one (gqlgen's invalidResultFor).
func setField(out *graphql.FieldSet, i int, nonNull bool, value graphql.Marshaler) {
	out.Values[i] = value
	invalid := graphql.Marshaler(graphql.RequiredNull)
	if nonNull {
		invalid = graphql.Null
	}
	if value == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}

// recoverToNull runs resolve; with recoverFromPanic a panic is reported
// through oc and resolves to Null, as gqlgen's own guard does.
func recoverToNull(ctx context.Context, oc *graphql.OperationContext, recoverFromPanic bool, resolve func(ctx context.Context) graphql.Marshaler) (res graphql.Marshaler) {
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				res = graphql.Null
			}
		}()
	}
	return resolve(ctx)
}
