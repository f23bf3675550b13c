package fastpath_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// identityCase is one operation to run through gqlgen and the fast path.
type identityCase struct {
	name      string
	query     string
	operation string // the operation to run; "" for the document's only one
	// variables are JSON objects, decoded as gqlgen's transports decode them
	// (numbers as json.Number); none means one run without variables, or, for
	// an operation that declares some, the runs sampleVariables makes.
	variables []string
	// errors is true when gqlgen answers this case with errors beside its
	// data (the data must match all the same).
	errors bool
	// float64s decodes the variables' numbers as float64, as json.Unmarshal
	// does, instead of json.Number.
	float64s bool
	// strict requires the fast path to answer, never to leave the answer
	// to gqlgen (ErrNeedsReference). Without it, a case whose ids a dataset
	// does not have (a README example's stage, on the large dataset) may be
	// answered by gqlgen, with the error that made the fast path defer.
	strict bool
}

// TestSameDataAsGqlgen runs every case on every dataset, with each of its
// variable sets, through gqlgen's executor and through the fast path, and
// requires the same bytes.
func TestSameDataAsGqlgen(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	sets := identitySets(t)
	for _, ds := range datasets(t) {
		t.Run("dataset="+ds.name, func(t *testing.T) {
			for set, cases := range sets {
				for _, c := range cases {
					t.Run(set+"/"+c.name, func(t *testing.T) {
						for _, vars := range variableSets(t, c) {
							assertSame(t, ref, ds.snap, c, vars)
						}
					})
				}
			}
		})
	}
}

// identitySets are every set of cases the identity tests run, by name.
func identitySets(t testing.TB) map[string][]identityCase {
	return map[string][]identityCase{
		"benchmark":  benchmarkCases(t),
		"readme":     readmeCases(t),
		"playground": playgroundCases(),
		"explorer":   {{name: "ExplorerPipelines", query: explorer.Query}},
		"server":     serverTestCases(),
		"endpoint":   endpointTestCases(),
		"feature":    featureCases(),
	}
}

// TestSameDataOnBrokenSnapshots covers what the client never builds: nil
// elements in lists of non-null objects. gqlgen reports errors and nulls the
// nearest nullable ancestor; the fast path writes the same data.
func TestSameDataOnBrokenSnapshots(t *testing.T) {
	ref := newReference(t, defaultLimits(t))
	snap := brokenSnapshot()
	tests := []identityCase{
		{name: "nil option nulls the root", query: `{ opportunityTypes { typeId fields { id options { id } } } }`, errors: true},
		{name: "nil option nulls a nullable type", query: `{ opportunityType(typeId: 1) { typeId fields { options { name } } } ok: opportunityType(typeId: 2) { fields { options { name } } } }`, errors: true},
		{name: "nil option under field(id:)", query: `{ opportunityType(typeId: 1) { bad: field(id: 1) { id options { id } } good: field(id: 2) { id options { id } } } }`, errors: true},
		{name: "nil option under required field", query: `{ defaultOpportunityType { allStages { requiredOppTypeFields { id field { name options { id } } } } } }`, errors: true},
		{name: "nil customer field", query: `{ defaultOpportunityType { typeId stage(id: 10) { id customerFields { fieldId } } } }`, errors: true},
		{name: "nil customer field through the root list", query: `{ opportunityTypes { stages { customerFields { name } } } }`, errors: true},
		{name: "nil elements not selected", query: `{ opportunityTypes { typeId fields { id } stages { id } } }`},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) { assertSame(t, ref, snap, c, "") })
	}
}

// assertSame compares gqlgen's data with the fast path's for one run.
func assertSame(t *testing.T, ref *reference, snap *opportunity.Snapshot, c identityCase, vars string) {
	t.Helper()
	resp := ref.response(t, snap, c.query, c.operation, c.decode(t, vars))
	plan, opVars, ok := ref.plan(t, c.query, c.operation, c.decode(t, vars))
	if !ok || plan == nil {
		t.Fatalf("variables %s: the fast path does not plan the operation (refused: %v)", vars, !ok)
	}
	got, deferred := execute(t, plan, snap, opVars)
	if deferred && len(resp.Errors) > 0 && !c.errors && !c.strict {
		return // gqlgen answers it, with the error that made the fast path defer
	}
	if len(resp.Errors) > 0 != c.errors {
		t.Fatalf("variables %s: gqlgen answered errors %v, want errors: %v", vars, resp.Errors, c.errors)
	}
	if resp.Data == nil {
		t.Fatalf("variables %s: gqlgen answered no data", vars)
	}
	if deferred && c.strict {
		t.Fatalf("variables %s: the fast path left the answer to gqlgen", vars)
	}
	if !sameAnswer(resp, got, deferred) {
		t.Errorf("variables %s: deferred to gqlgen %v; %s", vars, deferred, difference(resp.Data, got))
	}
}

// difference shows where got first departs from want.
func difference(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(i-80, 0)
	return fmt.Sprintf("first difference at byte %d of %d/%d:\n gqlgen:   …%.160s\n fastpath: …%.160s", i, len(want), len(got), want[from:], got[from:])
}

func (c identityCase) decode(t testing.TB, vars string) map[string]any {
	t.Helper()
	if !c.float64s {
		return decodeVariables(t, vars)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(vars), &m); err != nil {
		t.Fatalf("variables %s: %v", vars, err)
	}
	return m
}

// decodeVariables decodes vars as gqlgen's transports decode a request's.
func decodeVariables(t testing.TB, vars string) map[string]any {
	t.Helper()
	if vars == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(vars))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("variables %s: %v", vars, err)
	}
	return m
}

// variableSets returns the variables each run of c uses: c's own, or for an
// operation that declares variables and comes with none, a sample of values
// that hit and miss on every dataset.
func variableSets(t testing.TB, c identityCase) []string {
	t.Helper()
	if len(c.variables) > 0 {
		return c.variables
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: c.query})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	op := doc.Operations.ForName(c.operation)
	if op == nil || len(op.VariableDefinitions) == 0 {
		return []string{""}
	}
	return sampleVariables(op.VariableDefinitions)
}

// sampleVariables varies one variable at a time over its sample values, the
// others at their first: ids of the demo (types, stages, fields), large
// (stages and fields of type 1001) and edge datasets, and ids none has.
func sampleVariables(defs ast.VariableDefinitionList) []string {
	samples := func(d *ast.VariableDefinition) []string {
		var s []string
		switch d.Type.Name() {
		case "Int":
			s = []string{"1001", "1002", "2001", "104", "1001001", "1", "10", "7", "404", "-7"}
		case "Boolean":
			s = []string{"true", "false"}
		case "FieldValueInput":
			// Values for demo type 1001's fields, good and bad; on other
			// types, unknown fields.
			s = []string{`[{"fieldId": 101, "value": "签"}, {"fieldId": 104, "value": "10401"}, {"fieldId": 105, "values": ["10501"]}]`, `[]`}
		}
		if !d.Type.NonNull || d.DefaultValue != nil {
			s = append(s, "") // absent
		}
		return s
	}
	object := func(values []string) string {
		var parts []string
		for i, d := range defs {
			if values[i] != "" {
				parts = append(parts, fmt.Sprintf("%q: %s", d.Variable, values[i]))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	first := make([]string, len(defs))
	for i, d := range defs {
		if s := samples(d); len(s) > 0 {
			first[i] = s[0]
		}
	}
	out := []string{object(first)}
	for i, d := range defs {
		s := samples(d)
		if len(s) < 2 {
			continue
		}
		for _, v := range s[1:] {
			values := append([]string(nil), first...)
			values[i] = v
			out = append(out, object(values))
		}
	}
	return out
}

// benchmarkCases are the load benchmark's queries, testdata/queries/*.graphql.
func benchmarkCases(t testing.TB) []identityCase {
	t.Helper()
	files, err := filepath.Glob("../../testdata/queries/*.graphql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no benchmark queries (%v)", err)
	}
	var out []identityCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, identityCase{name: strings.TrimSuffix(filepath.Base(f), ".graphql"), query: string(b)})
	}
	return out
}

var (
	fencedBlock = regexp.MustCompile("(?s)```(\\w+)\n(.*?)```")
	jsonQuery   = regexp.MustCompile(`"query":("(?:[^"\\]|\\.)*")`)
	urlQuery    = regexp.MustCompile(`[?&]query=([^&' ]+)`)
)

// readmeCases are README.md's example queries, read from the section itself
// so that an example added there is tested here: every graphql block, and
// the queries of the shell examples (POST bodies and GET URLs).
func readmeCases(t testing.TB) []identityCase {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## Example queries\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Example queries" section`)
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var out []identityCase
	add := func(q string) {
		out = append(out, identityCase{name: fmt.Sprintf("example %d", len(out)+1), query: q})
	}
	for _, m := range fencedBlock.FindAllStringSubmatch(section, -1) {
		switch m[1] {
		case "graphql":
			add(m[2])
		case "sh":
			for _, q := range jsonQuery.FindAllStringSubmatch(m[2], -1) {
				var s string
				if err := json.Unmarshal([]byte(q[1]), &s); err != nil {
					t.Fatalf("README.md: %s: %v", q[1], err)
				}
				add(s)
			}
			for _, q := range urlQuery.FindAllStringSubmatch(m[2], -1) {
				s, err := url.QueryUnescape(q[1])
				if err != nil {
					t.Fatalf("README.md: %s: %v", q[1], err)
				}
				add(s)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("README.md's example queries: none found")
	}
	return out
}

// playgroundCases are the playground's first-visit tabs, each with its own
// variables and with the sampled ones.
func playgroundCases() []identityCase {
	var out []identityCase
	for i, tab := range playground.DefaultTabs() {
		// The fast path answers queries; a subscription tab (ConfigChanges)
		// runs over a stream, on gqlgen's executor.
		if doc, err := parser.ParseQuery(&ast.Source{Input: tab.Query}); err == nil && len(doc.Operations) == 1 && doc.Operations[0].Operation == ast.Subscription {
			continue
		}
		c := identityCase{name: fmt.Sprintf("tab %d", i+1), query: tab.Query}
		out = append(out, c)
		if tab.Variables != "" {
			c.name += " with its variables"
			c.variables = []string{tab.Variables}
			out = append(out, c)
		}
	}
	return out
}

// serverTestCases are the operations internal/server/server_test.go sends,
// introspection aside.
func serverTestCases() []identityCase {
	var lookups strings.Builder
	lookups.WriteString("query Lookups($missing: Int!) {\n")
	ids := []int{1001, 1002, 1003, 1004}
	for i := range 7 { // 7 + 3: the default MAX_ROOT_FIELDS
		fmt.Fprintf(&lookups, "  t%d: opportunityType(typeId: %d) { typeId stages { requiredOppTypeFields { id field { id name options { name } } } children { requiredOppTypeFields { id field { id name } } } } }\n", i, ids[i%len(ids)])
	}
	lookups.WriteString("  u1: opportunityType(typeId: 1) { typeId }\n  u2: opportunityType(typeId: -7) { typeId }\n  u3: opportunityType(typeId: $missing) { typeId }\n}")
	return []identityCase{
		{name: "every upstream field", query: testkit.EveryUpstreamField},
		{name: "allStages", query: `{ opportunityType(typeId: 1) { allStages { name depth } } }`},
		{name: "stages and children", query: `{ opportunityType(typeId: 1) { stages { name children { name } } } }`},
		{name: "stage navigation", query: `{ opportunityType(typeId: 1) { stage(id: 111) { name depth parent { name } path { name } opportunityType { typeId } } } }`},
		{name: "top-level stage", query: `{ opportunityType(typeId: 1) { stage(id: 20) { parent { name } path { name } } } }`},
		{name: "missing stage and field", query: `{ opportunityType(typeId: 1) { stage(id: 5) { name } field(id: 5) { name } } }`},
		{name: "field by id", query: `{ opportunityType(typeId: 1) { field(id: 101) { name minUnicode pattern } } }`},
		{name: "required field definitions", query: `{ opportunityType(typeId: 1) { stage(id: 11) { requiredOppTypeFields { id field { id name type } } } } }`},
		{name: "missing type", query: `{ opportunityType(typeId: 404) { typeName } }`},
		{name: "default type", query: `{ defaultOpportunityType { typeId stages { id } allStages { id } } }`},
		{name: "default type id", query: `{ defaultOpportunityType { typeId } }`},
		{name: "lookups", query: lookups.String(), variables: []string{`{"missing": 999999}`, `{"missing": 1001}`}},
		{name: "type ids", query: `{ opportunityTypes { typeId } }`},
		{name: "type name", query: `{ opportunityType(typeId: 1) { typeName } }`},
	}
}

// endpointTestCases are the operations internal/endpoint's tests send,
// introspection and refusals aside.
func endpointTestCases() []identityCase {
	return []identityCase{
		{name: "typename", query: `{ __typename }`},
		{name: "named", query: `query Types { opportunityTypes { typeId } }`},
		{name: "compact", query: `query Types {opportunityTypes{typeId}}`},
		{name: "commas", query: "# the same operation, spelt otherwise\n{opportunityTypes{typeId,},}"},
		{name: "type names", query: `{ opportunityTypes { typeName } }`},
		{name: "type by variable", query: `query($id: Int!) { opportunityType(typeId: $id) { typeName } }`},
		{name: "type id by variable", query: `query($id: Int!) { opportunityType(typeId: $id) { typeId } }`},
		{name: "stage path by variable", query: `query($id: Int!) { opportunityType(typeId: $id) { stage(id: 2001) { path { name } } } }`},
		{name: "stage names", query: `{ opportunityTypes { typeId typeName stages { name } } }`},
		{name: "stage by id", query: `{ opportunityType(typeId: 1) { stage(id: 1) { name } } } # mutation`},
		{name: "default type name", query: `{ defaultOpportunityType { typeName } }`},
		{name: "aliases", query: "{ " + aliases("a", "opportunityType(typeId: 1001) { allStages { id name requiredOppTypeFields { field { id name options { name } } } } }", 10) + " }"},
		{name: "aliases in fragments", query: "fragment F on OpportunityType { " + aliases("t", "typeId", 4) + " } { defaultOpportunityType { ...F a: stages { ...S } } opportunityTypes { ...F ...F ...F } } fragment S on Stage { opportunityType { ...F } }"},
		{name: "ten typenames", query: "{ " + aliases("t", "__typename", 10) + " }"},
		{name: "ten directives", query: "{ defaultOpportunityType { " + strings.Repeat("typeId @include(if: true) ", 10) + "} }"},
		{name: "full pipeline with navigation", query: `{ opportunityTypes { typeId allStages { id name depth path { id } parent { id }
			requiredOppTypeFields { id field { id name options { id name } } } customerFields { fieldId } } } }`},
	}
}

// aliases is n aliased copies of selection: a0: …, a1: ….
func aliases(prefix, selection string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " %s%d: %s", prefix, i, selection)
	}
	return b.String()
}

// TestReferenceHelpers checks the helpers the fuzz target calls: the same
// data for an operation both run, nil from both for a request gqlgen
// refuses, a skip where there is nothing to compare.
func TestReferenceHelpers(t *testing.T) {
	snap := fetch(t, nil)
	q := `query($id: Int!) { opportunityType(typeId: $id) { typeName stages { id } } }`
	vars := map[string]any{"id": json.Number("1001")}
	if want, got := gqlgenData(t, snap, q, vars), fastData(t, snap, q, vars); want == nil || !bytes.Equal(want, got) {
		t.Errorf("gqlgenData %.80s, fastData %.80s", want, got)
	}
	for _, refused := range []string{`{ opportunityTypes { `, `{ nope }`, `query($id: Int!) { opportunityType(typeId: $id) { typeId } }`} {
		if want, got := gqlgenData(t, snap, refused, nil), fastData(t, snap, refused, nil); want != nil || got != nil {
			t.Errorf("%s: gqlgenData %q, fastData %q, want nil from both", refused, want, got)
		}
	}
	skips := map[string]func(t *testing.T){
		"fastData, introspection": func(t *testing.T) { fastData(t, snap, `{ __schema { queryType { name } } }`, nil) },
	}
	for name, f := range skips {
		skipped := false
		t.Run(name, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			f(t)
		})
		if !skipped {
			t.Errorf("%s: not skipped", name)
		}
	}
}
