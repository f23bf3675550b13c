package fastpath_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
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
		if _, hit := argumentRoutes(dss[0].snap)[typeName]; !ok && hit {
			continue // covered by TestFieldsWhoseArgumentsMustHit
		}
		if !ok && subscriptionOnly(schema, typeName) {
			continue // a stream of events: gqlgen's, not a query's
		}
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

// subscriptionOnly reports whether typeName is the subscription root or a
// type only its fields return: Compile plans queries, and subscriptions are
// streams gqlgen executes event by event.
func subscriptionOnly(schema *ast.Schema, typeName string) bool {
	sub := schema.Subscription
	if sub == nil {
		return false
	}
	if typeName == sub.Name {
		return true
	}
	for _, f := range sub.Fields {
		if f.Type.Name() == typeName {
			return true
		}
	}
	return false
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
		if leftToGqlgen[def.Name+"."+f.Name] {
			continue // federation: gqlgen's; its cost is TestCostOfFederation's
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
		if mustHit[def.Name+"."+f.Name] {
			n-- // covered by TestFieldsWhoseArgumentsMustHit
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

// leftToGqlgen lists the fields besides introspection's that the fast path
// leaves to gqlgen by design: the federation plugin's, for a gateway. Any
// other field without a plan fails TestEveryFieldHasAFastPath.
var leftToGqlgen = map[string]bool{"Query._service": true, "Query._entities": true}

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

// mustHit lists the fields whose arguments must name what the data has:
// their resolvers fail on an unknown stage or type (STAGE_NOT_FOUND,
// TYPE_NOT_FOUND), which nulls everything up to the nearest nullable field,
// so TestEveryFieldHasAFastPath's ids that miss would hide the other fields.
// TestFieldsWhoseArgumentsMustHit selects them with ids that hit.
var mustHit = map[string]bool{
	"OpportunityType.moves":      true,
	"OpportunityType.formSchema": true,
	"Query.validateOpportunity":  true,
}

// argumentRoutes reach, on snap, the types only a mustHit field returns,
// with arguments that hit: the first type that has a stage, and that stage.
// Nil when snap has no stage.
func argumentRoutes(snap *opportunity.Snapshot) map[string]argumentRoute {
	for _, typ := range snap.Types() {
		if len(typ.AllStages()) == 0 {
			continue
		}
		from := typ.AllStages()[len(typ.AllStages())/2].ID
		// An unknown field id: an UNKNOWN_FIELD error, whatever the type.
		validate := fmt.Sprintf(`validateOpportunity(typeId: %d, stageId: %d, values: [{fieldId: -1, value: "x"}])`, typ.TypeID, from)
		return map[string]argumentRoute{
			"StageMove":             {route: route{open: fmt.Sprintf("opportunityType(typeId: %d) { moves(from: %d) { ", typ.TypeID, from), close: " } }"}},
			"OpportunityValidation": {route: route{open: validate + " { ", close: " }"}},
			"FieldValueError":       {route: route{open: validate + " { errors { ", close: " } }"}},
			"OpportunityType": {
				route: route{
					open: fmt.Sprintf("opportunityType(typeId: %d) { save: formSchema stage: formSchema(stageId: %d) byVariable: formSchema(stageId: $stage) "+
						"movesByVariable: moves(from: $stage) { to { id } allowed refusal } ", typ.TypeID, from),
					close: " }",
				},
				definitions: "($stage: Int!)",
				variables:   fmt.Sprintf(`{"stage": %d}`, typ.AllStages()[0].ID),
			},
		}
	}
	return nil
}

// argumentRoute is a route with the variables its arguments read.
type argumentRoute struct {
	route
	definitions, variables string
}

// TestFieldsWhoseArgumentsMustHit: the mustHit fields and the types they
// return, every field selected, with arguments that hit on each dataset
// (literals, variables, an absent optional argument), answer as gqlgen does
// on the fast path; with arguments that miss, the fast path leaves the
// answer to gqlgen, which reports the error.
func TestFieldsWhoseArgumentsMustHit(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	schema := ref.schema
	for _, ds := range datasets(t) {
		routes := argumentRoutes(ds.snap)
		if routes == nil {
			continue // no stage to move from
		}
		t.Run("dataset="+ds.name, func(t *testing.T) {
			for name, r := range routes {
				selection := ""
				if name != "OpportunityType" {
					selection, _ = everyField(schema, schema.Types[name])
				}
				q := "query" + r.definitions + " { " + r.open + selection + r.close + " }"
				t.Run("type="+name, func(t *testing.T) {
					assertSame(t, ref, ds.snap, identityCase{name: name, query: q, strict: true}, r.variables)
				})
			}
		})
	}
	misses := []string{
		`{ opportunityType(typeId: 1001) { typeId moves(from: 404) { allowed } } }`,
		`{ opportunityType(typeId: 1001) { typeId formSchema(stageId: 404) } }`,
		`{ opportunityTypes { typeId } validateOpportunity(typeId: 404, values: []) { valid } }`,
		`{ validateOpportunity(typeId: 1001, stageId: 404, values: []) { valid } }`,
	}
	demo := fetch(t, nil)
	for _, q := range misses {
		t.Run(q, func(t *testing.T) {
			assertSame(t, ref, demo, identityCase{name: q, query: q, errors: true}, "")
		})
	}
}
