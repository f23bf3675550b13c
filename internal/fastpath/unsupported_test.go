package fastpath_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
)

// TestCompileLeavesToGqlgen lists what Compile refuses with ErrUnsupported,
// each a document gqlgen accepts (or, for operations the schema lacks, one
// Compile sees unvalidated): the endpoint then runs gqlgen.
func TestCompileLeavesToGqlgen(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	var tooManyConditions strings.Builder
	tooManyConditions.WriteString("query(")
	for i := range fastpath.MaxConditions + 1 {
		fmt.Fprintf(&tooManyConditions, "$v%d: Boolean!, ", i)
	}
	tooManyConditions.WriteString(") { opportunityTypes {")
	for i := range fastpath.MaxConditions + 1 {
		fmt.Fprintf(&tooManyConditions, " t%d: typeId @include(if: $v%d)", i, i)
	}
	tooManyConditions.WriteString(" } }")
	tests := []struct {
		name, query, vars string
	}{
		{"__schema", `{ __schema { queryType { name } } }`, ""},
		{"__type", `{ __type(name: "Stage") { name fields { name } } }`, ""},
		{"__schema beside data", `{ opportunityTypes { typeId } s: __schema { types { name } } }`, ""},
		{"__schema skipped", `{ opportunityTypes { typeId } __schema @skip(if: true) { types { name } } }`, ""},
		{"__type in a fragment", `{ ...Q } fragment Q on Query { __type(name: "Field") { name } }`, ""},
		{"introspection query", introspectionQuery(t), ""},
		{"@defer", `{ opportunityTypes { typeId ... @defer { typeName } } }`, ""},
		{"@defer(if: false)", `{ opportunityTypes { typeId ... @defer(if: false) { typeName } } }`, ""},
		{"@defer on a spread", `{ opportunityTypes { ...F @defer(label: "f") } } fragment F on OpportunityType { typeName }`, ""},
		{"more @skip/@include variables than planned", tooManyConditions.String(), `{"v0": true, "v1": true, "v2": true, "v3": true, "v4": true, "v5": true, "v6": true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, _, ok := ref.plan(t, tt.query, "", decodeVariables(t, tt.vars))
			if !ok {
				t.Fatalf("gqlgen refuses %s", tt.query)
			}
			if plan != nil {
				t.Fatal("Compile planned it, want ErrUnsupported")
			}
		})
	}

	schema := ref.schema
	for _, q := range []string{
		`mutation { opportunityTypes { typeId } }`,
		`subscription { opportunityTypes { typeId } }`,
	} {
		t.Run(q, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: q})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fastpath.Compile(schema, doc, ""); !errors.Is(err, fastpath.ErrUnsupported) {
				t.Fatalf("Compile: %v, want ErrUnsupported", err)
			}
		})
	}
}

func introspectionQuery(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/introspection/graphql-js-16-all-options.graphql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompileAtTheConditionLimit plans an operation whose directives read
// exactly MaxConditions variables, and answers as gqlgen for every
// combination of their values.
func TestCompileAtTheConditionLimit(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	var q strings.Builder
	q.WriteString("query(")
	for i := range fastpath.MaxConditions {
		fmt.Fprintf(&q, "$v%d: Boolean!, ", i)
	}
	q.WriteString(") { opportunityTypes {")
	for i := range fastpath.MaxConditions {
		fmt.Fprintf(&q, " t%d: typeId @include(if: $v%d)", i, i)
	}
	q.WriteString(" typeName } }")
	c := identityCase{name: "six conditions", query: q.String()}
	snap := fetch(t, nil)
	for bits := range 1 << fastpath.MaxConditions {
		var vars []string
		for i := range fastpath.MaxConditions {
			vars = append(vars, fmt.Sprintf(`"v%d": %t`, i, bits>>i&1 == 1))
		}
		assertSame(t, ref, snap, c, "{"+strings.Join(vars, ", ")+"}")
	}
}

// TestCompileRefusesASchemaItWasNotWrittenFor compiles against schemas that
// differ from graph's: a field the fast path has no binding for, and a field
// whose nullability changed. Both must be left to gqlgen, not answered
// wrongly.
func TestCompileRefusesASchemaItWasNotWrittenFor(t *testing.T) {
	tests := []struct {
		name, from, to, query string
	}{
		{"new field", "type Stage {", "type Stage {\n  extra: Int", `{ opportunityTypes { stages { id extra } } }`},
		{"field made non-null", "pattern: String\n", "pattern: String!\n", `{ opportunityTypes { fields { pattern } } }`},
		{"list made nullable", "stages: [Stage!]!", "stages: [Stage!]", `{ opportunityTypes { stages { id } } }`},
		{"argument added", "stage(", "stage(deep: Int, ", `{ opportunityTypes { stage(id: 1, deep: 2) { id } } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sdl := graph.SDL()
			if !strings.Contains(sdl, tt.from) {
				t.Fatalf("the schema has no %q", tt.from)
			}
			schema, err := gqlparser.LoadSchema(&ast.Source{Name: "changed.graphqls", Input: strings.Replace(sdl, tt.from, tt.to, 1)})
			if err != nil {
				t.Fatal(err)
			}
			doc, errs := gqlparser.LoadQuery(schema, tt.query)
			if errs != nil {
				t.Fatalf("the changed schema refuses %s: %v", tt.query, errs)
			}
			if _, err := fastpath.Compile(schema, doc, ""); !errors.Is(err, fastpath.ErrUnsupported) {
				t.Fatalf("Compile: %v, want ErrUnsupported", err)
			}
		})
	}
}

// TestCompileErrors: an operation that is not in the document is an error of
// its own, not ErrUnsupported.
func TestCompileErrors(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	doc, errs := gqlparser.LoadQuery(schema, `query A { __typename } query B { __typename }`)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, name := range []string{"", "C"} {
		if _, err := fastpath.Compile(schema, doc, name); err == nil || errors.Is(err, fastpath.ErrUnsupported) {
			t.Errorf("Compile(%q): %v, want an error that is not ErrUnsupported", name, err)
		}
	}
	if _, err := fastpath.Compile(schema, doc, "B"); err != nil {
		t.Errorf("Compile(B): %v", err)
	}
	if _, err := fastpath.Compile(nil, doc, "A"); err == nil {
		t.Error("Compile without a schema: no error")
	}
}
