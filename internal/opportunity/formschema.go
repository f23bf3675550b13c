package opportunity

import (
	"fmt"
	"slices"
	"strconv"
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
	tr.save = form(t.TypeName,
		fmt.Sprintf("The values an opportunity of type %d must carry to be saved; keys are field ids.", t.TypeID), required)
	tr.stages = make(map[int]map[string]any, len(t.allStages))
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
