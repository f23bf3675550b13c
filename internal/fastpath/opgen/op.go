package opgen

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// fragmentSuffix ends every fragment name: TypeFields1, TypeFields2, …
const fragmentSuffix = "Fields"

// Fallbacks for the bounds Options leave at zero: without a depth bound a
// schema whose first fields lead in a cycle would recurse as long as the
// input lasts, and past the input it would not stop at all.
const (
	unboundedDepth  = 32
	unboundedTokens = 10000
	unbounded       = math.MaxInt32
)

// op is the state of one Generate call.
//
// Validity rests on one rule: on each type, a response key always stands for
// the same field with the same arguments (keys), wherever it occurs in the
// document. Fields that share a response key in one selection set, directly
// or through fragments, therefore always merge (OverlappingFieldsCanBeMerged:
// the generator selects on object types only, so every such pair is on one
// type), and their sub-selections merge by the same rule one level down.
//
// The limits are kept as budgets: complexity and depth depend on where a
// selection is, so each selection set gets a room; tokens, aliases, root
// fields and directives are document-wide counters, with a fragment's own
// counts kept so that a further spread of it can be charged in full.
type op struct {
	g   *Generator
	src *Source

	keys    map[*typeInfo]map[string]*keyDef
	keyList map[*typeInfo][]string // the keys of keys, in the order first used: a choice must not depend on map order

	frags []*fragment // finished fragments, in the order finished
	stack []*fragment // fragments being written, outermost first
	vars  []*variable
	conds []*variable // the variables @skip and @include read, in the order first read

	costLimit  int
	listWeight int // what a list multiplies its children's cost by; 1 when complexity is unbounded
	tokenLimit int
	tokens     int // tokens written, and those committed: closing braces, variable definitions
	reserved   int // tokens promised to selection sets not yet opened, and to their first selection
	bytes      int // bytes written or committed, as tokens
	aliases    int // as internal/limits counts them, fragments expanded
	rootFields int // likewise
	directives int // as gqlparser's walker visits them: see directiveWeight
}

// keyDef is what a response key stands for on one type.
type keyDef struct {
	name   string               // the field's name, or "__typename"
	field  *ast.FieldDefinition // nil for __typename
	args   string               // "(id: 2001)", or ""
	argTok int                  // tokens of args
	object *typeInfo            // the type of its sub-selection; nil for a leaf
	list   bool
}

// fragment is a named fragment, being written or finished.
type fragment struct {
	name        string
	on          *typeInfo
	text        string
	cost, depth int // of its selection set: where it may be spread again
	aliases     int // in its selection set, fragments expanded
	rootFields  int // likewise, on the query type
	dirs        int // directives written in its own selection set
	// anc are the fragments that spread it, directly or not; inner the
	// fragments it spreads itself. Both count directives: gqlparser walks a
	// fragment once for the operation, once on its own and once more for
	// each fragment that reaches it.
	anc   map[*fragment]bool
	inner []*fragment
}

// variable is a variable definition, with the value given for it.
type variable struct {
	name  string
	typ   *ast.Type
	def   string // the default's literal; "" for none
	value any    // JSON value, when given
	given bool
	null  bool // given as null
}

// definition returns the variable's definition as written in the document.
func (v *variable) definition() string {
	s := "$" + v.name + ": " + v.typ.String()
	if v.def != "" {
		s += " = " + v.def
	}
	return s
}

// room is what a selection set may still spend where it is: complexity
// units (lists above it multiply its cost) and levels of field nesting.
type room struct{ cost, depth int }

func newOp(g *Generator, src *Source) *op {
	o := &op{
		g:          g,
		src:        src,
		keys:       map[*typeInfo]map[string]*keyDef{},
		keyList:    map[*typeInfo][]string{},
		costLimit:  unbounded,
		listWeight: 1,
		tokenLimit: g.tokenLimit,
	}
	if l := g.opts.MaxComplexity; l > 0 && g.opts.ListWeight > 0 {
		o.costLimit, o.listWeight = l, g.opts.ListWeight
	}
	if o.tokenLimit == 0 {
		o.tokenLimit = unboundedTokens
	}
	return o
}

func (o *op) depthLimit() int {
	if l := o.g.opts.Limits.MaxDepth; l > 0 {
		return l
	}
	return unboundedDepth
}

// under says whether n more of a counter stays within its bound (0: none).
func under(counter, n, limit int) bool { return limit == 0 || counter+n <= limit }

// avail returns how many more tokens may be written. MaxQueryBytes is kept
// by counting the bytes written and charging what is still to be written at
// the longest a token may be.
func (o *op) avail() int {
	n := o.tokenLimit - o.tokens - o.reserved
	if l := o.g.opts.Limits.MaxQueryBytes; l > 0 {
		n = min(n, (l-o.bytes)/o.g.tokenBytes-o.reserved)
	}
	return n
}

func (o *op) top() *fragment {
	if len(o.stack) == 0 {
		return nil
	}
	return o.stack[len(o.stack)-1]
}

// operation writes the whole document. The first byte sizes it: the token
// budget runs from minTokens (byte 0, a one-field query) to the limit.
func (o *op) operation() Operation {
	if size := int(o.src.byte()); o.tokenLimit > minTokens {
		o.tokenLimit = minTokens + (o.tokenLimit-minTokens)*size/255
	}
	var name string
	if o.src.intn(3) == 2 {
		name = pick(o.src, []string{"Q", "Config", "opgen_1"})
	}
	keyword := name != "" || o.src.intn(2) == 1
	fragmentsFirst := o.src.intn(2) == 1

	o.tokens, o.bytes = headerTokens, headerBytes
	o.reserved = 3
	var body strings.Builder
	o.selectionSet(&body, o.g.query, room{cost: o.costLimit, depth: o.depthLimit()})

	var doc strings.Builder
	if fragmentsFirst {
		for _, f := range o.frags {
			doc.WriteString(f.text + "\n")
		}
	}
	if keyword || len(o.vars) > 0 {
		doc.WriteString("query")
		if name != "" {
			doc.WriteString(" " + name)
		}
		if len(o.vars) > 0 {
			defs := make([]string, len(o.vars))
			for i, v := range o.vars {
				defs[i] = v.definition()
			}
			doc.WriteString("(" + strings.Join(defs, ", ") + ")")
		}
		doc.WriteString(" ")
	}
	doc.WriteString(body.String())
	if !fragmentsFirst {
		for _, f := range o.frags {
			doc.WriteString("\n" + f.text)
		}
	}

	out := Operation{Query: doc.String(), OperationName: name}
	if len(o.vars) > 0 {
		out.Variables = map[string]any{}
		for _, v := range o.vars {
			if v.given {
				out.Variables[v.name] = v.value
			}
		}
	}
	return out
}

// selectionSet writes a selection set on t within r and returns its cost and
// nesting. The caller has reserved 3 tokens for it: its braces, and its first
// selection, which fits as __typename when nothing else does.
func (o *op) selectionSet(b *strings.Builder, t *typeInfo, r room) (cost, depth int) {
	o.reserved -= 3
	o.tokens += 2
	o.bytes += len("{ }")
	b.WriteString("{")
	var here []string // response keys selected directly in this set
	for i := range maxSelections {
		if i > 0 && o.src.intn(8) < 3 {
			break
		}
		c, d, ok := o.selection(b, t, room{cost: r.cost - cost, depth: r.depth}, &here, i == 0)
		if !ok {
			break
		}
		cost += c
		depth = max(depth, d)
	}
	b.WriteString(" }")
	return cost, depth
}

// selection writes one selection; it fails only when the set is not empty
// (first is false) and what was chosen does not fit.
func (o *op) selection(b *strings.Builder, t *typeInfo, r room, here *[]string, first bool) (cost, depth int, ok bool) {
	switch k := o.src.intn(16); {
	case k >= 14:
		if cost, depth, ok = o.spread(b, t, r); ok {
			return cost, depth, true
		}
	case k >= 12:
		if cost, depth, ok = o.inline(b, t, r); ok {
			return cost, depth, true
		}
	case k == 11:
		key := "__typename"
		if o.src.intn(4) == 3 {
			key = pick(o.src, t.keys)
		}
		if cost, depth, ok = o.field(b, t, r, key, &keyDef{name: "__typename"}, false); ok {
			*here = append(*here, key)
			return cost, depth, true
		}
	case k >= 9:
		// A key again: one of this set (its field merges with the earlier
		// one, sub-selections too), or one used on this type elsewhere.
		keys := *here
		if k == 10 || len(keys) == 0 {
			keys = o.keyList[t]
		}
		if len(keys) > 0 {
			key := pick(o.src, keys)
			if cost, depth, ok = o.field(b, t, r, key, nil, false); ok {
				*here = append(*here, key)
				return cost, depth, true
			}
		}
	}
	if len(t.fields) > 0 {
		f := pick(o.src, t.fields)
		key, self := f.Name, false
		switch a := o.src.intn(8); {
		case a == 7:
			self = true // "id: id": an alias that changes nothing
		case a >= 5:
			key = pick(o.src, t.keys)
		}
		def := &keyDef{name: f.Name, field: f, list: f.Type.Elem != nil}
		if d := o.g.schema.Types[f.Type.Name()]; d.Kind == ast.Object {
			def.object = o.g.types[d.Name]
		}
		if cost, depth, ok = o.field(b, t, r, key, def, self); ok {
			*here = append(*here, key)
			return cost, depth, true
		}
	}
	if first {
		// Always fits: the set reserved its token, its room is at least
		// one unit and one level, and the root field it may be was
		// checked when the set was opened.
		o.write(b, "__typename", 1)
		o.register(t, "__typename", &keyDef{name: "__typename"})
		if t == o.g.query {
			o.countRoot(1)
		}
		*here = append(*here, "__typename")
		return 1, 1, true
	}
	return 0, 0, false
}

// field writes one field under response key key: what key already stands
// for on t, or else fresh, which it then stands for. self writes the alias
// even when it is the field's name.
func (o *op) field(b *strings.Builder, t *typeInfo, r room, key string, fresh *keyDef, self bool) (cost, depth int, ok bool) {
	def := o.keys[t][key]
	isNew := def == nil
	if isNew {
		if fresh == nil {
			return 0, 0, false
		}
		def = fresh
	}
	alias := key != def.name
	tokens := 1 + def.argTok
	if isNew && def.field != nil {
		tokens = 1 + o.argsUpper(def.field)
	}
	if alias || self {
		tokens += 2
	}
	need := room{cost: 1, depth: 1}
	weight := 1
	if def.object != nil {
		if def.list {
			weight = o.listWeight
		}
		tokens += 3
		need = room{cost: 1 + weight, depth: 2}
	}
	root := t == o.g.query
	switch {
	case o.avail() < tokens, r.cost < need.cost, r.depth < need.depth,
		alias && !under(o.aliases, 1, o.g.opts.Limits.MaxAliases),
		root && !under(o.rootFields, 1, o.g.opts.Limits.MaxRootFields):
		return 0, 0, false
	}
	if isNew {
		if def.field != nil {
			def.args, def.argTok = o.arguments(t, def.field)
		}
		o.register(t, key, def)
	}

	if alias || self {
		o.write(b, key+":", 2)
	}
	o.write(b, def.name+def.args, 1+def.argTok)
	if alias {
		o.countAlias(1)
	}
	if root {
		o.countRoot(1)
	}
	if def.object == nil {
		o.writeDirectives(b)
		return 1, 1, true
	}
	o.reserved += 3
	o.writeDirectives(b)
	o.raw(b, " ")
	c, d := o.selectionSet(b, def.object, room{cost: (r.cost - 1) / weight, depth: r.depth - 1})
	return 1 + weight*c, 1 + d, true
}

// register records what key stands for on t.
func (o *op) register(t *typeInfo, key string, def *keyDef) {
	if o.keys[t] == nil {
		o.keys[t] = map[string]*keyDef{}
	}
	if _, ok := o.keys[t][key]; !ok {
		o.keys[t][key] = def
		o.keyList[t] = append(o.keyList[t], key)
	}
}

// inline writes an inline fragment on t, with or without its type condition
// (t: the schema has no abstract types, so no other condition applies).
func (o *op) inline(b *strings.Builder, t *typeInfo, r room) (cost, depth int, ok bool) {
	typed := o.src.intn(3) != 0
	tokens := 1 + 3
	if typed {
		tokens += 2
	}
	if o.avail() < tokens || r.cost < 1 || r.depth < 1 ||
		(t == o.g.query && !under(o.rootFields, 1, o.g.opts.Limits.MaxRootFields)) {
		return 0, 0, false
	}
	if typed {
		o.write(b, "... on "+t.def.Name, 3)
	} else {
		o.write(b, "...", 1)
	}
	o.reserved += 3
	o.writeDirectives(b)
	o.raw(b, " ")
	cost, depth = o.selectionSet(b, t, r)
	return cost, depth, true
}

// spread writes a fragment spread on t: of a finished fragment that fits
// here, or of a new one written for this place.
func (o *op) spread(b *strings.Builder, t *typeInfo, r room) (cost, depth int, ok bool) {
	var fits []*fragment
	for _, f := range o.frags {
		if f.on == t && o.fits(f, r) {
			fits = append(fits, f)
		}
	}
	if len(fits) > 0 && o.src.intn(3) != 0 {
		f := pick(o.src, fits)
		o.directives += o.spreadDirectives(f, true)
		o.countAlias(f.aliases)
		o.countRoot(f.rootFields)
		if top := o.top(); top != nil {
			top.inner = append(top.inner, f)
		}
		o.write(b, "..."+f.name, 2)
		o.writeDirectives(b)
		return f.cost, f.depth, true
	}

	// "...Name", "fragment Name on Type", and its selection set.
	if o.avail() < 2+4+3 || r.cost < 1 || r.depth < 1 ||
		(t == o.g.query && !under(o.rootFields, 1, o.g.opts.Limits.MaxRootFields)) {
		return 0, 0, false
	}
	f := &fragment{
		name: t.def.Name + fragmentSuffix + strconv.Itoa(len(o.frags)+len(o.stack)+1),
		on:   t,
		anc:  map[*fragment]bool{},
	}
	for _, s := range o.stack {
		f.anc[s] = true
	}
	if top := o.top(); top != nil {
		top.inner = append(top.inner, f)
	}
	spread, head := " ..."+f.name, "fragment "+f.name+" on "+t.def.Name+" "
	o.tokens += 2 + 4
	o.bytes += len(spread) + len(head) + len("\n")
	o.reserved += 3
	o.stack = append(o.stack, f)
	var fb strings.Builder
	fb.WriteString(head)
	f.cost, f.depth = o.selectionSet(&fb, t, r)
	o.stack = o.stack[:len(o.stack)-1]
	f.text = fb.String()
	o.frags = append(o.frags, f)

	b.WriteString(spread) // counted above
	o.writeDirectives(b)
	return f.cost, f.depth, true
}

// fits says whether finished fragment f may be spread again where r is left.
func (o *op) fits(f *fragment, r room) bool {
	l := o.g.opts.Limits
	return f.cost <= r.cost && f.depth <= r.depth && o.avail() >= 2 &&
		under(o.aliases, f.aliases, l.MaxAliases) &&
		under(o.rootFields, f.rootFields, l.MaxRootFields) &&
		under(o.directives, o.spreadDirectives(f, false), l.MaxDirectives)
}

// spreadDirectives returns how many more directives gqlparser's walker visits
// once f is spread inside the fragments being written: each of them now
// reaches f and what f spreads, and walks their directives once more. With
// record it also records that they reach them.
func (o *op) spreadDirectives(f *fragment, record bool) int {
	n := 0
	seen := map[*fragment]bool{}
	var visit func(d *fragment)
	visit = func(d *fragment) {
		if seen[d] {
			return
		}
		seen[d] = true
		for _, s := range o.stack {
			if !d.anc[s] {
				n += d.dirs
				if record {
					d.anc[s] = true
				}
			}
		}
		for _, in := range d.inner {
			visit(in)
		}
	}
	visit(f)
	return n
}

// directiveWeight is how many times gqlparser's walker visits a directive
// written now: once in the operation's selection sets; in a fragment, once
// for the operation, once for the fragment itself and once for each fragment
// that reaches it (each is walked on its own too).
func (o *op) directiveWeight() int {
	top := o.top()
	if top == nil {
		return 1
	}
	return 2 + len(top.anc)
}

// writeDirectives writes none, @skip, @include, or both, each on a literal or on a
// Boolean variable.
func (o *op) writeDirectives(b *strings.Builder) {
	n := 0
	switch o.src.intn(16) {
	case 13, 14:
		n = 1
	case 15:
		n = 2
	}
	if n == 0 {
		return
	}
	names := []string{"skip", "include"}
	first := o.src.intn(2)
	boolean := &ast.Type{NamedType: "Boolean", NonNull: true}
	for i := range n {
		w := o.directiveWeight()
		// "@ skip ( if : $ v )" and the variable's definition.
		if !under(o.directives, w, o.g.opts.Limits.MaxDirectives) || o.avail() < 8+o.varUpper(boolean) {
			return
		}
		name := names[(first+i)%2]
		var cond string
		var tokens int
		cond, tokens = pick(o.src, []string{"true", "false"}), 1
		if o.src.intn(4) != 0 {
			if v := o.condition(boolean, "@"+name+"(if:)"); v != nil {
				cond, tokens = "$"+v.name, 2
			}
		}
		o.write(b, "@"+name+"(if: "+cond+")", 6+tokens)
		o.directives += w
		if top := o.top(); top != nil {
			top.dirs++
		}
	}
}

func (o *op) countAlias(n int) {
	o.aliases += n
	for _, f := range o.stack {
		f.aliases += n
	}
}

// countRoot counts n fields at the root; only fragments on the query type
// can be spread there.
func (o *op) countRoot(n int) {
	o.rootFields += n
	for _, f := range o.stack {
		if f.on == o.g.query {
			f.rootFields += n
		}
	}
}

// write appends text, n tokens, after a space.
func (o *op) write(b *strings.Builder, text string, n int) {
	b.WriteString(" " + text)
	o.tokens += n
	o.bytes += 1 + len(text)
}

// raw appends text that holds no token.
func (o *op) raw(b *strings.Builder, text string) {
	b.WriteString(text)
	o.bytes += len(text)
}

// arguments returns the arguments of field f on t: every required one, and
// each optional one that can be generated, half of the time.
func (o *op) arguments(t *typeInfo, f *ast.FieldDefinition) (text string, tokens int) {
	var parts []string
	for _, a := range f.Arguments {
		if !required(a.Type, a.DefaultValue) && (!o.g.generable(a.Type, map[string]bool{}) || o.src.intn(2) == 0) {
			continue
		}
		value, n := o.argument(a.Type, t.def.Name+"."+f.Name+"("+a.Name+":)")
		parts = append(parts, a.Name+": "+value)
		tokens += 2 + n
	}
	if len(parts) == 0 {
		return "", 0
	}
	return "(" + strings.Join(parts, ", ") + ")", tokens + 2
}

// argsUpper bounds the tokens arguments may write for f, variable
// definitions included.
func (o *op) argsUpper(f *ast.FieldDefinition) int {
	n := 2
	for _, a := range f.Arguments {
		n += 2 + max(o.literalUpper(a.Type, 0), 2+o.varUpper(a.Type))
	}
	return n
}

// argument returns a value for a position of type t: a literal, or a
// variable.
func (o *op) argument(t *ast.Type, coord string) (text string, tokens int) {
	if o.src.intn(2) == 1 {
		return "$" + o.variable(t, coord, true).name, 2
	}
	text, _, tokens = o.literal(t, coord, 0)
	return text, tokens
}

// condition returns a variable for a directive's condition, nil when
// MaxConditionVariables are read already and none of them fits.
func (o *op) condition(pos *ast.Type, coord string) *variable {
	if l := o.g.opts.MaxConditionVariables; l > 0 && len(o.conds) >= l {
		fitting := o.fitting(o.conds, pos, false)
		if len(fitting) == 0 {
			return nil
		}
		return pick(o.src, fitting)
	}
	v := o.variable(pos, coord, false)
	if !slices.Contains(o.conds, v) {
		o.conds = append(o.conds, v)
	}
	return v
}

// fitting returns those of vars that may stand where a value of type pos
// goes, and with null those given null.
func (o *op) fitting(vars []*variable, pos *ast.Type, null bool) []*variable {
	var out []*variable
	for _, v := range vars {
		if v.null && !null {
			continue
		}
		at := *pos
		if v.def != "" {
			at.NonNull = false // as gqlparser's VariablesInAllowedPosition allows
		}
		if v.typ.IsCompatible(&at) {
			out = append(out, v)
		}
	}
	return out
}

// variable returns a variable for a position of type pos: one
// defined already whose type fits there, or a new one, defined as pos or,
// with a default, as its nullable form, and given a value or left to its
// default. A nullable variable always has a default, so it may stand in a
// non-null position; its value may be null only with null (and
// Options.NullVariables).
func (o *op) variable(pos *ast.Type, coord string, null bool) *variable {
	null = null && o.g.opts.NullVariables
	if fitting := o.fitting(o.vars, pos, null); len(fitting) > 0 && o.src.intn(3) == 2 {
		return pick(o.src, fitting)
	}
	nonNull := *pos
	nonNull.NonNull = true
	v := &variable{name: "v" + strconv.Itoa(len(o.vars)+1), typ: pos, given: true}
	withDefault := false
	switch o.src.intn(4) {
	case 1:
		withDefault = true
	case 2:
		withDefault, v.given = true, false
	case 3:
		nullable := *pos
		nullable.NonNull = false
		v.typ = &nullable
		withDefault = true
		switch o.src.intn(4) {
		case 0:
			v.given = false
		case 3:
			v.null = null
		}
	}
	o.tokens += 3 + typeTokens(v.typ) // "$ v :" and the type
	if withDefault {
		text, _, n := o.literal(&nonNull, coord, 0)
		v.def = text
		o.tokens += 1 + n
	}
	if v.given && !v.null {
		_, v.value, _ = o.literal(&nonNull, coord, 0)
	}
	o.bytes += len(v.definition()) + len(", ")
	o.vars = append(o.vars, v)
	return v
}

// varUpper bounds the tokens of a new variable's definition for pos.
func (o *op) varUpper(pos *ast.Type) int {
	return 3 + typeTokens(pos) + 1 + o.literalUpper(pos, 0)
}

func typeTokens(t *ast.Type) int {
	n := 1
	if t.Elem != nil {
		n = 2 + typeTokens(t.Elem)
	}
	if t.NonNull {
		n++
	}
	return n
}

// literal returns a value of type t as GraphQL text, as the JSON value a
// request would give for it, and its tokens. Int values come from the
// coordinate's list.
func (o *op) literal(t *ast.Type, coord string, depth int) (text string, value any, tokens int) {
	if !t.NonNull && o.src.intn(8) == 7 {
		return "null", nil, 1
	}
	if t.Elem != nil {
		n := 0
		if depth < maxValueDepth {
			n = o.src.intn(maxListValue + 1)
		}
		texts, values := make([]string, n), make([]any, n)
		tokens = 2
		for i := range n {
			var k int
			texts[i], values[i], k = o.literal(t.Elem, coord, depth+1)
			tokens += k
		}
		return "[" + strings.Join(texts, ", ") + "]", values, tokens
	}
	d := o.g.schema.Types[t.NamedType]
	switch d.Kind {
	case ast.Enum:
		v := pick(o.src, d.EnumValues).Name
		return v, v, 1
	case ast.InputObject:
		var parts []string
		fields := map[string]any{}
		tokens = 2
		for _, f := range d.Fields {
			if !required(f.Type, f.DefaultValue) &&
				(depth >= maxValueDepth || !o.g.generable(f.Type, map[string]bool{}) || o.src.intn(2) == 0) {
				continue
			}
			text, value, n := o.literal(f.Type, d.Name+"."+f.Name, depth+1)
			parts = append(parts, f.Name+": "+text)
			fields[f.Name] = value
			tokens += 2 + n
		}
		return "{" + strings.Join(parts, ", ") + "}", fields, tokens
	}
	switch d.Name {
	case "Int":
		ints := o.g.opts.Ints[coord]
		if len(ints) == 0 {
			ints = o.g.ints
		}
		s := strconv.Itoa(pick(o.src, ints))
		return s, json.Number(s), 1
	case "Float":
		s := pick(o.src, o.g.floats)
		return s, json.Number(s), 1
	case "Boolean":
		if o.src.intn(2) == 1 {
			return "true", true, 1
		}
		return "false", false, 1
	default: // String, ID
		s := pick(o.src, o.g.strings)
		return `"` + s + `"`, s, 1
	}
}

// literalUpper bounds the tokens literal writes for t.
func (o *op) literalUpper(t *ast.Type, depth int) int {
	if t.Elem != nil {
		if depth >= maxValueDepth {
			return 2
		}
		return 2 + maxListValue*o.literalUpper(t.Elem, depth+1)
	}
	d := o.g.schema.Types[t.NamedType]
	if d == nil || d.Kind != ast.InputObject {
		return 1
	}
	n := 2
	for _, f := range d.Fields {
		if required(f.Type, f.DefaultValue) || (depth < maxValueDepth && o.g.generable(f.Type, map[string]bool{})) {
			n += 2 + o.literalUpper(f.Type, depth+1)
		}
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }
