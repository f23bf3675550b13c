package fastpath_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// TestCostIsTheAnswer counts every identity case on every dataset and
// requires the count to be the answer Execute writes: as many bytes (where
// no string needed escaping and no null was propagated) and as many JSON
// values; and never less than the answer.
func TestCostIsTheAnswer(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	sets := identitySets(t)
	exact := 0
	for _, ds := range datasets(t) {
		for set, cases := range sets {
			for _, c := range cases {
				for _, vars := range variableSets(t, c) {
					plan, opVars, ok := ref.plan(t, c.query, c.operation, c.decode(t, vars))
					if !ok || plan == nil {
						continue // gqlgen refuses it, or the fast path does not plan it
					}
					out, deferred := execute(t, plan, ds.snap, opVars)
					if deferred {
						continue // gqlgen answers it, with its error: nothing to count against
					}
					cost, within := plan.Cost(ds.snap, opVars, fastpath.Cost{})
					name := ds.name + "/" + set + "/" + c.name + " " + vars
					if !within {
						t.Fatalf("%s: over no limit", name)
					}
					if cost.Bytes < len(out) {
						t.Errorf("%s: cost %d bytes, the answer has %d", name, cost.Bytes, len(out))
					}
					if c.errors || bytes.Contains(out, []byte(`\`)) || bytes.Contains(out, []byte("null")) {
						continue // escapes lengthen, propagated nulls shorten: a bound, not the size
					}
					exact++
					if cost.Bytes != len(out) {
						t.Errorf("%s: cost %d bytes, the answer has %d", name, cost.Bytes, len(out))
					}
					if n := jsonValues(t, out); cost.Values != n {
						t.Errorf("%s: cost %d values, the answer has %d", name, cost.Values, n)
					}
				}
			}
		}
	}
	if exact < 100 {
		t.Fatalf("only %d answers compared exactly", exact)
	}
}

// jsonValues counts the values of a JSON document: objects, arrays and
// scalars, at every depth.
func jsonValues(t *testing.T, doc []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	n, inObject, expectKey := 0, []bool{}, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			inObject = inObject[:len(inObject)-1]
			expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
			continue
		}
		if expectKey {
			expectKey = false // a key, not a value
			continue
		}
		n++
		if d, ok := tok.(json.Delim); ok {
			inObject = append(inObject, d == '{')
			expectKey = d == '{'
			continue
		}
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

// TestCostCountsBackReferencesOnce nests every type in each of its stages,
// levels deep, on the large dataset: an answer of billions of values, which
// the count still totals (memoised per selection and object), and refuses
// at once under a limit.
func TestCostCountsBackReferencesOnce(t *testing.T) {
	l := defaultLimits(t)
	l.MaxDepth = 0 // the nesting is what is measured
	ref := newReference(t, l)
	large := datasets(t)[2].snap
	// A type nested in its stages five times: each level multiplies the
	// answer by the ~30 top-level stages of a type.
	inner := "typeId typeName fields { id name options { id name } }"
	for range 5 {
		inner = "typeId stages { id opportunityType { " + inner + " } }"
	}
	query := "{ opportunityTypes { " + inner + " } }"
	plan, vars, ok := ref.plan(t, query, "", nil)
	if !ok || plan == nil {
		t.Fatal("not planned")
	}
	cost, within := plan.Cost(large, vars, fastpath.Cost{})
	if !within || cost.Values < 1e9 {
		t.Fatalf("cost %+v within %v; want billions of values counted", cost, within)
	}
	limit := fastpath.Cost{Values: 1000}
	got, within := plan.Cost(large, vars, limit)
	if within || got.Values <= limit.Values || got.Values > 2*limit.Values {
		t.Fatalf("under %+v: cost %+v within %v; want over, stopped near the limit", limit, got, within)
	}

	// The same nesting, small enough to execute: the memoised count is the answer.
	demo := datasets(t)[0].snap
	twice := "{ opportunityTypes { typeId stages { id opportunityType { typeId stages { id opportunityType { typeId typeName } } } } } }"
	plan, vars, _ = ref.plan(t, twice, "", nil)
	out := plan.Execute(nil, demo, vars)
	if cost, _ := plan.Cost(demo, vars, fastpath.Cost{}); cost.Bytes != len(out) || cost.Values != jsonValues(t, out) {
		t.Fatalf("cost %+v; the answer has %d bytes, %d values", cost, len(out), jsonValues(t, out))
	}
}

// TestCostLimit checks each bound alone stops the count.
func TestCostLimit(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	demo := datasets(t)[0].snap
	plan, vars, _ := ref.plan(t, benchmarkCases(t)[0].query, "", nil)
	full, _ := plan.Cost(demo, vars, fastpath.Cost{})
	tests := []struct {
		name   string
		limit  fastpath.Cost
		within bool
	}{
		{"no limit", fastpath.Cost{}, true},
		{"exactly", full, true},
		{"one value short", fastpath.Cost{Values: full.Values - 1}, false},
		{"one byte short", fastpath.Cost{Bytes: full.Bytes - 1}, false},
		{"values within, bytes short", fastpath.Cost{Values: full.Values, Bytes: full.Bytes - 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, within := plan.Cost(demo, vars, tt.limit); within != tt.within {
				t.Fatalf("within %v, want %v", within, tt.within)
			}
		})
	}
}

// TestWholeIsEveryObjectOnce compares Whole.Size with the cost of a query
// that selects every scalar of every type, stage (as deep as the dataset's
// trees go), field and option, written out here.
func TestWholeIsEveryObjectOnce(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	whole := fastpath.NewWhole(ref.schema)
	for _, ds := range datasets(t) {
		t.Run(ds.name, func(t *testing.T) {
			query := everythingQuery(ref.schema, maxDepth(ds.snap))
			plan, vars, ok := ref.plan(t, query, "", nil)
			if !ok || plan == nil {
				t.Fatalf("not planned: %s", query)
			}
			want, _ := plan.Cost(ds.snap, vars, fastpath.Cost{})
			if got := whole.Size(ds.snap); got != want {
				t.Fatalf("Size %+v, the query costs %+v", got, want)
			}
		})
	}
}

func maxDepth(snap *opportunity.Snapshot) int {
	d := 0
	for _, typ := range snap.Types() {
		for _, s := range typ.AllStages() {
			d = max(d, s.Depth())
		}
	}
	return d
}

// everythingQuery selects every scalar and every containment list, with
// stages depth+2 levels deep (depth is 0 at the top).
func everythingQuery(schema *ast.Schema, depth int) string {
	s := func(name string) string {
		return strings.TrimPrefix(scalars(schema, schema.Types[name]), "__typename ")
	}
	options := "options { " + s("FieldOption") + " }"
	stage := s("Stage") + " customerFields { " + s("CustomerField") + " } requiredOppTypeFields { " + s("RequiredOppTypeField") + " " + options + " }"
	tree := stage
	for range depth + 1 { // the deepest stages' children: []
		tree = stage + " children { " + tree + " }"
	}
	return "{ opportunityTypes { " + s("OpportunityType") + " stages { " + tree + " } fields { " + s("Field") + " " + options + " } } }"
}

// TestCompileCost covers what Compile leaves to gqlgen: introspection beside
// data counts only the data, and more conditions than are planned are
// counted per call; neither plan can be executed.
func TestCompileCost(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	demo := datasets(t)[0].snap
	count := func(query string, vars map[string]any, planned bool) (cost fastpath.Cost) {
		t.Helper()
		ctx := graphql.StartOperationTrace(t.Context())
		rc, errs := ref.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars, ReadTime: graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}})
		if errs != nil {
			t.Fatal(errs)
		}
		if _, err := fastpath.Compile(ref.schema, rc.Doc, ""); errors.Is(err, fastpath.ErrUnsupported) == planned {
			t.Fatalf("Compile: %v, want planned %v", err, planned)
		}
		p, err := fastpath.CompileCost(ref.schema, rc.Doc, "")
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if recover() == nil {
				t.Error("Execute on a cost plan did not panic")
			}
		}()
		cost, _ = p.Cost(demo, rc.Variables, fastpath.Cost{})
		p.Execute(nil, demo, rc.Variables)
		return cost
	}
	data := count(`{ opportunityTypes { typeId } }`, nil, true)
	if got := count(`{ __schema { queryType { name } } opportunityTypes { typeId } }`, nil, false); got.Values != data.Values {
		t.Errorf("with introspection: %+v, the data alone %+v", got, data)
	}
	// More conditions than maxConditions: each skips one copy of the list.
	var defs, fields []string
	vars := map[string]any{}
	for i := range fastpath.MaxConditions + 1 {
		name := "c" + string(rune('a'+i))
		defs = append(defs, "$"+name+": Boolean!")
		fields = append(fields, name+": opportunityTypes @skip(if: $"+name+") { typeId }")
		vars[name] = i%2 == 0
	}
	q := "query(" + strings.Join(defs, ", ") + ") { " + strings.Join(fields, " ") + " }"
	got := count(q, vars, false)
	kept := (fastpath.MaxConditions + 1) / 2 // the odd ones are not skipped
	if want := 1 + kept*(data.Values-1); got.Values != want {
		t.Errorf("%d conditions: %d values, want %d", len(defs), got.Values, want)
	}
}

// TestReadsVariables: a plan reads its variables when an argument or a
// condition does; otherwise its answer and count depend on the snapshot
// alone (graph.Executor counts such an operation once per snapshot).
func TestReadsVariables(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	tests := []struct {
		query string
		want  bool
	}{
		{`{ opportunityTypes { typeId } }`, false},
		{`{ opportunityType(typeId: 1001) { typeId } }`, false},
		{`query($v: Boolean!) { opportunityTypes @include(if: $v) { typeId } }`, true},
		{`query($id: Int!) { opportunityType(typeId: $id) { typeId } }`, true},
		{`query($id: Int!) { opportunityTypes { field(id: $id) { id } } }`, true},
		{`query($id: Int!) { opportunityTypes { typeId } o: opportunityType(typeId: 1) { field(id: $id) { id } } }`, true},
	}
	for _, tt := range tests {
		plan, _, ok := ref.plan(t, tt.query, "", map[string]any{"v": true, "id": 1001})
		if !ok || plan == nil {
			t.Fatalf("%s: not planned", tt.query)
		}
		if got := plan.ReadsVariables(); got != tt.want {
			t.Errorf("%s: ReadsVariables %v, want %v", tt.query, got, tt.want)
		}
	}
}
