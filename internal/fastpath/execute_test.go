package fastpath_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// TestExecuteAllocatesNothing: with an output buffer of the right size,
// Execute allocates nothing, however many fields it writes; a variable's
// value is read, never copied.
func TestExecuteAllocatesNothing(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	snap := fetch(t, nil)
	cases := append(benchmarkCases(t), identityCase{
		name:      "variables",
		query:     `query($id: Int!, $v: Boolean!) { opportunityType(typeId: $id) { typeId stages @include(if: $v) { id } field(id: $id) { id } } }`,
		variables: []string{`{"id": 1001, "v": true}`},
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, vars, ok := ref.plan(t, c.query, "", decodeVariables(t, firstOr(c.variables, "")))
			if !ok || plan == nil {
				t.Fatal("not planned")
			}
			buf := plan.Execute(nil, snap, vars)
			if n := testing.AllocsPerRun(100, func() { buf = plan.Execute(buf[:0], snap, vars) }); n != 0 {
				t.Errorf("%v allocations per Execute, want 0", n)
			}
		})
	}
}

func firstOr(list []string, otherwise string) string {
	if len(list) > 0 {
		return list[0]
	}
	return otherwise
}

// TestExecuteConcurrently shares one plan between goroutines that run it
// with different variables and requires each answer to be the one a lone
// run gives. Run with -race. (A null condition, whose tree a plan compiles on
// first use, never reaches a plan: graph.Executor refuses it.)
func TestExecuteConcurrently(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	snap := fetch(t, nil)
	query := `query($id: Int!, $a: Boolean = true, $b: Boolean = false) {
		opportunityType(typeId: $id) { typeId a: typeName @include(if: $a) stages { id @skip(if: $b) name } }
		opportunityTypes { typeId @include(if: $b) fields { id @include(if: $a) } }
	}`
	var variables []string
	for _, id := range []string{"1001", "1002", "404"} {
		for _, a := range []string{"true", "false"} {
			for _, b := range []string{"true", "false"} {
				variables = append(variables, fmt.Sprintf(`{"id": %s, "a": %s, "b": %s}`, id, a, b))
			}
		}
	}
	plan, _, ok := ref.plan(t, query, "", decodeVariables(t, variables[0]))
	if !ok || plan == nil {
		t.Fatal("not planned")
	}
	type run struct {
		vars map[string]any
		want []byte
	}
	runs := make([]run, len(variables))
	for i, v := range variables {
		_, vars, ok := ref.plan(t, query, "", decodeVariables(t, v))
		if !ok {
			t.Fatalf("gqlgen refuses %s", v)
		}
		runs[i] = run{vars: vars, want: ref.response(t, snap, query, "", decodeVariables(t, v)).Data}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var buf []byte
			for k := range 200 {
				r := runs[(g+k)%len(runs)]
				if buf = plan.Execute(buf[:0], snap, r.vars); !bytes.Equal(buf, r.want) {
					t.Errorf("variables %v: %s", r.vars, difference(r.want, buf))
					return
				}
			}
		})
	}
	wg.Wait()
}
