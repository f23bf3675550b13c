package fastpath

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
)

// object is the compiled selection set of one object type: the fields
// gqlgen's CollectFields yields for it, in its order, merged as it merges
// them.
type object struct {
	fields []field
	// invalid is true when collecting the selection set panics in gqlgen
	// (an @skip or @include whose `if` is not a Boolean): a non-nil object
	// with this selection resolves to null, as gqlgen's recovered panic does.
	invalid bool
}

// field is one response key of an object.
type field struct {
	// key is the quoted response key and its colon, preceded by a comma
	// unless the field is the object's first.
	key  string
	kind kind
	// typename is the quoted object type name, for kindTypename.
	typename string
	arg      intArg
	// args is the field's first occurrence, whose arguments a binding with
	// argMap reads at execution (gqlgen reads the collected field's first).
	args *ast.Field
	sub  *object // the selection of an object or list-of-objects field
}

// intArg is the value of a field's Int! argument.
type intArg struct {
	// variable names the variable the argument reads; "" for a literal.
	variable string
	literal  int
	// invalid marks a literal gqlgen cannot read as an Int (the field
	// resolves to null, with an error).
	invalid bool
}

// state is a condition's value at execution: false, true, or neither (an
// absent variable without a default, null, or not a Boolean), which makes
// gqlgen's CollectFields panic.
type state uint8

const (
	stateFalse state = iota
	stateTrue
	stateInvalid
)

// condition is a variable an @skip or @include reads. Conditions are told
// apart by name and definition: gqlparser points each use of a variable at
// the definition of the operation it validated last, so a fragment shared by
// two operations may see another default than the operation's own.
type condition struct {
	name string
	def  *ast.VariableDefinition
	// absent is the state when vars has no value: the default's, as
	// ast.Value.Value reads it.
	absent state
}

// state mirrors how gqlgen reads a directive's `if` from a variable:
// ast.Value.Value(vars), which falls back to the variable's default, then
// requires a bool.
func (c *condition) state(vars map[string]any) state {
	v, ok := vars[c.name]
	if !ok {
		return c.absent
	}
	return boolState(v)
}

func boolState(v any) state {
	switch b, ok := v.(bool); {
	case !ok:
		return stateInvalid
	case b:
		return stateTrue
	default:
		return stateFalse
	}
}

// checker walks everything an operation can select, whatever its variables,
// and refuses what the fast path does not execute; it also lists the
// conditions. Once it has passed, compiling a tree for any combination of
// conditions cannot fail.
type checker struct {
	schema    *ast.Schema
	doc       *ast.QueryDocument
	conds     []condition
	fragments map[string]bool // checked (or being checked): each has one type condition
	// readsVariables is set when an argument reads a variable (conditions
	// are in conds).
	readsVariables bool
	// mayNeedReference is set by a field whose resolver can fail on the
	// data (an unknown stage or type): see ErrNeedsReference.
	mayNeedReference bool
	// forCost accepts what CompileCost counts but Compile leaves to
	// gqlgen: __schema and __type on Query, federation's _service and
	// _entities on Query, and directives other than @skip and @include
	// (@defer: its fragment is counted as if inline).
	forCost bool
}

func newChecker(schema *ast.Schema, doc *ast.QueryDocument) *checker {
	return &checker{schema: schema, doc: doc, fragments: map[string]bool{}}
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

func (ch *checker) selectionSet(set ast.SelectionSet, typeName string) error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if err := ch.directives(sel.Directives); err != nil {
				return err
			}
			if err := ch.field(sel, typeName); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := ch.directives(sel.Directives); err != nil {
				return err
			}
			cond := sel.TypeCondition
			if cond == "" {
				cond = typeName
			}
			if err := ch.selectionSet(sel.SelectionSet, cond); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if err := ch.directives(sel.Directives); err != nil {
				return err
			}
			frag := ch.doc.Fragments.ForName(sel.Name)
			if frag == nil {
				return unsupported("fragment %s is not defined", sel.Name)
			}
			if ch.fragments[frag.Name] {
				continue
			}
			ch.fragments[frag.Name] = true
			if err := ch.selectionSet(frag.SelectionSet, frag.TypeCondition); err != nil {
				return err
			}
		default:
			return unsupported("selection %T", sel)
		}
	}
	return nil
}

func (ch *checker) field(f *ast.Field, typeName string) error {
	if f.Name == "__typename" {
		if len(f.SelectionSet) > 0 || len(f.Arguments) > 0 {
			return unsupported("__typename with a selection or arguments")
		}
		return nil
	}
	if ch.forCost && typeName == "Query" && isIntrospection(f.Name) {
		return nil
	}
	if ch.forCost && typeName == "Query" && isFederation(f.Name) {
		return ch.federation(f)
	}
	b, ok := bind(typeName, f.Name)
	if !ok {
		return unsupported("field %s.%s", typeName, f.Name)
	}
	switch b.kind {
	case kindTypeMoves, kindTypeFormSchema, kindQueryValidate:
		ch.mayNeedReference = true
	}
	def := ch.definition(typeName, f.Name)
	if def == nil {
		return unsupported("the schema has no field %s.%s", typeName, f.Name)
	}
	if got := def.Type.String(); got != b.declared {
		return unsupported("%s.%s is declared %s; the fast path writes %s", typeName, f.Name, got, b.declared)
	}
	for _, a := range f.Arguments {
		if b.argMap {
			// Any argument validation let through, read by ArgumentMap.
			ch.readsVariables = ch.readsVariables || hasVariable(a.Value)
			continue
		}
		if a.Name != b.arg {
			return unsupported("argument %s of %s.%s", a.Name, typeName, f.Name)
		}
		if a.Value == nil || (a.Value.Kind != ast.IntValue && a.Value.Kind != ast.Variable) {
			return unsupported("argument %s of %s.%s is not an Int literal or a variable", a.Name, typeName, f.Name)
		}
		if a.Value.Kind == ast.Variable {
			ch.readsVariables = true
		}
	}
	child := def.Type.Name()
	if ch.isObject(child) {
		return ch.selectionSet(f.SelectionSet, child)
	}
	if len(f.SelectionSet) > 0 {
		return unsupported("a selection under the scalar %s.%s", typeName, f.Name)
	}
	return nil
}

// hasVariable reports whether a value is or holds a variable (in a list or
// an input object).
func hasVariable(v *ast.Value) bool {
	if v == nil {
		return false
	}
	if v.Kind == ast.Variable {
		return true
	}
	for _, c := range v.Children {
		if hasVariable(c.Value) {
			return true
		}
	}
	return false
}

// isIntrospection tells the root fields of introspection.
func isIntrospection(name string) bool { return name == "__schema" || name == "__type" }

// isFederation tells the root fields gqlgen's federation plugin adds for a
// gateway: _service { sdl } and _entities(representations:). gqlgen executes
// them; CompileCost counts them.
func isFederation(name string) bool { return name == "_service" || name == "_entities" }

// entityUnion is the federation plugin's union of entity types, and
// entityType its one member, which the cost of _entities is counted for.
const (
	entityUnion = "_Entity"
	entityType  = "OpportunityType"
)

// federation checks a federation root field for CompileCost. _service's
// answer is the schema's SDL, bounded by the schema: counted as nothing,
// like introspection. _entities answers one entity per representation, so
// its selection is checked as the entity type's, and the union must hold
// that type alone: an entity type added to the schema without its count
// here leaves the operation uncounted, and so refused, rather than counted
// wrong.
func (ch *checker) federation(f *ast.Field) error {
	if f.Name == "_service" {
		return nil
	}
	union := ch.schema.Types[entityUnion]
	if union == nil || union.Kind != ast.Union || len(union.Types) != 1 || union.Types[0] != entityType {
		return unsupported("_entities over a union other than %s = %s", entityUnion, entityType)
	}
	for _, a := range f.Arguments {
		ch.readsVariables = ch.readsVariables || hasVariable(a.Value)
	}
	return ch.selectionSet(f.SelectionSet, entityUnion)
}

func (ch *checker) definition(typeName, fieldName string) *ast.FieldDefinition {
	t := ch.schema.Types[typeName]
	if t == nil {
		return nil
	}
	return t.Fields.ForName(fieldName)
}

func (ch *checker) isObject(typeName string) bool {
	t := ch.schema.Types[typeName]
	return t != nil && t.Kind == ast.Object
}

// directives accepts @skip and @include (anything else, @defer among them,
// changes the response's shape) and records the variables they read.
func (ch *checker) directives(list ast.DirectiveList) error {
	for _, d := range list {
		if d.Name != "skip" && d.Name != "include" {
			if ch.forCost {
				continue // counted as if absent: an upper bound of the answer
			}
			return unsupported("directive @%s", d.Name)
		}
		arg := d.Arguments.ForName("if")
		if arg == nil || arg.Value == nil {
			return unsupported("@%s without if", d.Name)
		}
		switch v := arg.Value; v.Kind {
		case ast.BooleanValue:
		case ast.Variable:
			ch.condition(v)
		default:
			return unsupported("@%s(if:) is not a Boolean literal or a variable", d.Name)
		}
	}
	return nil
}

func (ch *checker) condition(v *ast.Value) {
	for _, c := range ch.conds {
		if c.name == v.Raw && c.def == v.VariableDefinition {
			return
		}
	}
	c := condition{name: v.Raw, def: v.VariableDefinition, absent: stateInvalid}
	if v.VariableDefinition != nil && v.VariableDefinition.DefaultValue != nil {
		if d, err := v.VariableDefinition.DefaultValue.Value(nil); err == nil {
			c.absent = boolState(d)
		}
	}
	ch.conds = append(ch.conds, c)
}

// compiler builds the tree of one combination of conditions. It mirrors
// graphql.CollectFields (gqlgen's graphql/executable_schema.go) step for
// step: the order it tests directives, fragments already spread, type
// conditions, how it merges fields and concatenates their sub-selections.
type compiler struct {
	schema *ast.Schema
	doc    *ast.QueryDocument
	op     *ast.OperationDefinition
	conds  []condition
}

// collected is one entry of CollectFields' result: the first occurrence of a
// response key and the sub-selections of every occurrence merged into it.
type collected struct {
	field      *ast.Field
	selections ast.SelectionSet
}

func (c *compiler) root(states []state) *object {
	return c.object(c.op.SelectionSet, c.schema.Query.Name, states)
}

func (c *compiler) object(set ast.SelectionSet, typeName string, states []state) *object {
	var list []collected
	if !c.collect(set, typeName, states, map[string]bool{}, &list) {
		return &object{invalid: true}
	}
	o := &object{fields: make([]field, 0, len(list))}
	seen := make(map[string]bool, len(list))
	for _, cf := range list {
		f := cf.field
		// gqlgen writes a response key once, its first field's value
		// (graphql.marshalFieldSet). Validation leaves no second field under
		// one key that CollectFields did not merge; this keeps the rule anyway.
		if seen[f.Alias] {
			continue
		}
		seen[f.Alias] = true
		key := make([]byte, 0, len(f.Alias)+4)
		if len(o.fields) > 0 {
			key = append(key, ',')
		}
		key = appendString(key, f.Alias)
		key = append(key, ':')
		out := field{key: string(key)}
		if f.Name == "__typename" {
			out.kind = kindTypename
			out.typename = string(appendString(nil, typeName))
			o.fields = append(o.fields, out)
			continue
		}
		if typeName == "Query" && isIntrospection(f.Name) {
			out.kind = kindIntrospection // only CompileCost's check lets it through
			o.fields = append(o.fields, out)
			continue
		}
		if typeName == "Query" && isFederation(f.Name) {
			// Only CompileCost's check lets these through.
			out.kind = kindService
			if f.Name == "_entities" {
				// Each representation resolves to an entityType or
				// null, and gqlgen collects the selection for that
				// type (its implementors include the union).
				out.kind, out.args = kindEntities, f
				out.sub = c.object(cf.selections, entityType, states)
			}
			o.fields = append(o.fields, out)
			continue
		}
		b, ok := bind(typeName, f.Name)
		if !ok {
			panic("fastpath: compile: " + typeName + "." + f.Name + " passed the check but has no binding")
		}
		out.kind = b.kind
		if b.arg != "" {
			out.arg = argument(f.Arguments.ForName(b.arg))
		}
		if b.argMap {
			out.args = f
		}
		if child := c.schema.Types[typeName].Fields.ForName(f.Name).Type.Name(); c.schema.Types[child].Kind == ast.Object {
			out.sub = c.object(cf.selections, child, states)
		}
		o.fields = append(o.fields, out)
	}
	return o
}

// argument reads an Int! argument as gqlgen does: a literal through
// ast.Value.Value then graphql.UnmarshalInt; a variable at execution, from
// the variables alone (ast's arg2map does not fall back to the variable's
// default); no argument at all is 0 (graphql.ProcessArgField's zero value).
func argument(a *ast.Argument) intArg {
	if a == nil {
		return intArg{}
	}
	if a.Value.Kind == ast.Variable {
		return intArg{variable: a.Value.Raw}
	}
	n, err := strconv.ParseInt(a.Value.Raw, 10, 64)
	if err != nil {
		return intArg{invalid: true}
	}
	v, ok := unmarshalInt(n)
	return intArg{literal: v, invalid: !ok}
}

// collect appends to out the fields of set for an object of type typeName,
// as graphql.collectFields does, and returns false where it would panic.
func (c *compiler) collect(set ast.SelectionSet, typeName string, states []state, visited map[string]bool, out *[]collected) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			include, ok := c.include(sel.Directives, states)
			if !ok {
				return false
			}
			if !include {
				continue
			}
			i := find(*out, sel.Name, sel.Alias, sel.ObjectDefinition)
			if i < 0 {
				*out = append(*out, collected{field: sel})
				i = len(*out) - 1
			}
			(*out)[i].selections = concat((*out)[i].selections, sel.SelectionSet)
		case *ast.InlineFragment:
			include, ok := c.include(sel.Directives, states)
			if !ok {
				return false
			}
			if !include || !c.conditionMatches(sel.TypeCondition, typeName) {
				continue
			}
			var children []collected
			if !c.collect(sel.SelectionSet, typeName, states, visited, &children) {
				return false
			}
			merge(out, children)
		case *ast.FragmentSpread:
			if visited[sel.Name] {
				continue
			}
			include, ok := c.include(sel.Directives, states)
			if !ok {
				return false
			}
			if !include {
				continue
			}
			visited[sel.Name] = true
			frag := c.doc.Fragments.ForName(sel.Name)
			if !c.conditionMatches(frag.TypeCondition, typeName) {
				continue
			}
			var children []collected
			if !c.collect(frag.SelectionSet, typeName, states, visited, &children) {
				return false
			}
			merge(out, children)
		}
	}
	return true
}

// merge adds a fragment's fields: a new response key at the end, an existing
// one keeping its place and gaining the sub-selections.
func merge(out *[]collected, children []collected) {
	for _, cf := range children {
		if i := find(*out, cf.field.Name, cf.field.Alias, cf.field.ObjectDefinition); i >= 0 {
			(*out)[i].selections = concat((*out)[i].selections, cf.selections)
			continue
		}
		*out = append(*out, cf)
	}
}

// concat appends without ever writing into a or b's backing arrays: they may
// be the document's own selection sets.
func concat(a, b ast.SelectionSet) ast.SelectionSet {
	return append(slices.Clip(a), b...)
}

// find is graphql.getOrCreateAndAppendField's lookup: the same name and
// alias, on the same object type (or one of its interfaces).
func find(list []collected, name, alias string, def *ast.Definition) int {
	for i, cf := range list {
		if cf.field.Name != name || cf.field.Alias != alias {
			continue
		}
		d := cf.field.ObjectDefinition
		switch {
		case d == def:
			return i
		case d == nil || def == nil:
			continue
		case d.Name == def.Name, slices.Contains(def.Interfaces, d.Name), slices.Contains(d.Interfaces, def.Name):
			return i
		}
	}
	return -1
}

// conditionMatches is graphql.doesFragmentConditionMatch for an object
// type: gqlgen's implementors of an object are its name, its interfaces and
// the unions it is a member of (OpportunityType's include the federation
// plugin's _Entity, so `... on _Entity` applies inside any selection of an
// OpportunityType).
func (c *compiler) conditionMatches(typeCondition, typeName string) bool {
	if typeCondition == "" || typeCondition == typeName {
		return true
	}
	cond := c.schema.Types[typeCondition]
	if cond == nil {
		return false
	}
	switch cond.Kind {
	case ast.Union:
		return slices.Contains(cond.Types, typeName)
	case ast.Interface:
		def := c.schema.Types[typeName]
		return def != nil && slices.Contains(def.Interfaces, typeCondition)
	}
	return false
}

// include is graphql.shouldIncludeNode: @skip, then @include, each read when
// present (the first of its name); ok is false where gqlgen would panic.
func (c *compiler) include(directives ast.DirectiveList, states []state) (include, ok bool) {
	if len(directives) == 0 {
		return true, true
	}
	skip, include := false, true
	if d := directives.ForName("skip"); d != nil {
		if skip, ok = c.ifArgument(d, states); !ok {
			return false, false
		}
	}
	if d := directives.ForName("include"); d != nil {
		if include, ok = c.ifArgument(d, states); !ok {
			return false, false
		}
	}
	return !skip && include, true
}

func (c *compiler) ifArgument(d *ast.Directive, states []state) (value, ok bool) {
	v := d.Arguments.ForName("if").Value // the checker made sure it is there
	if v.Kind != ast.Variable {
		b, err := strconv.ParseBool(v.Raw)
		return b, err == nil
	}
	for i, cond := range c.conds {
		if cond.name == v.Raw && cond.def == v.VariableDefinition {
			return states[i] == stateTrue, states[i] != stateInvalid
		}
	}
	panic("fastpath: compile: @" + d.Name + " reads $" + v.Raw + ", which the check did not record")
}
