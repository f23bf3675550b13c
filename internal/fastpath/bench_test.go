package fastpath_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
)

// BenchmarkExecute runs each load-benchmark query (testdata/queries) on the
// demo dataset three ways:
//
//   - executor=gqlgen: what the endpoint does today after decoding: gqlgen's
//     operation context (document from its query cache, variables, complexity),
//     a request's loaders, execution, the response's data;
//   - executor=fastpath: Execute alone, on a plan compiled once, into a
//     reused buffer: the work the fast path replaces execution with;
//   - executor=opctx+fastpath: gqlgen's operation context, then Execute: what
//     the endpoint pays per request once it uses the fast path.
func BenchmarkExecute(b *testing.B) {
	ref := newReference(b, defaultLimits(b))
	snap := fetch(b, nil)
	for _, c := range benchmarkCases(b) {
		b.Run("query="+c.name, func(b *testing.B) {
			b.Run("executor=gqlgen", func(b *testing.B) {
				b.ReportAllocs()
				var n int
				for b.Loop() {
					n = len(ref.response(b, snap, c.query, "", nil).Data)
				}
				b.SetBytes(int64(n))
			})
			plan, vars, ok := ref.plan(b, c.query, "", nil)
			if !ok || plan == nil {
				b.Fatal("not planned")
			}
			b.Run("executor=fastpath", func(b *testing.B) {
				b.ReportAllocs()
				buf := plan.Execute(nil, snap, vars)
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					buf = plan.Execute(buf[:0], snap, vars)
				}
			})
			b.Run("executor=opctx+fastpath", func(b *testing.B) {
				b.ReportAllocs()
				buf := plan.Execute(nil, snap, vars)
				b.SetBytes(int64(len(buf)))
				ctx := graphql.StartOperationTrace(context.Background())
				for b.Loop() {
					rc, errs := ref.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: c.query})
					if errs != nil {
						b.Fatal(errs)
					}
					buf = plan.Execute(buf[:0], snap, rc.Variables)
				}
			})
		})
	}
}

// BenchmarkCompile is the cost of planning each load-benchmark query once
// (gqlgen's document as its query cache holds it): what a plan cache saves
// per request. The last case reads six @skip/@include variables, so Compile
// builds 64 trees.
func BenchmarkCompile(b *testing.B) {
	ref := newReference(b, defaultLimits(b))
	cases := benchmarkCases(b)
	cases = append(cases, identityCase{name: "full-six-conditions", query: `query($a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!, $e: Boolean!, $f: Boolean!) {
		opportunityTypes {
			typeName @include(if: $a) typeId defaultType @skip(if: $b) allowSkip allowGoBack allowInvalidGoBack allowDeleteOpportunity deleteOpportunityDate
			stages { ...S children @include(if: $c) { ...S children @include(if: $d) { ...S } } }
			fields @skip(if: $e) { id name required type scale maxUnicode minUnicode pattern rank options @include(if: $f) { id name } }
		}
	}
	fragment S on Stage { id name rank possibility requirement remind remindAfterDays customerFields { fieldId name type } requiredOppTypeFields { id name required rank type maxUnicode scale options { id name } } }`,
		variables: []string{`{"a": true, "b": true, "c": true, "d": true, "e": true, "f": true}`}})
	for _, c := range cases {
		b.Run("query="+c.name, func(b *testing.B) {
			rc, errs := ref.exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()),
				&graphql.RawParams{Query: c.query, Variables: decodeVariables(b, firstOr(c.variables, ""))})
			if errs != nil {
				b.Fatal(errs)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fastpath.Compile(ref.schema, rc.Doc, rc.OperationName); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
