// Package opgen generates random valid GraphQL operations over a schema, for differential testing.
//
// A Generator walks the schema's types once; each call of Generate turns the
// bytes of a Source (a fuzzer's input) into one query: named or not, with or
// without variable definitions, selecting the schema's fields with their
// arguments, aliases, fields repeated with the same or other sub-selections,
// named fragments (nested, spread several times, never in a cycle), inline
// fragments with and without a type condition, @skip and @include on literal
// and variable conditions, and __typename anywhere. Every operation passes
// gqlparser's validation and stays within the given limits.
//
// Fields come from the schema, so a new field is generated without a change
// here. What it leaves out: introspection (__schema, __type), federation's
// _service and _entities (gqlgen answers both), fields whose
// type is an interface or a union (the merge rule across types they would need
// is not modelled, and the schema has none), and fields with a required
// argument of a custom scalar (no valid literal is known for it).
package opgen

import (
	"errors"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// Options shape the operations of a Generator.
type Options struct {
	// Limits are the bounds every operation stays within: MaxTokens,
	// MaxQueryBytes, MaxDepth, MaxAliases, MaxRootFields and MaxDirectives,
	// counted as internal/limits and gqlgen count them (fragments expanded). A zero bound is no bound; depth and
	// tokens then stop at 32 levels and 10 000 tokens all the same.
	// MaxJSONDepth needs no budget: the variables' values nest at most four
	// levels.
	Limits limits.Limits
	// MaxComplexity and ListWeight keep operations small enough to execute
	// quickly, by gqlgen's complexity model (every field costs 1 plus its
	// children, a list ListWeight times its children): the service counts
	// an answer's cost on the data, which a generator cannot; 0 leaves
	// complexity unbounded.
	MaxComplexity int
	ListWeight    int
	// Ints are the values worth trying for an Int argument or input field, by
	// its schema coordinate: "Query.opportunityType(typeId:)",
	// "SomeInput.size". Give ids that exist in the data and ids that do not.
	Ints map[string][]int
	// DefaultInts serve the Int coordinates Ints does not list; empty means
	// 0, 1 and -1.
	DefaultInts []int
	// MaxConditionVariables bounds the distinct variables that @skip and
	// @include read in one operation (an executor may plan each combination
	// of their values); 0 is no bound.
	MaxConditionVariables int
	// NullVariables gives null, now and then, to a nullable variable with a
	// default that stands for an argument, in a non-null position too: the
	// request passes validation and variable coercion, and the field fails
	// when it executes. Never for @skip and @include, on which gqlgen panics
	// (unrecovered at the root). Off, every operation executes without errors.
	NullVariables bool
}

// Operation is one generated GraphQL request.
type Operation struct {
	// Query is the document: one query operation and its fragments.
	Query string
	// OperationName is the operation's name, "" when it is anonymous.
	OperationName string
	// Variables are the values given, as gqlgen receives them from a JSON
	// request body: json.Number for numbers, bool, string, []any and
	// map[string]any. Variables with a default may be left out. Nil when the
	// operation defines none.
	Variables map[string]any
}

// Generator makes operations over one schema. It is read-only once made, so
// goroutines may share it; each Generate call keeps its state to itself.
type Generator struct {
	schema     *ast.Schema
	opts       Options
	query      *typeInfo
	types      map[string]*typeInfo // object types reachable from the query type
	tokenLimit int                  // Limits.MaxTokens; 0 for no bound
	tokenBytes int                  // the most bytes a token and its separator take
	ints       []int                // DefaultInts, or its default
	// strings are the String and ID literals, written as they are between
	// quotes: none needs escaping. floats are the Float literals; "2" is an
	// Int literal, which a Float accepts.
	strings, floats []string
}

// typeInfo is what the generator selects on one object type.
type typeInfo struct {
	def    *ast.Definition
	fields []*ast.FieldDefinition // the fields it may select, in schema order
	// keys are the response keys worth trying as aliases: a few short names
	// and the type's own field names, so that an alias may shadow another
	// field's name.
	keys []string
}

// Bounds of the generator's own, apart from Limits: they shape operations
// and keep input values small.
const (
	maxSelections = 8 // selections written in one selection set
	maxListValue  = 3 // items of a list value
	maxValueDepth = 3 // nesting of list and input object values
	minTokens     = 32
	// headerTokens and headerBytes are those of "query Name ( … ) " around
	// the variable definitions.
	headerTokens = 4
	headerBytes  = len("query opgen_1() ")
)

// New returns a Generator over schema, which must have a query type.
func New(schema *ast.Schema, opts Options) (*Generator, error) {
	if schema == nil || schema.Query == nil {
		return nil, errors.New("opgen: the schema has no query type")
	}
	g := &Generator{
		schema:  schema,
		opts:    opts,
		types:   map[string]*typeInfo{},
		ints:    opts.DefaultInts,
		strings: []string{"", "a", "商机", "2001", "x y"},
		floats:  []string{"1.5", "-0.25", "2"},
	}
	if len(g.ints) == 0 {
		g.ints = []int{0, 1, -1}
	}
	g.query = g.typeInfo(schema.Query)
	g.tokenLimit = opts.Limits.MaxTokens
	g.tokenBytes = g.maxTokenBytes()
	return g, nil
}

// typeInfo returns (and on first use builds) the typeInfo of an object type
// and of every object type its fields reach.
func (g *Generator) typeInfo(def *ast.Definition) *typeInfo {
	if t := g.types[def.Name]; t != nil {
		return t
	}
	t := &typeInfo{def: def, keys: []string{"a", "b", "c", "x"}}
	g.types[def.Name] = t
	for _, f := range def.Fields {
		if !g.selectable(f) {
			continue
		}
		t.fields = append(t.fields, f)
		t.keys = append(t.keys, f.Name)
		if d := g.schema.Types[f.Type.Name()]; d.Kind == ast.Object {
			g.typeInfo(d)
		}
	}
	return t
}

// selectable says whether the generator may select f: not introspection nor
// federation's _service and _entities (gqlgen's: the fast path leaves them to
// it), of a scalar, enum or object type, with every required argument
// generable.
func (g *Generator) selectable(f *ast.FieldDefinition) bool {
	if strings.HasPrefix(f.Name, "__") || f.Name == "_service" || f.Name == "_entities" {
		return false
	}
	d := g.schema.Types[f.Type.Name()]
	if d == nil || (d.Kind != ast.Scalar && d.Kind != ast.Enum && d.Kind != ast.Object) {
		return false
	}
	for _, a := range f.Arguments {
		if required(a.Type, a.DefaultValue) && !g.generable(a.Type, map[string]bool{}) {
			return false
		}
	}
	return true
}

// required says whether an argument or input field must be given.
func required(t *ast.Type, def *ast.Value) bool { return t.NonNull && def == nil }

// generable says whether the generator can write a value of type t: built-in
// scalars, enums, lists of those, and input objects whose required fields are
// generable. visiting breaks the recursion of self-referencing input types,
// which can only be through optional fields in a valid schema.
func (g *Generator) generable(t *ast.Type, visiting map[string]bool) bool {
	if t.Elem != nil {
		return g.generable(t.Elem, visiting)
	}
	d := g.schema.Types[t.NamedType]
	if d == nil {
		return false
	}
	switch d.Kind {
	case ast.Scalar:
		return slices.Contains([]string{"Int", "Float", "String", "Boolean", "ID"}, d.Name)
	case ast.Enum:
		return len(d.EnumValues) > 0
	case ast.InputObject:
		if visiting[d.Name] {
			return true
		}
		visiting[d.Name] = true
		defer delete(visiting, d.Name)
		for _, f := range d.Fields {
			if required(f.Type, f.DefaultValue) && !g.generable(f.Type, visiting) {
				return false
			}
		}
		return true
	}
	return false
}

// maxTokenBytes bounds the bytes one token and the separator after it take in
// a generated document: the longest name or literal it may write, plus one.
func (g *Generator) maxTokenBytes() int {
	n := len("fragment") // also covers "query", "include", "Boolean", "$v99"
	n = max(n, 11)       // an Int literal: -2147483648
	for _, s := range g.strings {
		n = max(n, len(s)+2)
	}
	for _, s := range g.floats {
		n = max(n, len(s))
	}
	for _, v := range g.opts.Ints {
		for _, i := range v {
			n = max(n, len(itoa(i)))
		}
	}
	for _, d := range g.schema.Types {
		n = max(n, len(d.Name)+len(fragmentSuffix)+4) // fragment names
		for _, f := range d.Fields {
			n = max(n, len(f.Name))
			for _, a := range f.Arguments {
				n = max(n, len(a.Name))
			}
		}
		for _, v := range d.EnumValues {
			n = max(n, len(v.Name))
		}
	}
	return n + 1
}

// Generate makes one operation from src's bytes. The same bytes give the same
// operation.
func (g *Generator) Generate(src *Source) Operation {
	o := newOp(g, src)
	return o.operation()
}
