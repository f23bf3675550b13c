package opgen_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/fastpath/opgen"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// listWeight and defaultComplexity are the generator's budget, as the fuzz
// target sets it (the largest list factor of complexityModel, allStages,
// and the limit its operations stay under); maxConditions is
// internal/fastpath's bound on the variables @skip and @include read.
const (
	listWeight        = 30
	defaultComplexity = 300000
	maxConditions     = 6
)

// budget is what operations stay within: the service's limits and the
// generator's complexity budget.
type budget struct {
	limits.Limits
	complexity int
}

// complexityModel is gqlgen's complexity with a list multiplying its
// children by a large real configuration's item count: the model the
// generator's MaxComplexity and ListWeight count by (the service itself
// counts an answer on its data, internal/fastpath's Cost).
func complexityModel() graph.ComplexityRoot {
	times := func(n int) func(int) int { return func(child int) int { return 1 + n*child } }
	var c graph.ComplexityRoot
	c.Query.OpportunityTypes = times(8)
	c.OpportunityType.Stages = times(8)
	c.OpportunityType.AllStages = times(listWeight)
	c.OpportunityType.Fields = times(15)
	c.Stage.Children = times(3)
	c.Stage.Path = times(4)
	c.Stage.CustomerFields = times(4)
	c.Stage.RequiredOppTypeFields = times(4)
	c.Stage.RemindAfterDays = times(1)
	c.Field.Options = times(6)
	c.RequiredOppTypeField.Options = times(6)
	return c
}

// presentIDs are ids of the demo dataset (internal/simulator/dataset.json);
// testInts offers them, and ids it does not have, per argument.
func presentIDs() []int { return []int{1001, 1004, 2001, 2013, 2321, 2331, 101, 412} }

func testInts() map[string][]int {
	return map[string][]int{
		"Query.opportunityType(typeId:)": {1001, 1004, 0, 999},
		"OpportunityType.stage(id:)":     {2001, 2013, 2321, 2331, -1, 0},
		"OpportunityType.field(id:)":     {101, 412, 1, 100000},
	}
}

func serviceSchema() *ast.Schema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
}

func defaultLimits(t testing.TB) budget {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return budget{cfg.Limits, defaultComplexity}
}

func newGenerator(t testing.TB, schema *ast.Schema, l budget) *opgen.Generator {
	t.Helper()
	g, err := opgen.New(schema, opgen.Options{Limits: l.Limits, MaxComplexity: l.complexity, ListWeight: listWeight, Ints: testInts(), MaxConditionVariables: maxConditions})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// inputs returns n pseudo-random fuzzer inputs, the same every run, of
// lengths from 0 to 4 000 bytes: the largest operations use a few thousand
// choices.
func inputs(n int) [][]byte {
	r := rand.New(rand.NewPCG(20000, 1))
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, r.IntN(4000))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		out[i] = b
	}
	return out
}

// checker checks operations the ways the service does: gqlparser's default
// rules alone, variable coercion, and then gqlgen's executor as the service
// configures it (token limit, internal/limits' rules), with the generator's
// complexity limit.
type checker struct {
	schema *ast.Schema
	exec   graphql.GraphExecutor
	limits budget
}

func newChecker(schema *ast.Schema, l budget) *checker {
	exec := executor.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}, Complexity: complexityModel()}))
	if l.MaxTokens > 0 {
		exec.SetParserTokenLimit(l.MaxTokens)
	}
	exec.SetDefaultRulesFn(l.Rules())
	if l.complexity > 0 {
		exec.Use(extension.FixedComplexityLimit(l.complexity))
	}
	return &checker{schema: schema, exec: exec, limits: l}
}

// check returns the parsed document and the cost gqlgen computed, or fails t.
func (c *checker) check(t *testing.T, op opgen.Operation) (*ast.QueryDocument, int) {
	t.Helper()
	doc, cost, err := c.verify(op)
	if err != nil {
		t.Fatal(err)
	}
	return doc, cost
}

// verify is check for any goroutine: it returns what is wrong with op. The
// service's executor parses the document once (with the token limit) and
// validates it with gqlparser's default rules plus internal/limits' rules;
// the default rules then run alone on its document, as the property to
// prove is validity whatever rules a server adds.
func (c *checker) verify(op opgen.Operation) (*ast.QueryDocument, int, error) {
	fail := func(format string, args ...any) (*ast.QueryDocument, int, error) {
		vars, _ := json.Marshal(op.Variables)
		return nil, 0, fmt.Errorf("%s\nquery: %s\nvariables: %s", fmt.Sprintf(format, args...), op.Query, vars)
	}
	if n := c.limits.MaxQueryBytes; n > 0 && len(op.Query) > n {
		return fail("%d bytes; the limit is %d", len(op.Query), n)
	}
	opCtx, errs := c.exec.CreateOperationContext(graphql.StartOperationTrace(context.Background()), &graphql.RawParams{
		Query: op.Query, OperationName: op.OperationName, Variables: op.Variables,
	})
	if len(errs) > 0 {
		return fail("refused by the service's executor: %v", errs)
	}
	doc := opCtx.Doc
	if errs := validator.ValidateWithRules(c.schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
		return fail("validation: %v", errs)
	}
	if len(doc.Operations) != 1 || doc.Operations[0].Name != op.OperationName || doc.Operations[0].Operation != ast.Query {
		return fail("want one query named %q", op.OperationName)
	}
	if n := conditions(doc); n > maxConditions {
		return fail("@skip and @include read %d variables; the bound is %d", n, maxConditions)
	}
	cost := 0
	if s, ok := opCtx.Stats.GetExtension("ComplexityLimit").(*extension.ComplexityStats); ok {
		cost = s.Complexity
	}
	return doc, cost, nil
}

// TestGenerate generates 20 000 operations from pseudo-random inputs: every
// one must pass gqlparser's default rules and the service's default limits,
// and every feature the fuzz target relies on must occur. The checks, not
// the generator, take the time, so they run on every core.
func TestGenerate(t *testing.T) {
	schema := serviceSchema()
	l := defaultLimits(t)
	g := newGenerator(t, schema, l)
	all := inputs(20000)
	workers := runtime.GOMAXPROCS(0)
	found := make([]*features, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c, f := newChecker(schema, l), newFeatures(schema)
			for i := w; i < len(all); i += workers {
				op := g.Generate(opgen.NewSource(all[i]))
				doc, cost, err := c.verify(op)
				if err == nil && slices.Contains(slices.Collect(maps.Values(op.Variables)), nil) {
					err = fmt.Errorf("a null variable without NullVariables: %s", op.Query)
				}
				if err != nil {
					errs[w] = fmt.Errorf("input %d: %w", i, err)
					return
				}
				f.count(op, doc, cost)
			}
			found[w] = f
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	total := newFeatures(schema)
	for _, f := range found {
		total.add(f)
	}
	total.report(t, len(all))
}

// TestNullVariables: with NullVariables some arguments' variables are null,
// never a condition's, and the requests still pass validation, variable
// coercion and the limits.
func TestNullVariables(t *testing.T) {
	schema, l := serviceSchema(), defaultLimits(t)
	g, err := opgen.New(schema, opgen.Options{Limits: l.Limits, MaxComplexity: l.complexity, ListWeight: listWeight, Ints: testInts(), MaxConditionVariables: maxConditions, NullVariables: true})
	if err != nil {
		t.Fatal(err)
	}
	c, nulls := newChecker(schema, l), 0
	for _, in := range inputs(1500) {
		op := g.Generate(opgen.NewSource(in))
		doc, _ := c.check(t, op)
		conds := conditionVariables(doc)
		for name, v := range op.Variables {
			if v != nil {
				continue
			}
			nulls++
			if conds[name] {
				t.Fatalf("$%s is null and read by @skip or @include: %s", name, op.Query)
			}
		}
	}
	if nulls == 0 {
		t.Error("no variable was null")
	}
	t.Logf("%d null variables", nulls)
}

// TestGenerateIsDeterministic: a fuzzer's input must always mean the same
// operation, or a crash would not reproduce.
func TestGenerateIsDeterministic(t *testing.T) {
	schema := serviceSchema()
	for _, in := range inputs(200) {
		// A new Generator each time: nothing may depend on map order either.
		a := newGenerator(t, schema, defaultLimits(t)).Generate(opgen.NewSource(in))
		b := newGenerator(t, schema, defaultLimits(t)).Generate(opgen.NewSource(in))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("same input, two operations:\n%s\n%s", a.Query, b.Query)
		}
	}
}

// TestSmallInputs: an input used up early, or all zeros, gives the simplest
// operations, which is what the fuzzer's minimiser shrinks towards.
func TestSmallInputs(t *testing.T) {
	g := newGenerator(t, serviceSchema(), defaultLimits(t))
	tests := []struct {
		name string
		give []byte
		want string
	}{
		{name: "empty", give: nil, want: "{ opportunityTypes { typeName } }"},
		{name: "zeros", give: make([]byte, 64), want: "{ opportunityTypes { typeName } }"},
		{name: "second root field", give: append(make([]byte, 13), 7, 0, 2), want: "{ opportunityTypes { typeName } defaultOpportunityType { typeName } }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Generate(opgen.NewSource(tt.give)).Query; got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestTightLimits: the budgets hold however small the limits, each checked by
// the service's own rules and complexity limit.
func TestTightLimits(t *testing.T) {
	schema := serviceSchema()
	base := defaultLimits(t)
	tests := []struct {
		name string
		give func(*budget)
	}{
		{name: "depth 3", give: func(l *budget) { l.MaxDepth = 3 }},
		{name: "aliases 1", give: func(l *budget) { l.MaxAliases = 1 }},
		{name: "root fields 2", give: func(l *budget) { l.MaxRootFields = 2 }},
		{name: "directives 2", give: func(l *budget) { l.MaxDirectives = 2 }},
		{name: "tokens 120", give: func(l *budget) { l.MaxTokens = 120 }},
		{name: "query bytes 600", give: func(l *budget) { l.MaxQueryBytes = 600 }},
		{name: "complexity 200", give: func(l *budget) { l.complexity = 200 }},
		{name: "all tight", give: func(l *budget) {
			*l = budget{limits.Limits{MaxQueryBytes: 2000, MaxTokens: 300, MaxDepth: 5, MaxAliases: 3, MaxRootFields: 3, MaxDirectives: 3, MaxJSONDepth: 8}, 2000}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := base
			tt.give(&l)
			g, c := newGenerator(t, schema, l), newChecker(schema, l)
			for _, in := range inputs(500) {
				c.check(t, g.Generate(opgen.NewSource(in)))
			}
		})
	}
}

// otherSDL has what the service's schema lacks, for the generic parts: every
// built-in scalar, enums, lists, input objects (one referring to itself),
// optional arguments, a required custom scalar argument, and an interface.
const otherSDL = `
scalar Time
enum Color { RED GREEN }
input Range { from: Int!, to: Int, next: Range, tags: [String!] }
interface Node { id: ID! }
type Item implements Node { id: ID!, name: String, price: Float, color: Color }
type Query {
  items(first: Int, after: String, color: Color, range: Range, ids: [ID!], cheap: Boolean, min: Float = 1.5): [Item!]!
  item(id: ID!): Item
  since(t: Time!): [Item!]!
  maybe(t: Time): Item
  node(id: ID!): Node
  ranged(range: Range!): [Item]
}
`

// TestOtherSchema: over a schema with other argument types, operations stay
// valid, and the fields the generator cannot make valid are left out.
func TestOtherSchema(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Name: "other.graphqls", Input: otherSDL})
	l := defaultLimits(t)
	g, err := opgen.New(schema, opgen.Options{Limits: l.Limits, MaxComplexity: l.complexity, ListWeight: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{schema: schema, limits: l}
	seen := map[string]int{}
	for _, in := range inputs(1500) {
		op := g.Generate(opgen.NewSource(in))
		c.checkSyntaxAndRules(t, op)
		for _, want := range []string{"range:", "color:", "ids:", "after:", "min:", "cheap:", "next:", "maybe", "item(", "null", "$v"} {
			if strings.Contains(op.Query, want) {
				seen[want]++
			}
		}
		for _, never := range []string{"since", "node"} {
			if strings.Contains(op.Query, never) {
				t.Fatalf("generated %q: %s", never, op.Query)
			}
		}
	}
	for _, want := range []string{"range:", "color:", "ids:", "after:", "min:", "cheap:", "next:", "maybe", "item(", "null", "$v"} {
		if seen[want] == 0 {
			t.Errorf("never generated %q", want)
		}
	}
	t.Logf("seen: %v", seen)
}

// checkSyntaxAndRules is check without the service's executor, for another
// schema.
func (c *checker) checkSyntaxAndRules(t *testing.T, op opgen.Operation) {
	t.Helper()
	vars, _ := json.Marshal(op.Variables)
	doc, err := parser.ParseQuery(&ast.Source{Input: op.Query})
	if err != nil {
		t.Fatalf("parse: %v\nquery: %s", err, op.Query)
	}
	if errs := validator.ValidateWithRules(c.schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
		t.Fatalf("validation: %v\nquery: %s\nvariables: %s", errs, op.Query, vars)
	}
	if _, err := validator.VariableValues(c.schema, doc.Operations[0], op.Variables); err != nil {
		t.Fatalf("variables: %v\nquery: %s\nvariables: %s", err, op.Query, vars)
	}
	// A JSON body carries the variables: they must survive a round trip.
	var back map[string]any
	dec := json.NewDecoder(strings.NewReader(string(vars)))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil || (op.Variables != nil && !reflect.DeepEqual(back, op.Variables)) {
		t.Fatalf("variables are not as a JSON body gives them: %#v", op.Variables)
	}
}

// features counts what the generated operations contain, read back from
// the parsed documents rather than from the generator's own bookkeeping.
type features struct {
	schema *ast.Schema
	n      map[string]int
	want   []string // every feature that must occur
	max    map[string]int
}

// subscriptionOnly reports whether name is the subscription root or a type
// only its fields return: no query reaches it.
func subscriptionOnly(schema *ast.Schema, name string) bool {
	sub := schema.Subscription
	if sub == nil {
		return false
	}
	if name == sub.Name {
		return true
	}
	for _, f := range sub.Fields {
		if f.Type.Name() == name {
			return true
		}
	}
	return false
}

func newFeatures(schema *ast.Schema) *features {
	f := &features{schema: schema, n: map[string]int{}, max: map[string]int{}}
	f.want = []string{
		"operation: named", "operation: anonymous with variables", "operation: shorthand", "operation: fragments first",
		"variable: Boolean!", "variable: Boolean! with default", "variable: Boolean with default", "variable: Int!", "variable: Int with default",
		"variable: given", "variable: omitted", "variable: used twice",
		"alias", "alias: shadows another field", "alias: same as the field",
		"fragment: nested", "fragment: spread twice", "inline fragment: typed", "inline fragment: untyped",
		"@skip", "@include", "directive: literal", "directive: variable", "directive: on field", "directive: on inline fragment",
		"directive: on fragment spread", "directive: @skip and @include",
		"__typename: root", "__typename: nested", "__typename: aliased",
		"argument: literal", "argument: variable", "id: present", "id: absent",
		"key repeated in a selection set", "key repeated: same sub-selection", "key repeated: other sub-selection",
		"recursion: Stage in Stage", "recursion: OpportunityType in OpportunityType",
	}
	for _, name := range slices.Sorted(maps.Keys(schema.Types)) {
		d := schema.Types[name]
		if d.Kind != ast.Object || strings.HasPrefix(name, "__") || subscriptionOnly(schema, name) {
			continue // the generator writes queries
		}
		if d.BuiltIn {
			continue // federation's _Service and Entity: gqlgen's (see selectable)
		}
		f.want = append(f.want, "fragment on "+name)
		for _, fd := range d.Fields {
			if !strings.HasPrefix(fd.Name, "__") && fd.Name != "_service" && fd.Name != "_entities" {
				f.want = append(f.want, "field "+name+"."+fd.Name)
			}
		}
	}
	return f
}

func (f *features) count(op opgen.Operation, doc *ast.QueryDocument, cost int) {
	o := doc.Operations[0]
	switch {
	case o.Name != "":
		f.n["operation: named"]++
	case len(o.VariableDefinitions) > 0:
		f.n["operation: anonymous with variables"]++
	case strings.HasPrefix(op.Query, "{"):
		f.n["operation: shorthand"]++
	}
	if strings.HasPrefix(op.Query, "fragment") {
		f.n["operation: fragments first"]++
	}
	for _, v := range o.VariableDefinitions {
		kind := "variable: " + v.Type.String()
		if v.DefaultValue != nil {
			kind += " with default"
		}
		f.n[kind]++
		if _, ok := op.Variables[v.Variable]; ok {
			f.n["variable: given"]++
			if n, ok := op.Variables[v.Variable].(json.Number); ok && slices.Contains(presentIDs(), atoi(string(n))) {
				f.n["id: present"]++
			}
		} else {
			f.n["variable: omitted"]++
		}
		if strings.Count(op.Query, "$"+v.Variable+")") >= 2 {
			f.n["variable: used twice"]++
		}
	}
	f.n["alias: same as the field"] += selfAliases(op.Query)
	spreads := map[string]int{}
	for _, fr := range doc.Fragments {
		f.n["fragment on "+fr.TypeCondition]++
		f.walk(fr.SelectionSet, fr.Definition, spreads, true, map[string]bool{fr.TypeCondition: true}, 0)
	}
	depth := f.walk(o.SelectionSet, f.schema.Query, spreads, false, map[string]bool{}, 0)
	for _, n := range spreads {
		if n >= 2 {
			f.n["fragment: spread twice"]++
		}
	}
	f.max["tokens"] = max(f.max["tokens"], tokens(op.Query))
	f.max["bytes"] = max(f.max["bytes"], len(op.Query))
	f.max["complexity"] = max(f.max["complexity"], cost)
	f.max["depth (fragments not expanded)"] = max(f.max["depth (fragments not expanded)"], depth)
	f.max["root selections"] = max(f.max["root selections"], len(o.SelectionSet))
	f.max["variables"] = max(f.max["variables"], len(o.VariableDefinitions))
	f.max["fragments"] = max(f.max["fragments"], len(doc.Fragments))
	f.max["condition variables"] = max(f.max["condition variables"], conditions(doc))
}

// walk counts the features of a selection set on parent and returns its
// field nesting (fragment spreads not followed). inFragment tells whether
// it is in a fragment definition; types are the object types above it.
func (f *features) walk(set ast.SelectionSet, parent *ast.Definition, spreads map[string]int, inFragment bool, types map[string]bool, depth int) int {
	deepest := depth
	byKey := map[string][]*ast.Field{}
	for _, sel := range set {
		var dirs ast.DirectiveList
		switch s := sel.(type) {
		case *ast.Field:
			dirs = s.Directives
			byKey[s.Alias] = append(byKey[s.Alias], s)
			if s.Alias != s.Name {
				f.n["alias"]++
				if parent.Fields.ForName(s.Alias) != nil {
					f.n["alias: shadows another field"]++
				}
			}
			if s.Name == "__typename" {
				switch {
				case parent == f.schema.Query:
					f.n["__typename: root"]++
				default:
					f.n["__typename: nested"]++
				}
				if s.Alias != s.Name {
					f.n["__typename: aliased"]++
				}
				deepest = max(deepest, depth+1)
				break
			}
			f.n["field "+parent.Name+"."+s.Name]++
			for _, a := range s.Arguments {
				if a.Value.Kind == ast.Variable {
					f.n["argument: variable"]++
					continue
				}
				f.n["argument: literal"]++
				if slices.Contains(presentIDs(), atoi(a.Value.Raw)) {
					f.n["id: present"]++
				} else {
					f.n["id: absent"]++
				}
			}
			if len(s.SelectionSet) > 0 {
				child := f.schema.Types[s.Definition.Type.Name()]
				if types[child.Name] {
					f.n["recursion: "+child.Name+" in "+child.Name]++
				}
				inner := withType(types, child.Name)
				deepest = max(deepest, f.walk(s.SelectionSet, child, spreads, inFragment, inner, depth+1))
			} else {
				deepest = max(deepest, depth+1)
			}
			if len(dirs) > 0 {
				f.n["directive: on field"]++
			}
		case *ast.InlineFragment:
			dirs = s.Directives
			if s.TypeCondition != "" {
				f.n["inline fragment: typed"]++
			} else {
				f.n["inline fragment: untyped"]++
			}
			if len(dirs) > 0 {
				f.n["directive: on inline fragment"]++
			}
			deepest = max(deepest, f.walk(s.SelectionSet, parent, spreads, inFragment, types, depth))
		case *ast.FragmentSpread:
			dirs = s.Directives
			spreads[s.Name]++
			if inFragment {
				f.n["fragment: nested"]++
			}
			if len(dirs) > 0 {
				f.n["directive: on fragment spread"]++
			}
		}
		for _, d := range dirs {
			f.n["@"+d.Name]++
			if d.Arguments[0].Value.Kind == ast.Variable {
				f.n["directive: variable"]++
			} else {
				f.n["directive: literal"]++
			}
		}
		if dirs.ForName("skip") != nil && dirs.ForName("include") != nil {
			f.n["directive: @skip and @include"]++
		}
	}
	for _, fields := range byKey {
		if len(fields) < 2 {
			continue
		}
		f.n["key repeated in a selection set"]++
		for i := 1; i < len(fields); i++ {
			if len(fields[0].SelectionSet) == 0 {
				break
			}
			if selString(fields[0].SelectionSet) == selString(fields[i].SelectionSet) {
				f.n["key repeated: same sub-selection"]++
			} else {
				f.n["key repeated: other sub-selection"]++
			}
		}
	}
	return deepest
}

// selfAliases counts "name: name" in query: the parser keeps no trace of an
// alias equal to the field's name.
func selfAliases(query string) int {
	n := 0
	words := strings.Fields(query)
	for i := 0; i+1 < len(words); i++ {
		if w := words[i]; len(w) > 1 && w[len(w)-1] == ':' && w[0] != '$' && strings.TrimSuffix(w, ":") == strings.TrimRight(words[i+1], "(") {
			n++
		}
	}
	return n
}

func withType(m map[string]bool, add string) map[string]bool {
	out := make(map[string]bool, len(m)+1)
	for k := range m {
		out[k] = true
	}
	out[add] = true
	return out
}

// selString writes a selection set back as text, to compare two of them.
func selString(set ast.SelectionSet) string {
	var b strings.Builder
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			fmt.Fprintf(&b, "%s:%s(", s.Alias, s.Name)
			for _, a := range s.Arguments {
				fmt.Fprintf(&b, "%s:%s,", a.Name, a.Value.String())
			}
			for _, d := range s.Directives {
				fmt.Fprintf(&b, "@%s(%s)", d.Name, d.Arguments[0].Value.String())
			}
			b.WriteString("){" + selString(s.SelectionSet) + "}")
		case *ast.InlineFragment:
			b.WriteString("...on " + s.TypeCondition + "{" + selString(s.SelectionSet) + "}")
		case *ast.FragmentSpread:
			b.WriteString("..." + s.Name + ",")
		}
	}
	return b.String()
}

func atoi(s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return 0
	}
	return n
}

// conditions counts the distinct variables directives read in doc.
func conditions(doc *ast.QueryDocument) int { return len(conditionVariables(doc)) }

// conditionVariables returns the variables directives read in doc.
func conditionVariables(doc *ast.QueryDocument) map[string]bool {
	vars := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			var dirs ast.DirectiveList
			switch s := sel.(type) {
			case *ast.Field:
				dirs = s.Directives
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				dirs = s.Directives
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				dirs = s.Directives
			}
			for _, d := range dirs {
				if v := d.Arguments[0].Value; v.Kind == ast.Variable {
					vars[v.Raw] = true
				}
			}
		}
	}
	for _, o := range doc.Operations {
		walk(o.SelectionSet)
	}
	for _, f := range doc.Fragments {
		walk(f.SelectionSet)
	}
	return vars
}

// tokens counts a document's tokens, as the lexer reads them.
func tokens(query string) int {
	l := lexer.New(&ast.Source{Input: query})
	for n := 0; ; n++ {
		tok, err := l.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return n
		}
	}
}

// add adds the counts of g to f.
func (f *features) add(g *features) {
	for k, n := range g.n {
		f.n[k] += n
	}
	for k, n := range g.max {
		f.max[k] = max(f.max[k], n)
	}
}

func (f *features) report(t *testing.T, ops int) {
	t.Helper()
	var lines []string
	for _, name := range f.want {
		lines = append(lines, fmt.Sprintf("%7d  %s", f.n[name], name))
		if f.n[name] == 0 {
			t.Errorf("never generated: %s", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.max)) {
		lines = append(lines, fmt.Sprintf("%7d  max %s", f.max[name], name))
	}
	t.Logf("features in %d operations:\n%s", ops, strings.Join(lines, "\n"))
}
