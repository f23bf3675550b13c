package fastpath_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestEveryFieldHasAFastPath builds, from the schema itself, one query per
// object type that reaches the type and selects every one of its fields
// (object fields with every scalar of theirs, arguments with ids that hit
// and miss on each dataset), and requires the fast path to plan it and to
// answer as gqlgen does on every dataset. A field added to the schema
// without a binding, or whose declared type no longer matches the one the
// fast path writes, fails here.
func TestEveryFieldHasAFastPath(t *testing.T) {
	// Query's fields, each argument tried with every id, are more root
	// fields than the default MAX_ROOT_FIELDS; the limit is not what is
	// tested here.
	l := defaultLimits(t)
	l.MaxRootFields = 2 * len(argumentIDs())
	ref := newReference(t, l)
	schema := ref.schema
	routes := routesFromQuery(schema)
	var types []string
	for name, def := range schema.Types {
		if def.Kind == ast.Object && !def.BuiltIn {
			types = append(types, name)
		}
	}
	slices.Sort(types)
	dss := datasets(t)
	covered := 0
	for _, typeName := range types {
		route, ok := routes[typeName]
		if !ok {
			t.Errorf("type %s cannot be reached from Query", typeName)
			continue
		}
		selection, n := everyField(schema, schema.Types[typeName])
		covered += n
		c := identityCase{name: typeName, query: "{ " + route.open + selection + route.close + " }"}
		t.Run("type="+typeName, func(t *testing.T) {
			if _, _, ok := ref.plan(t, c.query, "", nil); !ok {
				t.Fatalf("gqlgen refuses the generated query %s", c.query)
			}
			for _, ds := range dss {
				t.Run("dataset="+ds.name, func(t *testing.T) { assertSame(t, ref, ds.snap, c, "") })
			}
		})
	}
	if covered == 0 {
		t.Fatal("no field was selected")
	}
	t.Logf("%d fields of %d object types", covered, len(types))
}

// route is how a query reaches objects of one type from the root: the
// selections to open before the type's own and to close after.
type route struct{ open, close string }

// routesFromQuery finds, breadth first, the shortest way to each object type,
// through fields without arguments so that every dataset has objects there.
func routesFromQuery(schema *ast.Schema) map[string]route {
	routes := map[string]route{schema.Query.Name: {}}
	queue := []string{schema.Query.Name}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, f := range schema.Types[from].Fields {
			to := schema.Types[f.Type.Name()]
			if strings.HasPrefix(f.Name, "__") || len(f.Arguments) > 0 || to.Kind != ast.Object {
				continue
			}
			if _, seen := routes[to.Name]; seen {
				continue
			}
			r := routes[from]
			routes[to.Name] = route{open: r.open + f.Name + " { ", close: " }" + r.close}
			queue = append(queue, to.Name)
		}
	}
	return routes
}

// argumentIDs hit on one dataset or another (demo and large types, demo
// stages and fields, large stages and fields, edge types, stages and fields)
// or on none.
func argumentIDs() []string {
	return []string{"1001", "2001", "104", "1001001", "1", "10", "7", "404"}
}

// everyField selects every field of def, __typename included, and returns
// how many schema fields it selected.
func everyField(schema *ast.Schema, def *ast.Definition) (string, int) {
	var b strings.Builder
	b.WriteString("__typename")
	n := 0
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue // introspection: gqlgen's, not the fast path's
		}
		n++
		sub := ""
		if child := schema.Types[f.Type.Name()]; child.Kind == ast.Object {
			sub = " { " + scalars(schema, child) + " }"
		}
		if len(f.Arguments) == 0 {
			fmt.Fprintf(&b, " %s%s", f.Name, sub)
			continue
		}
		for i, id := range argumentIDs() {
			args := make([]string, len(f.Arguments))
			for j, a := range f.Arguments {
				args[j] = a.Name + ": " + id
			}
			fmt.Fprintf(&b, " %s_%d: %s(%s)%s", f.Name, i, f.Name, strings.Join(args, ", "), sub)
		}
	}
	return b.String(), n
}

// scalars selects every field of def that needs no sub-selection.
func scalars(schema *ast.Schema, def *ast.Definition) string {
	out := []string{"__typename"}
	for _, f := range def.Fields {
		if len(f.Arguments) > 0 || strings.HasPrefix(f.Name, "__") {
			continue
		}
		if k := schema.Types[f.Type.Name()].Kind; k == ast.Scalar || k == ast.Enum {
			out = append(out, f.Name)
		}
	}
	return strings.Join(out, " ")
}
