package fastpath

import (
	"errors"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// ErrNeedsReference is returned by ExecuteContext when the answer holds an
// error that only gqlgen reports (an unknown stage for moves or formSchema,
// an unknown type or stage for validateOpportunity, an argument gqlgen's
// unmarshallers refuse): the output must be discarded and the operation
// executed by gqlgen, whose answer carries the error with its path.
var ErrNeedsReference = errors.New("fastpath: the answer holds an error only gqlgen reports")

// This file holds the fields of the rules front-ends share
// (graph/schema/rules.graphqls) whose arguments are read as gqlgen's
// generated code reads them: ast.Field.ArgumentMap over the variables,
// graphql.ProcessArgField's zero value for an absent argument, then gqlgen's
// own unmarshallers, so that the values the domain sees are the resolver's.

// formSchema is the resolver of OpportunityType.formSchema(stageId:), and
// false where it returns an error.
func formSchema(snap *opportunity.Snapshot, t *opportunity.Type, f *field, vars map[string]any) (*opportunity.Form, bool) {
	args := f.args.ArgumentMap(vars)
	stageID, ok := optionalInt(args, "stageId")
	if !ok {
		return nil, false
	}
	rules, _ := snap.Rules()
	form, err := rules.Form(t.TypeID, stageID)
	return form, err == nil
}

// validation is the resolver of Query.validateOpportunity, and false where
// it returns an error.
func validation(snap *opportunity.Snapshot, f *field, vars map[string]any) (*opportunity.Validation, bool) {
	args := f.args.ArgumentMap(vars)
	typeID := 0
	if v, present := args["typeId"]; present {
		var err error
		if typeID, err = graphql.UnmarshalInt(v); err != nil {
			return nil, false
		}
	}
	stageID, ok := optionalInt(args, "stageId")
	if !ok {
		return nil, false
	}
	values, ok := fieldValues(args["values"])
	if !ok {
		return nil, false
	}
	rules, _ := snap.Rules()
	v, err := rules.Validate(typeID, stageID, values)
	return v, err == nil
}

// optionalInt is an Int argument: absent or null is nil.
func optionalInt(args map[string]any, name string) (*int, bool) {
	v := args[name]
	if v == nil {
		return nil, true
	}
	n, err := graphql.UnmarshalInt(v)
	if err != nil {
		return nil, false
	}
	return &n, true
}

// fieldValues is a [FieldValueInput!]! argument, element by element as the
// generated unmarshalInputFieldValueInput reads it.
func fieldValues(v any) ([]opportunity.FieldValue, bool) {
	list := graphql.CoerceList(v)
	out := make([]opportunity.FieldValue, len(list))
	for i, e := range list {
		if e == nil {
			continue // the zero value, as gqlgen's unmarshalInput answers nil
		}
		m, isMap := e.(map[string]any)
		if !isMap {
			return nil, false
		}
		fv := &out[i]
		if id, present := m["fieldId"]; present {
			n, err := graphql.UnmarshalInt(id)
			if err != nil {
				return nil, false
			}
			fv.FieldID = n
		}
		if s := m["value"]; s != nil {
			str, err := graphql.UnmarshalString(s)
			if err != nil {
				return nil, false
			}
			fv.Value = &str
		}
		if items := m["values"]; items != nil {
			raw := graphql.CoerceList(items)
			fv.Values = make([]string, len(raw))
			for k, it := range raw {
				str, err := graphql.UnmarshalString(it)
				if err != nil {
					return nil, false
				}
				fv.Values[k] = str
			}
		}
	}
	return out, true
}

func (r *run) move(dst []byte, o *object, m *opportunity.Move) ([]byte, bool) {
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
		case kindMoveTo:
			if m.To == nil {
				return dst, false // non-null
			}
			dst, ok = r.stage(dst, f.sub, m.To)
		case kindMoveAllowed:
			dst = strconv.AppendBool(dst, m.Allowed)
		case kindMoveRefusal:
			if m.Refusal == nil {
				dst = append(dst, "null"...)
			} else {
				dst = appendString(dst, string(*m.Refusal))
			}
		case kindMoveRequiredFields:
			dst, ok = listOf(r, dst, f.sub, m.RequiredFields, (*run).field)
		case kindMoveCustomerFields:
			dst, ok = listOf(r, dst, f.sub, m.CustomerFields, (*run).customerField)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on StageMove")
		}
		if !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

func (r *run) validation(dst []byte, o *object, v *opportunity.Validation) ([]byte, bool) {
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
		case kindValidationValid:
			dst = strconv.AppendBool(dst, v.Valid())
		case kindValidationErrors:
			var ok bool
			if dst, ok = listOfValues(r, dst, f.sub, v.Errors, (*run).fieldValueError); !ok {
				return dst, false
			}
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on OpportunityValidation")
		}
	}
	return append(dst, '}'), true
}

func (r *run) fieldValueError(dst []byte, o *object, e *opportunity.FieldValueError) ([]byte, bool) {
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
		case kindErrorFieldID:
			dst = strconv.AppendInt(dst, int64(e.FieldID), 10)
		case kindErrorField:
			mark := len(dst)
			var ok bool
			dst, ok = r.optionalField(dst, f.sub, e.Field)
			dst = nullable(dst, mark, ok)
		case kindErrorCode:
			dst = appendString(dst, string(e.Code))
		case kindErrorMessage:
			dst = appendString(dst, e.Message)
		default:
			panic("fastpath: kind " + strconv.Itoa(int(f.kind)) + " on FieldValueError")
		}
	}
	return append(dst, '}'), true
}
