package fastpath_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/fastpath"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// entitySelection selects much of an OpportunityType under _entities.
const entitySelection = `__typename ... on OpportunityType { typeId typeName allowSkip stages { id name rank children { id name } customerFields { fieldId name } } fields { id name options { id name } } }`

// representations returns the JSON of a gateway's representations: one
// OpportunityType per id, then extra as it is.
func representations(ids []int, extra ...string) string {
	reps := make([]string, 0, len(ids)+len(extra))
	for _, id := range ids {
		reps = append(reps, fmt.Sprintf(`{"__typename":"OpportunityType","typeId":%d}`, id))
	}
	return "[" + strings.Join(append(reps, extra...), ",") + "]"
}

func typeIDs(snap *opportunity.Snapshot) []int {
	var ids []int
	for _, t := range snap.Types() {
		ids = append(ids, t.TypeID)
	}
	return ids
}

// costPlan is how graph.Executor counts query: gqlgen parses, validates and
// coerces it, Compile leaves it to gqlgen, and CompileCost plans its count.
func costPlan(t *testing.T, ref *reference, query string, vars map[string]any) (*fastpath.Plan, map[string]any) {
	t.Helper()
	ctx := graphql.StartOperationTrace(t.Context())
	rc, errs := ref.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars, ReadTime: graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}})
	if errs != nil {
		t.Fatalf("gqlgen refuses %s: %v", query, errs)
	}
	if _, err := fastpath.Compile(ref.schema, rc.Doc, ""); !errors.Is(err, fastpath.ErrUnsupported) {
		t.Fatalf("Compile: %v, want ErrUnsupported: federation's fields are gqlgen's", err)
	}
	p, err := fastpath.CompileCost(ref.schema, rc.Doc, "")
	if err != nil {
		t.Fatalf("CompileCost: %v", err)
	}
	return p, rc.Variables
}

// TestCostOfFederation counts _entities and _service on every dataset and
// holds the count to gqlgen's answer: exactly its bytes and values where
// no string needed escaping and no null stands for a missing entity, at
// least them otherwise. _service counts as nothing, like introspection.
func TestCostOfFederation(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	const entities = `query($r: [_Any!]!) { _entities(representations: $r) { ` + entitySelection + ` } }`
	tests := []struct {
		name  string
		query func(snap *opportunity.Snapshot) string
		vars  func(snap *opportunity.Snapshot) string // JSON; "" for none
		nulls bool                                    // gqlgen answers some entities with null
	}{
		{
			name:  "every type",
			query: func(*opportunity.Snapshot) string { return entities },
			vars:  func(s *opportunity.Snapshot) string { return `{"r":` + representations(typeIDs(s)) + `}` },
		},
		{
			name:  "one type fifty times",
			query: func(*opportunity.Snapshot) string { return entities },
			vars: func(s *opportunity.Snapshot) string {
				ids := make([]int, 50)
				for i := range ids {
					ids[i] = typeIDs(s)[0]
				}
				return `{"r":` + representations(ids) + `}`
			},
		},
		{
			name:  "ids and type names that name nothing",
			query: func(*opportunity.Snapshot) string { return entities },
			vars: func(s *opportunity.Snapshot) string {
				return `{"r":` + representations(append(typeIDs(s), 404404), `{"__typename":"Stage","id":1}`) + `}`
			},
			nulls: true,
		},
		{
			name:  "no representations",
			query: func(*opportunity.Snapshot) string { return entities },
			vars:  func(*opportunity.Snapshot) string { return `{"r":[]}` },
		},
		{
			name: "literal representations, a fragment on the union",
			query: func(s *opportunity.Snapshot) string {
				return fmt.Sprintf(`{ a: _entities(representations: [{__typename: "OpportunityType", typeId: %d}]) { ...E } b: opportunityTypes { typeId } } fragment E on _Entity { __typename ... on OpportunityType { typeId allStages { id depth } } }`, typeIDs(s)[0])
			},
		},
	}
	for _, ds := range datasets(t) {
		for _, tt := range tests {
			t.Run(ds.name+"/"+tt.name, func(t *testing.T) {
				var vars map[string]any
				if tt.vars != nil {
					vars = decodeVariables(t, tt.vars(ds.snap))
				}
				query := tt.query(ds.snap)
				resp := ref.response(t, ds.snap, query, "", vars)
				if resp.Data == nil || (len(resp.Errors) > 0) != tt.nulls {
					t.Fatalf("gqlgen answered %s with errors %v", resp.Data, resp.Errors)
				}
				p, opVars := costPlan(t, ref, query, vars)
				if !p.ReadsVariables() && vars != nil {
					t.Error("ReadsVariables is false for representations in a variable")
				}
				cost, within := p.Cost(ds.snap, opVars, fastpath.Cost{})
				if !within {
					t.Fatal("over no limit")
				}
				if cost.Bytes < len(resp.Data) {
					t.Fatalf("cost %d bytes, the answer has %d", cost.Bytes, len(resp.Data))
				}
				if tt.nulls || bytes.Contains(resp.Data, []byte(`\`)) {
					return // a bound, not the size
				}
				if cost.Bytes != len(resp.Data) {
					t.Errorf("cost %d bytes, the answer has %d", cost.Bytes, len(resp.Data))
				}
				if n := jsonValues(t, resp.Data); cost.Values != n {
					t.Errorf("cost %d values, the answer has %d", cost.Values, n)
				}
			})
		}
		t.Run(ds.name+"/_service beside data", func(t *testing.T) {
			data, _ := costPlan(t, ref, `{ __schema { queryType { name } } opportunityTypes { typeId } }`, nil)
			both, _ := costPlan(t, ref, `{ _service { sdl } opportunityTypes { typeId } }`, nil)
			want, _ := data.Cost(ds.snap, nil, fastpath.Cost{})
			if got, _ := both.Cost(ds.snap, nil, fastpath.Cost{}); got != want {
				t.Errorf("with _service: %+v, the data alone %+v", got, want)
			}
		})
	}
}

// TestEntitiesAreBounded: one legal _entities query of many representations
// of the same type would answer gigabytes; its count passes the service's
// bound (MAX_COST_FACTOR times the whole configuration) and stops there,
// as for any other query.
func TestEntitiesAreBounded(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	large := datasets(t)[2].snap
	whole := fastpath.NewWhole(ref.schema).Size(large)
	limit := fastpath.Cost{Values: 4 * whole.Values, Bytes: 8 << 20}
	tests := []struct {
		name   string
		reps   int
		within bool
	}{
		{"one", 1, true},
		{"as many as a request can carry", 20000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := make([]int, tt.reps)
			for i := range ids {
				ids[i] = typeIDs(large)[0]
			}
			vars := decodeVariables(t, `{"r":`+representations(ids)+`}`)
			p, opVars := costPlan(t, ref, `query($r: [_Any!]!) { _entities(representations: $r) { ... on OpportunityType { typeId typeName stages { id name } fields { id name options { id name } } } } }`, vars)
			cost, within := p.Cost(large, opVars, limit)
			if within != tt.within {
				t.Fatalf("within %v (%+v against %+v), want %v", within, cost, limit, tt.within)
			}
			if !within && (cost.Values > 2*limit.Values || cost.Bytes > 2*limit.Bytes) {
				t.Errorf("counting went on to %+v past the limit %+v", cost, limit)
			}
		})
	}
}

// TestFragmentsOnTheEntityUnion: inside any selection of an OpportunityType,
// a fragment on the federation plugin's _Entity union applies (gqlgen's
// implementors of OpportunityType include it); the fast path answers as
// gqlgen does.
func TestFragmentsOnTheEntityUnion(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	cases := []identityCase{
		{name: "inline", query: `{ opportunityTypes { ... on _Entity { __typename } typeId } }`, strict: true},
		{name: "spread", query: `{ defaultOpportunityType { ...E } } fragment E on _Entity { ... on OpportunityType { typeId typeName } }`, strict: true},
		{name: "beside the type's own", query: `{ opportunityTypes { __typename ... on _Entity { __typename ... on OpportunityType { typeId } } } }`, strict: true},
	}
	for _, ds := range datasets(t) {
		for _, c := range cases {
			t.Run(ds.name+"/"+c.name, func(t *testing.T) { assertSame(t, ref, ds.snap, c, "") })
		}
	}
}
