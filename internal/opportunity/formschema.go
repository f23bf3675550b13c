package opportunity

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
)

// FormSchemaDialect is the JSON Schema draft every form schema declares.
const FormSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// FormSchema returns a JSON Schema (draft 2020-12) of the values an
// opportunity of type typeID must carry to enter stage stageID, or, when
// stageID is nil, to be saved at all. It states the rules Validate applies,
// so a standard validator and Validate agree on every value (a test holds
// them to it). The instance it describes is the object a form sends: one
// property per filled field, keyed by the field id in decimal; a string for
// a single-valued field, an array of option ids for a multi-select; blank
// values ("", [] or [""]) of the type's fields left out, as Validate counts
// them not filled (an unknown id is kept, blank or not: UNKNOWN_FIELD).
//
// The schema was built with the Validator and is shared by every caller: read
// it, marshal it, never modify it. An unknown type or stage is an error
// wrapping ErrTypeNotFound or ErrStageNotFound.
func (r *Validator) FormSchema(typeID int, stageID *int) (map[string]any, error) {
	tr, st, err := r.lookup(typeID, stageID)
	if err != nil {
		return nil, fmt.Errorf("form schema: %w", err)
	}
	if st == nil {
		return tr.save, nil
	}
	return tr.stages[st.ID], nil
}

// Form returns the form schema FormSchema returns, encoded as JSON, as the
// GraphQL layer serves it: byte for byte json.Marshal of FormSchema's map
// (a test holds it to that), built with the Validator and shared.
func (r *Validator) Form(typeID int, stageID *int) (*Form, error) {
	tr, st, err := r.lookup(typeID, stageID)
	if err != nil {
		return nil, fmt.Errorf("form schema: %w", err)
	}
	if st == nil {
		return tr.saveForm, nil
	}
	return tr.stageForms[st.ID], nil
}

// Form is one form schema encoded as JSON. Its forms' property schemas are a
// type's largest part and the same in all of them, so they are encoded once
// per type, on first use, and each form holds only its own head and tail:
// a type of 150 fields and 30 stages holds one encoding of its properties
// (tens of KiB), not 31.
type Form struct {
	// head is everything before the properties' object, tail everything
	// after it; values counts the JSON values in both.
	head, tail []byte
	values     int
	props      func() encoded
}

// encoded is a JSON encoding and the number of JSON values in it.
type encoded struct {
	b      []byte
	values int
}

// Len is the length of the encoding in bytes.
func (f *Form) Len() int { return len(f.head) + len(f.props().b) + len(f.tail) }

// Values counts the JSON values of the encoding: every object, array,
// element and scalar, as a cost model counts an answer's.
func (f *Form) Values() int { return f.values + f.props().values }

// AppendTo appends the encoding to dst.
func (f *Form) AppendTo(dst []byte) []byte {
	dst = append(dst, f.head...)
	dst = append(dst, f.props().b...)
	return append(dst, f.tail...)
}

// WriteTo writes the encoding to w.
func (f *Form) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, b := range [][]byte{f.head, f.props().b, f.tail} {
		m, err := w.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// newForm encodes a form map built by buildForms around the type's shared
// properties, in json.Marshal's key order (sorted).
func newForm(m map[string]any, props func() encoded) *Form {
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic("opportunity: encode form schema: " + err.Error()) // strings and slices of strings always encode
		}
		return b
	}
	f := &Form{props: props}
	f.head = append(f.head, `{"$schema":`...)
	f.head = append(f.head, enc(m["$schema"])...)
	f.head = append(f.head, `,"additionalProperties":false,"description":`...)
	f.head = append(f.head, enc(m["description"])...)
	f.head = append(f.head, `,"properties":`...)
	f.tail = append(f.tail, `,"required":`...)
	f.tail = append(f.tail, enc(m["required"])...)
	f.tail = append(f.tail, `,"title":`...)
	f.tail = append(f.tail, enc(m["title"])...)
	f.tail = append(f.tail, `,"type":"object"}`...)
	// The object, $schema, additionalProperties, description, title, type,
	// and the required list with its elements.
	f.values = 6 + countValues(m["required"])
	return f
}

// countValues counts the JSON values of a form schema's parts as built here.
func countValues(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range v {
			n += countValues(e)
		}
		return n
	case []any:
		n := 1
		for _, e := range v {
			n += countValues(e)
		}
		return n
	case []string:
		return 1 + len(v)
	default:
		return 1
	}
}

// buildForms builds the save schema and one per stage. The properties are
// built once per type and shared by all of them, since only `required`
// differs from stage to stage: a type of 150 fields and 30 stages holds 150
// property schemas, not 4,650.
func (tr *typeRules) buildForms() {
	t := tr.t
	props := make(map[string]any, len(tr.fields))
	var required []string
	for _, f := range t.Fields {
		fr := tr.fields[f.ID]
		if fr.f != f {
			continue // a repeated id: the first field wins, as in Validate
		}
		props[strconv.Itoa(f.ID)] = fr.schema()
		if f.Required {
			required = append(required, strconv.Itoa(f.ID))
		}
	}
	form := func(title, description string, required []string) map[string]any {
		return map[string]any{
			"$schema":              FormSchemaDialect,
			"title":                title,
			"description":          description,
			"type":                 "object",
			"properties":           props,
			"required":             append([]string{}, required...), // never null in JSON
			"additionalProperties": false,
		}
	}
	encodedProps := sync.OnceValue(func() encoded {
		b, err := json.Marshal(props)
		if err != nil {
			panic("opportunity: encode form schema properties: " + err.Error()) // maps of strings, ints and bools always encode
		}
		return encoded{b, countValues(props)}
	})
	tr.save = form(t.TypeName,
		fmt.Sprintf("The values an opportunity of type %d must carry to be saved; keys are field ids.", t.TypeID), required)
	tr.saveForm = newForm(tr.save, encodedProps)
	tr.stages = make(map[int]map[string]any, len(t.allStages))
	tr.stageForms = make(map[int]*Form, len(t.allStages))
	for _, st := range t.allStages {
		if _, dup := tr.stages[st.ID]; dup {
			continue
		}
		req := required
		for _, f := range st.requiredFields {
			id := strconv.Itoa(f.ID)
			if !f.Required && !slices.Contains(req, id) {
				req = append(req[:len(req):len(req)], id) // never write into the shared list
			}
		}
		tr.stages[st.ID] = form(t.TypeName+" / "+st.Name,
			fmt.Sprintf("The values an opportunity of type %d must carry to enter stage %d; keys are field ids.", t.TypeID, st.ID), req)
		tr.stageForms[st.ID] = newForm(tr.stages[st.ID], encodedProps)
	}
}

// schema is the field's property schema: the rules of fieldRule.check, in
// keywords every draft 2020-12 validator enforces the same way. Numbers are
// strings with a pattern rather than JSON numbers with multipleOf, because
// validators disagree on multipleOf with binary floats (0.07 is not a
// multiple of 0.01 in float64) while a pattern is exact everywhere.
func (fr *fieldRule) schema() map[string]any {
	s := map[string]any{"title": fr.f.Name}
	switch fr.shape {
	case shapeSelect:
		s["type"] = "string"
		if opts := fr.optionSchemas(); len(opts) > 0 {
			s["oneOf"] = opts
		} else {
			s["not"] = map[string]any{} // no option to choose: no value is valid
		}
	case shapeMulti:
		s["type"] = "array"
		s["uniqueItems"] = true
		s["maxItems"] = fr.nOpts
		if opts := fr.optionSchemas(); len(opts) > 0 {
			s["items"] = map[string]any{"type": "string", "oneOf": opts}
		}
	default:
		s["type"] = "string"
		s["maxLength"] = fr.maxLen
		if fr.minLen > 0 {
			s["minLength"] = fr.minLen
		}
		var patterns []string
		if fr.shape == shapeNumber {
			patterns = append(patterns, numberPattern(fr.f.Scale))
		}
		if fr.pattern != nil {
			patterns = append(patterns, fr.pattern.String())
		}
		switch len(patterns) {
		case 1:
			s["pattern"] = patterns[0]
		case 2: // one object holds one pattern
			s["pattern"] = patterns[0]
			s["allOf"] = []any{map[string]any{"pattern": patterns[1]}}
		}
	}
	return s
}

// optionSchemas lists the options as const + title, each id once (the first
// name wins): oneOf fails a value that matches two entries.
func (fr *fieldRule) optionSchemas() []any {
	out := make([]any, 0, fr.nOpts)
	seen := make(map[int]bool, fr.nOpts)
	for _, o := range fr.f.Options {
		if seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		out = append(out, map[string]any{"const": strconv.Itoa(o.ID), "title": o.Name})
	}
	return out
}

// numberPattern is decimalPlaces as a regular expression, with at most scale
// decimal places.
func numberPattern(scale int) string {
	if scale <= 0 {
		return `^-?[0-9]+$`
	}
	return `^-?[0-9]+(\.[0-9]{1,` + strconv.Itoa(scale) + `})?$`
}
