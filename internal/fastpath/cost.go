package fastpath

import (
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// Cost is what an answer holds: Values counts every JSON value of its data
// (each object, list, list element and scalar), Bytes its length as written.
type Cost struct {
	Values int
	Bytes  int
}

// over reports whether c exceeds either bound of limit (a zero bound is no
// bound).
func (c Cost) over(limit Cost) bool {
	return (limit.Values > 0 && c.Values > limit.Values) || (limit.Bytes > 0 && c.Bytes > limit.Bytes)
}

// Cost counts the answer Execute would write for snap and vars, without
// writing it, and reports whether it stays within limit (a zero bound is no
// bound). Counting stops as soon as the total passes the limit, so a refused
// operation costs at most the limit's worth of counting; and the parts of an
// answer that a back-reference repeats (a type nested in each of its stages,
// a stage's path, a required field's definition) are counted once per
// selection and object and then reused, so an operation that nests a type in
// its own stages many times is counted in the time of its distinct parts.
// When over, the returned Cost is the total when counting stopped: at least
// that much, and over the limit.
//
// Null propagation is not modelled (a nil list element, an invalid
// condition): it only removes values, so Cost bounds the answer from above.
// Introspection fields of a plan made by CompileCost cost nothing here: their
// answer is bounded by the schema and by validation's introspection depth;
// so does federation's _service (the schema's SDL). Federation's _entities
// costs what it answers on snap: a list of one value per representation,
// each the entity it names counted like opportunityType(typeId:) (null when
// it names none), so a gateway's batch is bounded like any other query.
func (p *Plan) Cost(snap *opportunity.Snapshot, vars map[string]any, limit Cost) (Cost, bool) {
	c := coster{snap: snap, vars: vars, limit: limit}
	c.query(p.tree(vars))
	return c.total, !c.stopped
}

// coster is one count. total grows as values are met (memoised parts added
// whole), so that the limit is checked against the answer so far.
type coster struct {
	snap    *opportunity.Snapshot
	vars    map[string]any
	limit   Cost
	total   Cost
	stopped bool

	types  map[memoKey[opportunity.Type]]Cost
	stages map[memoKey[opportunity.Stage]]Cost
	fields map[memoKey[opportunity.Field]]Cost
}

// memoKey is one selection over one object: what a back-reference repeats.
type memoKey[T any] struct {
	o *object
	v *T
}

// add counts n values of b bytes and stops the count once over the limit.
func (c *coster) add(n, b int) {
	c.total.Values += n
	c.total.Bytes += b
	if c.total.over(c.limit) {
		c.stopped = true
	}
}

// memo counts write(o, v) once per (o, v): later meetings add the first
// one's cost without walking it again.
func memo[T any](c *coster, m *map[memoKey[T]]Cost, o *object, v *T, write func(*coster, *object, *T)) {
	k := memoKey[T]{o, v}
	if got, ok := (*m)[k]; ok {
		c.add(got.Values, got.Bytes)
		return
	}
	before := c.total
	write(c, o, v)
	if c.stopped {
		return // partial: never reused
	}
	if *m == nil {
		*m = map[memoKey[T]]Cost{}
	}
	(*m)[k] = Cost{c.total.Values - before.Values, c.total.Bytes - before.Bytes}
}

const nullBytes = len("null")

func boolBytes(b bool) int {
	if b {
		return len("true")
	}
	return len("false")
}

// intBytes is the length of n in decimal.
func intBytes(n int) int {
	l := 1
	if n < 0 {
		l++
		if n == -n { // the most negative int: its magnitude overflows
			return 20
		}
		n = -n
	}
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// stringBytes is the length of s as appendString quotes it.
func stringBytes(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\t' || c == '\r' || c == '\n':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}

// object counts an object's braces; each field adds its key and value.
func (c *coster) object(o *object) { c.add(1, 2) }

// key counts a field's key (its comma, quotes and colon included) and value.
func (c *coster) key(f *field, valueBytes int) { c.add(1, len(f.key)+valueBytes) }

// list counts a list's brackets, its elements' commas and, through each,
// the elements; it stops with the count.
func list[T any](c *coster, f *field, items []*T, each func(*coster, *object, *T)) {
	c.add(1, len(f.key)+2+max(len(items)-1, 0))
	for _, v := range items {
		if c.stopped {
			return
		}
		if v == nil {
			c.add(1, nullBytes)
			continue
		}
		each(c, f.sub, v)
	}
}

// valueList is list for a list of values rather than pointers (the rules'
// answers, built per call).
func valueList[T any](c *coster, f *field, items []T, each func(*coster, *object, *T)) {
	c.add(1, len(f.key)+2+max(len(items)-1, 0))
	for i := range items {
		if c.stopped {
			return
		}
		each(c, f.sub, &items[i])
	}
}

func (c *coster) query(o *object) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindIntrospection, kindService:
			// Bounded by the schema, not by the data: see Cost.
		case kindEntities:
			reps := representations(f, c.vars)
			c.add(1, len(f.key)+2+max(len(reps)-1, 0))
			for _, rep := range reps {
				if c.stopped {
					return
				}
				t := c.entity(rep)
				if t == nil {
					c.add(1, nullBytes)
					continue
				}
				memo(c, &c.types, f.sub, t, (*coster).opportunityType)
			}
		case kindQueryTypes:
			list(c, f, c.snap.Types(), (*coster).opportunityType)
		case kindQueryType:
			id, _ := f.arg.value(c.vars)
			c.optionalType(f, c.snap.Type(id))
		case kindQueryDefaultType:
			c.optionalType(f, c.snap.Default())
		case kindQueryValidate:
			// Validated once more by the execution: the input is bounded
			// by the type's fields, and this is how much it answers.
			if v, ok := validation(c.snap, f, c.vars); ok {
				c.add(0, len(f.key))
				c.validation(f.sub, v)
			} else {
				c.key(f, nullBytes) // an error: gqlgen answers it (null)
			}
		}
	}
}

// representations reads _entities' argument as gqlgen's generated code
// does (ast.Field.ArgumentMap over the variables); validation made it a list.
func representations(f *field, vars map[string]any) []any {
	reps, _ := f.args.ArgumentMap(vars)["representations"].([]any)
	return reps
}

// entity is the type a representation names on the snapshot, as the
// federation plugin resolves it: its __typename must be entityType and its
// typeId an Int (graphql.UnmarshalInt); nil when it names none, which
// gqlgen answers with null.
func (c *coster) entity(rep any) *opportunity.Type {
	m, _ := rep.(map[string]any)
	if name, _ := m["__typename"].(string); name != entityType {
		return nil
	}
	id, ok := unmarshalInt(m["typeId"])
	if !ok {
		return nil
	}
	return c.snap.Type(id)
}

func (c *coster) optionalType(f *field, t *opportunity.Type) {
	if t == nil {
		c.key(f, nullBytes)
		return
	}
	c.add(0, len(f.key)) // the object is the field's value
	memo(c, &c.types, f.sub, t, (*coster).opportunityType)
}

func (c *coster) opportunityType(o *object, t *opportunity.Type) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindTypeName:
			c.key(f, stringBytes(t.TypeName))
		case kindTypeID:
			c.key(f, intBytes(t.TypeID))
		case kindTypeDefaultType:
			c.key(f, boolBytes(t.DefaultType))
		case kindTypeAllowSkip:
			c.key(f, boolBytes(t.AllowSkip))
		case kindTypeAllowGoBack:
			c.key(f, boolBytes(t.AllowGoBack))
		case kindTypeStages:
			list(c, f, t.Stages, (*coster).stage)
		case kindTypeFields:
			list(c, f, t.Fields, (*coster).field)
		case kindTypeAllowInvalidGoBack:
			c.key(f, boolBytes(t.AllowInvalidGoBack))
		case kindTypeAllowDeleteOpportunity:
			c.key(f, boolBytes(t.AllowDeleteOpportunity))
		case kindTypeDeleteOpportunityDate:
			c.key(f, intBytes(t.DeleteOpportunityDate))
		case kindTypeStage:
			id, _ := f.arg.value(c.vars)
			c.optionalStage(f, t.Stage(id))
		case kindTypeField:
			id, _ := f.arg.value(c.vars)
			c.optionalField(f, t.Field(id))
		case kindTypeAllStages:
			list(c, f, t.AllStages(), (*coster).stage)
		case kindTypeMoves:
			id, _ := f.arg.value(c.vars)
			moves, err := t.Moves(id)
			if err != nil {
				c.key(f, nullBytes) // STAGE_NOT_FOUND: null, propagated
				continue
			}
			valueList(c, f, moves, (*coster).move)
		case kindTypeFormSchema:
			if form, ok := formSchema(c.snap, t, f, c.vars); ok {
				c.add(form.Values(), len(f.key)+form.Len())
			} else {
				c.key(f, nullBytes)
			}
		}
	}
}

func (c *coster) optionalStage(f *field, s *opportunity.Stage) {
	if s == nil {
		c.key(f, nullBytes)
		return
	}
	c.add(0, len(f.key))
	memo(c, &c.stages, f.sub, s, (*coster).stage)
}

// memoField is a field met as a move's required field: the target's
// required fields recur in the moves from each stage of its type.
func (c *coster) memoField(o *object, fd *opportunity.Field) {
	memo(c, &c.fields, o, fd, (*coster).field)
}

// pathStage is a stage met through Stage.path: the same stages recur on
// the paths of all their descendants.
func (c *coster) pathStage(o *object, s *opportunity.Stage) {
	memo(c, &c.stages, o, s, (*coster).stage)
}

func (c *coster) stage(o *object, s *opportunity.Stage) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindStageID:
			c.key(f, intBytes(s.ID))
		case kindStageName:
			c.key(f, stringBytes(s.Name))
		case kindStageRank:
			c.key(f, intBytes(s.Rank))
		case kindStagePossibility:
			c.key(f, intBytes(s.Possibility))
		case kindStageRequirement:
			c.key(f, stringBytes(s.Requirement))
		case kindStageRemind:
			c.key(f, boolBytes(s.Remind))
		case kindStageRemindAfterDays:
			b := 2 + max(len(s.RemindAfterDays)-1, 0)
			for _, d := range s.RemindAfterDays {
				b += stringBytes(d)
			}
			c.add(len(s.RemindAfterDays), 0)
			c.key(f, b)
		case kindStageChildren:
			list(c, f, s.Children, (*coster).stage)
		case kindStageCustomerFields:
			list(c, f, s.CustomerFields, (*coster).customerField)
		case kindStageRequiredOppTypeFields:
			list(c, f, s.RequiredOppTypeFields, (*coster).requiredField)
		case kindStageParent:
			c.optionalStage(f, s.Parent())
		case kindStageDepth:
			c.key(f, intBytes(s.Depth()))
		case kindStagePath:
			list(c, f, s.Path(), (*coster).pathStage)
		case kindStageOpportunityType:
			c.optionalType(f, s.OpportunityType())
		case kindStageKind:
			c.key(f, stringBytes(string(s.Kind())))
		}
	}
}

func (c *coster) customerField(o *object, cf *opportunity.CustomerField) {
	c.object(o)
	for i := range o.fields {
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindCustomerFieldFieldID:
			c.key(f, intBytes(cf.FieldID))
		case kindCustomerFieldName:
			c.key(f, stringBytes(cf.Name))
		case kindCustomerFieldType:
			c.key(f, intBytes(cf.Type))
		}
	}
}

func (c *coster) requiredField(o *object, q *opportunity.RequiredOppTypeField) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindRequiredName:
			c.key(f, stringBytes(q.Name))
		case kindRequiredRequired:
			c.key(f, boolBytes(q.Required))
		case kindRequiredRank:
			c.key(f, intBytes(q.Rank))
		case kindRequiredType:
			c.key(f, intBytes(q.Type))
		case kindRequiredMaxUnicode:
			c.key(f, intBytes(q.MaxUnicode))
		case kindRequiredID:
			c.key(f, intBytes(q.ID))
		case kindRequiredOptions:
			list(c, f, q.Options, (*coster).option)
		case kindRequiredScale:
			c.key(f, intBytes(q.Scale))
		case kindRequiredField:
			c.optionalField(f, c.snap.Field(q.TypeID(), q.ID))
		}
	}
}

func (c *coster) optionalField(f *field, fd *opportunity.Field) {
	if fd == nil {
		c.key(f, nullBytes)
		return
	}
	c.add(0, len(f.key))
	memo(c, &c.fields, f.sub, fd, (*coster).field)
}

func (c *coster) field(o *object, fd *opportunity.Field) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindFieldID:
			c.key(f, intBytes(fd.ID))
		case kindFieldName:
			c.key(f, stringBytes(fd.Name))
		case kindFieldRequired:
			c.key(f, boolBytes(fd.Required))
		case kindFieldType:
			c.key(f, intBytes(fd.Type))
		case kindFieldOptions:
			list(c, f, fd.Options, (*coster).option)
		case kindFieldScale:
			c.key(f, intBytes(fd.Scale))
		case kindFieldMaxUnicode:
			c.key(f, intBytes(fd.MaxUnicode))
		case kindFieldMinUnicode:
			if fd.MinUnicode == nil {
				c.key(f, nullBytes)
			} else {
				c.key(f, intBytes(*fd.MinUnicode))
			}
		case kindFieldPattern:
			if fd.Pattern == nil {
				c.key(f, nullBytes)
			} else {
				c.key(f, stringBytes(*fd.Pattern))
			}
		case kindFieldRank:
			c.key(f, intBytes(fd.Rank))
		}
	}
}

func (c *coster) option(o *object, opt *opportunity.FieldOption) {
	c.object(o)
	for i := range o.fields {
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindOptionID:
			c.key(f, intBytes(opt.ID))
		case kindOptionName:
			c.key(f, stringBytes(opt.Name))
		}
	}
}

func (c *coster) move(o *object, m *opportunity.Move) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindMoveTo:
			c.optionalStage(f, m.To)
		case kindMoveAllowed:
			c.key(f, boolBytes(m.Allowed))
		case kindMoveRefusal:
			if m.Refusal == nil {
				c.key(f, nullBytes)
			} else {
				c.key(f, stringBytes(string(*m.Refusal)))
			}
		case kindMoveRequiredFields:
			list(c, f, m.RequiredFields, (*coster).memoField)
		case kindMoveCustomerFields:
			list(c, f, m.CustomerFields, (*coster).customerField)
		}
	}
}

func (c *coster) validation(o *object, v *opportunity.Validation) {
	c.object(o)
	for i := range o.fields {
		if c.stopped {
			return
		}
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindValidationValid:
			c.key(f, boolBytes(v.Valid()))
		case kindValidationErrors:
			valueList(c, f, v.Errors, (*coster).fieldValueError)
		}
	}
}

func (c *coster) fieldValueError(o *object, e *opportunity.FieldValueError) {
	c.object(o)
	for i := range o.fields {
		f := &o.fields[i]
		switch f.kind {
		case kindTypename:
			c.key(f, len(f.typename))
		case kindErrorFieldID:
			c.key(f, intBytes(e.FieldID))
		case kindErrorField:
			c.optionalField(f, e.Field)
		case kindErrorCode:
			c.key(f, stringBytes(string(e.Code)))
		case kindErrorMessage:
			c.key(f, stringBytes(e.Message))
		}
	}
}

// containment lists the object-valued fields that hold their objects, as
// opposed to those that refer back or look up (parent, path,
// opportunityType, allStages, stage(id), field(id), RequiredOppTypeField's
// field): following only these visits every object of a configuration once.
func containment(typeName, field string) bool {
	switch typeName + "." + field {
	case "Query.opportunityTypes", "OpportunityType.stages", "OpportunityType.fields",
		"Stage.children", "Stage.customerFields", "Stage.requiredOppTypeFields",
		"Field.options", "RequiredOppTypeField.options":
		return true
	}
	return false
}

// Whole is a plan of the whole configuration served once: every type, every
// stage at every depth, every field and option, with every scalar of each
// and no back-reference. Its cost on a snapshot is the size a cost limit is
// measured against (see Size). It is built from the schema, so a scalar
// added to the schema is counted without a change here.
type Whole struct {
	root *object
}

// NewWhole builds the whole-configuration plan for schema.
func NewWhole(schema *ast.Schema) *Whole {
	built := map[string]*object{}
	var build func(typeName string) *object
	build = func(typeName string) *object {
		if o, ok := built[typeName]; ok {
			return o // a type that contains itself (Stage.children)
		}
		o := &object{}
		built[typeName] = o
		def := schema.Types[typeName]
		if def == nil {
			return o
		}
		for _, fd := range def.Fields {
			if len(fd.Arguments) > 0 || len(fd.Name) > 1 && fd.Name[:2] == "__" {
				continue
			}
			b, ok := bind(typeName, fd.Name)
			if !ok {
				continue // not executable by the fast path: not counted
			}
			child := schema.Types[fd.Type.Name()]
			isObject := child != nil && child.Kind == ast.Object
			if isObject && !containment(typeName, fd.Name) {
				continue
			}
			key := make([]byte, 0, len(fd.Name)+4)
			if len(o.fields) > 0 {
				key = append(key, ',')
			}
			key = append(appendString(key, fd.Name), ':')
			f := field{key: string(key), kind: b.kind}
			if isObject {
				f.sub = build(child.Name)
			}
			o.fields = append(o.fields, f)
		}
		return o
	}
	return &Whole{root: build(schema.Query.Name)}
}

// Size is the cost of the whole configuration of snap served once.
func (w *Whole) Size(snap *opportunity.Snapshot) Cost {
	c := coster{snap: snap}
	c.query(w.root)
	return c.total
}
