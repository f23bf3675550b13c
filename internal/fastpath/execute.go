package fastpath

import (
	"strconv"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// run is one execution: the snapshot and the variables every writer reads.
//
// Every writer appends one value and reports whether it is valid. A value is
// invalid where gqlgen's is null in a non-null position (a nil list element,
// or a selection gqlgen cannot collect); the nearest nullable field above it
// then truncates the output back to where it began and writes null, which is
// GraphQL's null propagation without building a tree first.
type run struct {
	snap *opportunity.Snapshot
	vars map[string]any
	// done is the execution's context's Done channel (nil: it cannot be
	// cancelled): each type, stage and field written checks it first.
	done <-chan struct{}
	// reference is set where the answer holds an error only gqlgen reports
	// (ErrNeedsReference): the writers stop, as at an invalid value.
	reference bool
}

// needsReference marks the execution for gqlgen and stops the writers.
func (r *run) needsReference(dst []byte) ([]byte, bool) {
	r.reference = true
	return dst, false
}

// cancelled reports whether the execution's context is done: what was
// written is then discarded, so the writers stop (as an invalid value).
func (r *run) cancelled() bool {
	if r.done == nil {
		return false
	}
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// nullable writes null in place of an invalid value that began at mark.
func nullable(dst []byte, mark int, ok bool) []byte {
	if !ok {
		return append(dst[:mark], "null"...)
	}
	return dst
}

func (r *run) query(dst []byte, o *object) ([]byte, bool) {
	if o.invalid {
		return dst, false
	}
	dst = append(dst, '{')
	ok := true
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindQueryTypes:
			if dst, ok = listOf(r, dst, f.sub, r.snap.Types(), (*run).opportunityType); !ok {
				return dst, false
			}
		case kindQueryType:
			mark := len(dst)
			id, valid := f.arg.value(r.vars)
			var t *opportunity.Type
			if valid {
				t = r.snap.Type(id)
			}
			dst, ok = r.optionalType(dst, f.sub, t)
			dst = nullable(dst, mark, ok && valid)
		case kindQueryDefaultType:
			mark := len(dst)
			dst, ok = r.optionalType(dst, f.sub, r.snap.Default())
			dst = nullable(dst, mark, ok)
		case kindQueryValidate:
			v, valid := validation(r.snap, f, r.vars)
			if !valid {
				return r.needsReference(dst)
			}
			if dst, ok = r.validation(dst, f.sub, v); !ok {
				return dst, false
			}
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on Query")
		}
	}
	return append(dst, '}'), true
}

// optionalType writes a nullable OpportunityType: nil is null.
func (r *run) optionalType(dst []byte, o *object, t *opportunity.Type) ([]byte, bool) {
	if t == nil {
		return append(dst, "null"...), true
	}
	return r.opportunityType(dst, o, t)
}

func (r *run) opportunityType(dst []byte, o *object, t *opportunity.Type) ([]byte, bool) {
	if o.invalid || r.cancelled() {
		return dst, false
	}
	dst = append(dst, '{')
	ok := true
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindTypeName:
			dst = appendString(dst, t.TypeName)
		case kindTypeID:
			dst = strconv.AppendInt(dst, int64(t.TypeID), 10)
		case kindTypeDefaultType:
			dst = strconv.AppendBool(dst, t.DefaultType)
		case kindTypeAllowSkip:
			dst = strconv.AppendBool(dst, t.AllowSkip)
		case kindTypeAllowGoBack:
			dst = strconv.AppendBool(dst, t.AllowGoBack)
		case kindTypeStages:
			dst, ok = listOf(r, dst, f.sub, t.Stages, (*run).stage)
		case kindTypeFields:
			dst, ok = listOf(r, dst, f.sub, t.Fields, (*run).field)
		case kindTypeAllowInvalidGoBack:
			dst = strconv.AppendBool(dst, t.AllowInvalidGoBack)
		case kindTypeAllowDeleteOpportunity:
			dst = strconv.AppendBool(dst, t.AllowDeleteOpportunity)
		case kindTypeDeleteOpportunityDate:
			dst = strconv.AppendInt(dst, int64(t.DeleteOpportunityDate), 10)
		case kindTypeStage:
			mark := len(dst)
			id, valid := f.arg.value(r.vars)
			var s *opportunity.Stage
			if valid {
				s = t.Stage(id)
			}
			dst, ok = r.optionalStage(dst, f.sub, s)
			dst, ok = nullable(dst, mark, ok && valid), true
		case kindTypeField:
			mark := len(dst)
			id, valid := f.arg.value(r.vars)
			var fd *opportunity.Field
			if valid {
				fd = t.Field(id)
			}
			dst, ok = r.optionalField(dst, f.sub, fd)
			dst, ok = nullable(dst, mark, ok && valid), true
		case kindTypeAllStages:
			dst, ok = listOf(r, dst, f.sub, t.AllStages(), (*run).stage)
		case kindTypeMoves:
			id, valid := f.arg.value(r.vars)
			moves, err := t.Moves(id)
			if !valid || err != nil {
				return r.needsReference(dst)
			}
			dst, ok = listOfValues(r, dst, f.sub, moves, (*run).move)
		case kindTypeFormSchema:
			form, valid := formSchema(r.snap, t, f, r.vars)
			if !valid {
				return r.needsReference(dst)
			}
			dst = form.AppendTo(dst)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on OpportunityType")
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

func (r *run) optionalStage(dst []byte, o *object, s *opportunity.Stage) ([]byte, bool) {
	if s == nil {
		return append(dst, "null"...), true
	}
	return r.stage(dst, o, s)
}

func (r *run) stage(dst []byte, o *object, s *opportunity.Stage) ([]byte, bool) {
	if o.invalid || r.cancelled() {
		return dst, false
	}
	dst = append(dst, '{')
	ok := true
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindStageID:
			dst = strconv.AppendInt(dst, int64(s.ID), 10)
		case kindStageName:
			dst = appendString(dst, s.Name)
		case kindStageRank:
			dst = strconv.AppendInt(dst, int64(s.Rank), 10)
		case kindStagePossibility:
			dst = strconv.AppendInt(dst, int64(s.Possibility), 10)
		case kindStageRequirement:
			dst = appendString(dst, s.Requirement)
		case kindStageRemind:
			dst = strconv.AppendBool(dst, s.Remind)
		case kindStageRemindAfterDays:
			dst = appendStrings(dst, s.RemindAfterDays)
		case kindStageChildren:
			dst, ok = listOf(r, dst, f.sub, s.Children, (*run).stage)
		case kindStageCustomerFields:
			dst, ok = listOf(r, dst, f.sub, s.CustomerFields, (*run).customerField)
		case kindStageRequiredOppTypeFields:
			dst, ok = listOf(r, dst, f.sub, s.RequiredOppTypeFields, (*run).requiredField)
		case kindStageParent:
			mark := len(dst)
			dst, ok = r.optionalStage(dst, f.sub, s.Parent())
			dst, ok = nullable(dst, mark, ok), true
		case kindStageDepth:
			dst = strconv.AppendInt(dst, int64(s.Depth()), 10)
		case kindStagePath:
			dst, ok = listOf(r, dst, f.sub, s.Path(), (*run).stage)
		case kindStageOpportunityType:
			// Non-null: a stage outside any snapshot's index has no type, and
			// gqlgen then nulls the stage.
			if t := s.OpportunityType(); t != nil {
				dst, ok = r.opportunityType(dst, f.sub, t)
			} else {
				ok = false
			}
		case kindStageKind:
			dst = appendString(dst, string(s.Kind()))
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on Stage")
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

func (r *run) customerField(dst []byte, o *object, c *opportunity.CustomerField) ([]byte, bool) {
	if o.invalid {
		return dst, false
	}
	dst = append(dst, '{')
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindCustomerFieldFieldID:
			dst = strconv.AppendInt(dst, int64(c.FieldID), 10)
		case kindCustomerFieldName:
			dst = appendString(dst, c.Name)
		case kindCustomerFieldType:
			dst = strconv.AppendInt(dst, int64(c.Type), 10)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on CustomerField")
		}
	}
	return append(dst, '}'), true
}

func (r *run) requiredField(dst []byte, o *object, q *opportunity.RequiredOppTypeField) ([]byte, bool) {
	if o.invalid {
		return dst, false
	}
	dst = append(dst, '{')
	ok := true
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindRequiredName:
			dst = appendString(dst, q.Name)
		case kindRequiredRequired:
			dst = strconv.AppendBool(dst, q.Required)
		case kindRequiredRank:
			dst = strconv.AppendInt(dst, int64(q.Rank), 10)
		case kindRequiredType:
			dst = strconv.AppendInt(dst, int64(q.Type), 10)
		case kindRequiredMaxUnicode:
			dst = strconv.AppendInt(dst, int64(q.MaxUnicode), 10)
		case kindRequiredID:
			dst = strconv.AppendInt(dst, int64(q.ID), 10)
		case kindRequiredOptions:
			if dst, ok = listOf(r, dst, f.sub, q.Options, (*run).option); !ok {
				return dst, false
			}
		case kindRequiredScale:
			dst = strconv.AppendInt(dst, int64(q.Scale), 10)
		case kindRequiredField:
			// The resolver's lookup (loaders.FieldByID): the field of the same
			// id in the requiring stage's type, in this snapshot.
			mark := len(dst)
			dst, ok = r.optionalField(dst, f.sub, r.snap.Field(q.TypeID(), q.ID))
			dst = nullable(dst, mark, ok)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on RequiredOppTypeField")
		}
	}
	return append(dst, '}'), true
}

func (r *run) optionalField(dst []byte, o *object, fd *opportunity.Field) ([]byte, bool) {
	if fd == nil {
		return append(dst, "null"...), true
	}
	return r.field(dst, o, fd)
}

func (r *run) field(dst []byte, o *object, fd *opportunity.Field) ([]byte, bool) {
	if o.invalid || r.cancelled() {
		return dst, false
	}
	dst = append(dst, '{')
	ok := true
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindFieldID:
			dst = strconv.AppendInt(dst, int64(fd.ID), 10)
		case kindFieldName:
			dst = appendString(dst, fd.Name)
		case kindFieldRequired:
			dst = strconv.AppendBool(dst, fd.Required)
		case kindFieldType:
			dst = strconv.AppendInt(dst, int64(fd.Type), 10)
		case kindFieldOptions:
			if dst, ok = listOf(r, dst, f.sub, fd.Options, (*run).option); !ok {
				return dst, false
			}
		case kindFieldScale:
			dst = strconv.AppendInt(dst, int64(fd.Scale), 10)
		case kindFieldMaxUnicode:
			dst = strconv.AppendInt(dst, int64(fd.MaxUnicode), 10)
		case kindFieldMinUnicode:
			if fd.MinUnicode == nil {
				dst = append(dst, "null"...)
			} else {
				dst = strconv.AppendInt(dst, int64(*fd.MinUnicode), 10)
			}
		case kindFieldPattern:
			if fd.Pattern == nil {
				dst = append(dst, "null"...)
			} else {
				dst = appendString(dst, *fd.Pattern)
			}
		case kindFieldRank:
			dst = strconv.AppendInt(dst, int64(fd.Rank), 10)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on Field")
		}
	}
	return append(dst, '}'), true
}

func (r *run) option(dst []byte, o *object, opt *opportunity.FieldOption) ([]byte, bool) {
	if o.invalid {
		return dst, false
	}
	dst = append(dst, '{')
	for i := range o.fields {
		f := &o.fields[i]
		dst = append(dst, f.key...)
		switch f.kind {
		case kindTypename:
			dst = append(dst, f.typename...)
		case kindOptionID:
			dst = strconv.AppendInt(dst, int64(opt.ID), 10)
		case kindOptionName:
			dst = appendString(dst, opt.Name)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on FieldOption")
		}
	}
	return append(dst, '}'), true
}

// listOf writes a non-null list of non-null objects: a nil element makes the
// whole list invalid, as gqlgen's marshalN…ᚄ functions do. A nil slice is [].
func listOf[T any](r *run, dst []byte, o *object, list []*T, write func(*run, []byte, *object, *T) ([]byte, bool)) ([]byte, bool) {
	dst = append(dst, '[')
	for i, v := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		if v == nil {
			return dst, false
		}
		var ok bool
		if dst, ok = write(r, dst, o, v); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// listOfValues is listOf for a list of values rather than pointers (the
// rules' answers, built per call): no element is nil.
func listOfValues[T any](r *run, dst []byte, o *object, list []T, write func(*run, []byte, *object, *T) ([]byte, bool)) ([]byte, bool) {
	dst = append(dst, '[')
	for i := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = write(r, dst, o, &list[i]); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// value is the argument's Int for this execution, and false where gqlgen's
// argument unmarshalling fails (the field is then null).
func (a *intArg) value(vars map[string]any) (int, bool) {
	if a.variable == "" {
		return a.literal, !a.invalid
	}
	v, ok := vars[a.variable]
	if !ok {
		return 0, true
	}
	return unmarshalInt(v)
}
