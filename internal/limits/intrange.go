package limits

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// The GraphQL spec's Int is a signed 32-bit integer (§3.5.1), and a value
// outside that range is an input coercion error. gqlparser checks Int
// literals and variables against 64 bits only, and gqlgen's Int is Go's int,
// so without these checks opportunityType(typeId: 99999999999) ran (and
// answered null), and a variable of 1e20 was refused as "cannot use value 0
// as Int". intRangeRule refuses literals; IntVariables refuses variables,
// which gqlparser coerces outside the validation rules (VariableValues) with
// no way to configure it, so graph.Executor calls it after gqlgen's
// CreateOperationContext. Both name what holds the value: the argument
// (and input field), or the variable.

// ruleIntRange is the name of the literal rule; its errors keep gqlgen's
// GRAPHQL_VALIDATION_FAILED.
const ruleIntRange = "oppconfig/IntRange"

// intRange is the rest of every message: what an Int may be.
var intRange = fmt.Sprintf("is not a 32-bit Int (an integer from %d to %d)", math.MinInt32, math.MaxInt32)

// intRangeRule reports every Int literal outside 32 bits: in a field's or a
// directive's arguments, inside lists and input objects there, and in a
// variable's default value.
func intRangeRule(observers *core.Events, addError core.AddErrFunc) {
	// A fragment's fields are walked once per spread and once more on their
	// own; each value is reported once.
	reported := map[*ast.Value]bool{}
	check := func(v *ast.Value, holder string) {
		walkIntLiterals(v, holder, func(v *ast.Value, where string) {
			if !reported[v] {
				reported[v] = true
				addError(rule(ruleIntRange), core.At(v.Position), core.Message("%s: %s %s.", where, v.Raw, intRange))
			}
		})
	}
	observers.OnField(func(_ *core.Walker, f *ast.Field) {
		parent := ""
		if f.ObjectDefinition != nil {
			parent = f.ObjectDefinition.Name + "."
		}
		for _, a := range f.Arguments {
			check(a.Value, fmt.Sprintf("Argument %q of field %q", a.Name, parent+f.Name))
		}
	})
	observers.OnDirective(func(_ *core.Walker, d *ast.Directive) {
		for _, a := range d.Arguments {
			check(a.Value, fmt.Sprintf("Argument %q of directive \"@%s\"", a.Name, d.Name))
		}
	})
	observers.OnOperation(func(_ *core.Walker, op *ast.OperationDefinition) {
		for _, v := range op.VariableDefinitions {
			if v.DefaultValue != nil {
				check(v.DefaultValue, fmt.Sprintf("Default value of variable \"$%s\"", v.Variable))
			}
		}
	})
}

// walkIntLiterals calls bad for each Int literal in v outside 32 bits, with
// where naming it: holder, then the input fields and list positions down to
// it. The walker has set each value's Definition by now.
func walkIntLiterals(v *ast.Value, where string, bad func(*ast.Value, string)) {
	switch v.Kind {
	case ast.IntValue:
		if v.Definition != nil && v.Definition.Name == "Int" {
			if _, err := strconv.ParseInt(v.Raw, 10, 32); err != nil {
				bad(v, where)
			}
		}
	case ast.ListValue:
		for i, c := range v.Children {
			walkIntLiterals(c.Value, fmt.Sprintf("%s, item %d", where, i), bad)
		}
	case ast.ObjectValue:
		for _, c := range v.Children {
			walkIntLiterals(c.Value, fmt.Sprintf("%s, input field %q", where, c.Name), bad)
		}
	}
}

// IntVariables returns an error naming the first variable of op, in vars as
// the request sent them (before coercion: gqlparser fails some of them
// itself, with a message that says nothing useful), whose Int value, or an
// Int inside it (list item, input field), is not a 32-bit integer; nil when
// there is none. Values of other types, and Int values that are not numbers
// at all, are left to gqlparser. It reads vars and changes nothing, so what
// execution (gqlgen, the fast path) receives is gqlparser's coercion as ever.
func IntVariables(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	for _, def := range op.VariableDefinitions {
		v, ok := vars[def.Variable]
		if !ok {
			continue // absent: its default is a literal, checked by intRangeRule
		}
		path := ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}
		if shown, at, bad := badInt(schema, def.Type, v, path); bad {
			err := apierror.GraphQL(apierror.ValidationFailed, fmt.Sprintf("Variable \"$%s\"%s: %s %s.", def.Variable, inside(at), shown, intRange))
			err.Path = at
			return err
		}
	}
	return nil
}

// inside names the position below the variable, such as ` at "ids[2]"`, or
// nothing for the variable itself.
func inside(path ast.Path) string {
	if len(path) <= 2 {
		return ""
	}
	return fmt.Sprintf(" at %q", ast.Path(path[1:]).String())
}

// badInt finds the first Int in v, of type t, that is not a 32-bit integer,
// and returns it as the request spelled it and its path.
func badInt(schema *ast.Schema, t *ast.Type, v any, path ast.Path) (shown string, at ast.Path, bad bool) {
	if v == nil {
		return "", nil, false
	}
	if t.Elem != nil {
		items, ok := v.([]any)
		if !ok {
			// gqlparser coerces a lone value to a list of one.
			return badInt(schema, t.Elem, v, path)
		}
		for i, item := range items {
			if shown, at, bad := badInt(schema, t.Elem, item, append(path[:len(path):len(path)], ast.PathIndex(i))); bad {
				return shown, at, true
			}
		}
		return "", nil, false
	}
	def := schema.Types[t.NamedType]
	switch {
	case def == nil:
		return "", nil, false
	case def.Kind == ast.InputObject:
		fields, ok := v.(map[string]any)
		if !ok {
			return "", nil, false
		}
		for _, f := range def.Fields {
			if fv, ok := fields[f.Name]; ok {
				if shown, at, bad := badInt(schema, f.Type, fv, append(path[:len(path):len(path)], ast.PathName(f.Name))); bad {
					return shown, at, true
				}
			}
		}
		return "", nil, false
	case def.Name == "Int":
		if shown, ok := int32Value(v); !ok {
			return shown, path, true
		}
	}
	return "", nil, false
}

// int32Value reports whether v, a variable's Int value as decoded from JSON
// (json.Number with UseNumber, else float64) or given by a Go caller (any
// integer kind, or a string gqlparser reads as one), is a 32-bit integer,
// and how to show it. A value that is no number at all is reported fine:
// gqlparser refuses it with its own message.
func int32Value(v any) (shown string, ok bool) {
	switch n := v.(type) {
	case json.Number:
		_, err := strconv.ParseInt(string(n), 10, 32)
		return string(n), err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return "", true // not an integer string: gqlparser's to refuse
		}
		return n, i >= math.MinInt32 && i <= math.MaxInt32
	case float32, float64:
		f := reflect.ValueOf(n).Float()
		return strconv.FormatFloat(f, 'g', -1, 64), f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := rv.Int()
		return strconv.FormatInt(i, 10), i >= math.MinInt32 && i <= math.MaxInt32
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		return strconv.FormatUint(u, 10), u <= math.MaxInt32
	}
	return "", true
}
