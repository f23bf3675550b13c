package opportunity

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"unicode/utf8"
)

// Field type codes. The vendor's page documents `type` as an integer and
// names none of them, so these are read from the demo data (field names and
// the shape of each field): 1 single-line text (商机名称), 2 multi-line text
// (需求描述, maxUnicode 500), 3 single select (商机来源, with options), 4 multi
// select (意向产品), 5 number (预计采购席位数, 返点比例 with scale 2), 6 amount
// (预计成交金额, scale 2), 7 date, 8 date-time, 9 mobile phone and 10 email
// (both with a pattern). Only the select and number codes change the rules;
// any other code, known or not, is text.
const (
	fieldSingleSelect = 3
	fieldMultiSelect  = 4
	fieldNumber       = 5
	fieldAmount       = 6
)

// MaxUnlimitedLength bounds a value, in Unicode code points, of a field whose
// maxUnicode is 0 ("no limit": the vendor sends 0 for dates and selects): a
// long note fits, and no request can make the service count a megabyte.
const MaxUnlimitedLength = 10000

// FieldValue is one field's value in an opportunity, as a form sends it:
// Value for a single value, Values for a multi-select. A blank value ("",
// [] or [""]) counts as not filled, as a blank form input does.
type FieldValue struct {
	FieldID int
	Value   *string
	Values  []string
}

// FieldValueErrorCode says what is wrong with a value. Its values are the
// GraphQL enum's.
type FieldValueErrorCode string

// The value error codes.
const (
	// UnknownField: the type has no field with that id.
	UnknownField FieldValueErrorCode = "UNKNOWN_FIELD"
	// Required: a required field is not filled.
	Required FieldValueErrorCode = "REQUIRED"
	// TooShort: fewer code points than minUnicode.
	TooShort FieldValueErrorCode = "TOO_SHORT"
	// TooLong: more code points than maxUnicode (or MaxUnlimitedLength).
	TooLong FieldValueErrorCode = "TOO_LONG"
	// PatternMismatch: the value does not match the field's pattern.
	PatternMismatch FieldValueErrorCode = "PATTERN_MISMATCH"
	// NotANumber: a number field's value is not a plain decimal number.
	NotANumber FieldValueErrorCode = "NOT_A_NUMBER"
	// ScaleExceeded: a number has more decimal places than the field's scale.
	ScaleExceeded FieldValueErrorCode = "SCALE_EXCEEDED"
	// NotAnOption: a select's value is not one of its option ids.
	NotAnOption FieldValueErrorCode = "NOT_AN_OPTION"
	// TooManyValues: more values than the input may hold: more than the type
	// has fields, a field given twice, several values for a single-valued
	// field, both value and values, or a multi-select's option repeated.
	TooManyValues FieldValueErrorCode = "TOO_MANY_VALUES"
)

// FieldValueError is one problem with an opportunity's values.
type FieldValueError struct {
	// FieldID is the field the value was given for; 0 when the error is
	// about the whole input (too many values).
	FieldID int
	// Field is nil for an unknown field or a whole-input error.
	Field   *Field
	Code    FieldValueErrorCode
	Message string
}

// Validation is the outcome of Validator.Validate.
type Validation struct {
	// Errors, first the values' in input order, then the missing required
	// fields: the type's in its field order, then the stage's in its order.
	// At most one per field id.
	Errors []FieldValueError
}

// Valid reports whether the values passed every rule.
func (v *Validation) Valid() bool { return len(v.Errors) == 0 }

// PatternError is a field pattern that Go's RE2 cannot compile (look-around
// and back-references, for example). The Validator skips the pattern; its builder
// returns every such error once so the caller logs it. The text holds ids
// and the kind of syntax error only, never the pattern itself: it is
// upstream free text.
type PatternError struct {
	TypeID, FieldID int
	Err             error
}

// Error names the field and the kind of syntax error.
func (e *PatternError) Error() string {
	why := "invalid pattern"
	var se *syntax.Error
	if errors.As(e.Err, &se) {
		why = string(se.Code)
	}
	return fmt.Sprintf("type %d, field %d: pattern skipped, RE2 cannot compile it: %s", e.TypeID, e.FieldID, why)
}

// Unwrap returns the compiler's error.
func (e *PatternError) Unwrap() error { return e.Err }

// Validator is the value and form rules of one snapshot: compiled patterns and
// JSON Schemas, built once when the snapshot arrives (STYLE rule 11) and
// read, never written, by every request. Moves need no build and live on
// Type.
type Validator struct {
	snap  *Snapshot
	types map[int]*typeRules
}

type typeRules struct {
	t      *Type
	fields map[int]*fieldRule
	// save is the form schema to save at all, stages the one to enter each
	// stage by id; built by buildForms.
	save   map[string]any
	stages map[int]map[string]any
	// saveForm and stageForms are the same, encoded (Form).
	saveForm   *Form
	stageForms map[int]*Form
}

// valueShape is how a field's value is checked.
type valueShape int

const (
	shapeText valueShape = iota
	shapeNumber
	shapeSelect
	shapeMulti
)

type fieldRule struct {
	f       *Field
	shape   valueShape
	minLen  int // code points, 0 for none
	maxLen  int // code points, never 0: maxUnicode or MaxUnlimitedLength
	pattern *regexp.Regexp
	options map[string]bool // option ids as decimal strings
	nOpts   int             // distinct option ids
}

// NewValidator compiles the rules of every type of s. Patterns are compiled once
// per distinct text across the snapshot; one RE2 cannot compile is skipped
// and returned among the PatternErrors, and the Validator is usable either way.
func NewValidator(s *Snapshot) (*Validator, []*PatternError) {
	r := &Validator{snap: s, types: make(map[int]*typeRules, len(s.types))}
	type compiled struct {
		re  *regexp.Regexp
		err error
	}
	cache := map[string]compiled{}
	var problems []*PatternError
	for _, t := range s.types {
		if _, dup := r.types[t.TypeID]; dup {
			continue // the first wins, as Snapshot.Type does
		}
		tr := &typeRules{t: t, fields: make(map[int]*fieldRule, len(t.Fields))}
		for _, f := range t.Fields {
			if _, dup := tr.fields[f.ID]; dup {
				continue // as Type.Field: the first wins
			}
			fr := newFieldRule(f)
			if f.Pattern != nil && *f.Pattern != "" {
				c, ok := cache[*f.Pattern]
				if !ok {
					re, err := regexp.Compile(*f.Pattern)
					c = compiled{re, err}
					cache[*f.Pattern] = c
				}
				if c.err != nil {
					problems = append(problems, &PatternError{TypeID: t.TypeID, FieldID: f.ID, Err: c.err})
				} else if fr.shape == shapeText || fr.shape == shapeNumber {
					fr.pattern = c.re
				}
			}
			tr.fields[f.ID] = fr
		}
		tr.buildForms()
		r.types[t.TypeID] = tr
	}
	return r, problems
}

func newFieldRule(f *Field) *fieldRule {
	fr := &fieldRule{f: f, maxLen: f.MaxUnicode}
	if fr.maxLen <= 0 {
		fr.maxLen = MaxUnlimitedLength
	}
	if f.MinUnicode != nil && *f.MinUnicode > 0 {
		fr.minLen = *f.MinUnicode
	}
	switch f.Type {
	case fieldSingleSelect, fieldMultiSelect:
		fr.shape = shapeSelect
		if f.Type == fieldMultiSelect {
			fr.shape = shapeMulti
		}
		fr.options = make(map[string]bool, len(f.Options))
		for _, o := range f.Options {
			fr.options[strconv.Itoa(o.ID)] = true
		}
		fr.nOpts = len(fr.options)
	case fieldNumber, fieldAmount:
		fr.shape = shapeNumber
	}
	return fr
}

// Snapshot returns the snapshot the rules were built from.
func (r *Validator) Snapshot() *Snapshot { return r.snap }

// Validate checks an opportunity's values against its type's fields, and
// against stage stageID's required fields when stageID is not nil. It never
// writes anything. An unknown type or stage is an error wrapping
// ErrTypeNotFound or ErrStageNotFound; problems with the values are in the
// Validation. The rules, one error per field, first match wins:
//
//   - more values than the type has fields: TOO_MANY_VALUES, and nothing
//     else is read (the input is bounded by the data it is checked against);
//   - a field the type does not have: UNKNOWN_FIELD; a field given twice, or
//     with both value and values: TOO_MANY_VALUES;
//   - a select (type 3) takes one option id, a multi-select (type 4) takes
//     option ids in values, each once and at most as many as it has options:
//     NOT_AN_OPTION, TOO_MANY_VALUES; pattern and lengths do not apply;
//   - any other field takes one value: more than maxUnicode code points (or
//     MaxUnlimitedLength when maxUnicode is 0) is TOO_LONG, fewer than
//     minUnicode TOO_SHORT; a number (types 5 and 6) is an optional minus
//     sign, ASCII digits and an optional point followed by digits
//     (NOT_A_NUMBER) with at most scale decimal places (SCALE_EXCEEDED);
//     then the pattern, RE2 syntax, unanchored as JSON Schema's pattern
//     (PATTERN_MISMATCH);
//   - a required field (required on the field, or required by the stage)
//     that is not filled: REQUIRED. An empty value or list is not filled.
func (r *Validator) Validate(typeID int, stageID *int, values []FieldValue) (*Validation, error) {
	tr, st, err := r.lookup(typeID, stageID)
	if err != nil {
		return nil, fmt.Errorf("validate opportunity: %w", err)
	}
	v := &Validation{}
	if len(values) > len(tr.t.Fields) {
		v.Errors = append(v.Errors, FieldValueError{Code: TooManyValues,
			Message: fmt.Sprintf("%d values given; type %d has %d fields", len(values), typeID, len(tr.t.Fields))})
		return v, nil
	}
	// seen: given; filled: given a value that is not blank; failed: has its
	// one error already, so nothing more is reported for that field.
	seen := make(map[int]bool, len(values))
	filled := make(map[int]bool, len(values))
	failed := make(map[int]bool, len(values))
	add := func(e *FieldValueError) {
		if !failed[e.FieldID] {
			v.Errors = append(v.Errors, *e)
		}
		failed[e.FieldID] = true
	}
	for _, fv := range values {
		fr := tr.fields[fv.FieldID]
		switch {
		case fr == nil:
			add(&FieldValueError{FieldID: fv.FieldID, Code: UnknownField,
				Message: fmt.Sprintf("type %d has no field %d", typeID, fv.FieldID)})
			continue
		case seen[fv.FieldID]:
			add(fr.fail(TooManyValues, "%s is given more than once", fr.label()))
			continue
		}
		seen[fv.FieldID] = true
		items, ok := fr.items(fv)
		switch {
		case !ok:
			add(fr.fail(TooManyValues, "%s takes either value or values, not both", fr.label()))
		case len(items) == 0: // blank: not filled
		default:
			if e := fr.check(items); e != nil {
				add(e)
			}
			filled[fv.FieldID] = true
		}
	}
	for _, f := range tr.t.Fields {
		if fr := tr.fields[f.ID]; f.Required && fr.f == f && !filled[f.ID] {
			add(fr.fail(Required, "%s is required", fr.label()))
		}
	}
	if st != nil {
		for _, f := range st.requiredFields {
			if fr := tr.fields[f.ID]; !filled[f.ID] {
				add(fr.fail(Required, "%s is required to enter stage %s", fr.label(), st.Name))
			}
		}
	}
	return v, nil
}

func (r *Validator) lookup(typeID int, stageID *int) (*typeRules, *Stage, error) {
	tr := r.types[typeID]
	if tr == nil {
		return nil, nil, fmt.Errorf("type %d: %w", typeID, ErrTypeNotFound)
	}
	if stageID == nil {
		return tr, nil, nil
	}
	st := tr.t.Stage(*stageID)
	if st == nil {
		return nil, nil, fmt.Errorf("type %d, stage %d: %w", typeID, *stageID, ErrStageNotFound)
	}
	return tr, st, nil
}

// items returns the value's items, none when it is blank (a value "" or a
// list [] or [""] is not filled), and false when both value and values are
// given. A value on a multi-select is one option, values with one item on a
// single-valued field its value: forms differ in what they send.
func (fr *fieldRule) items(fv FieldValue) ([]string, bool) {
	var items []string
	switch {
	case fv.Value != nil && fv.Values != nil:
		return nil, false
	case fv.Values != nil:
		items = fv.Values
	case fv.Value != nil:
		items = []string{*fv.Value}
	}
	if len(items) == 1 && items[0] == "" {
		return nil, true
	}
	return items, true
}

// check applies a field's rules to its filled items.
func (fr *fieldRule) check(items []string) *FieldValueError {
	if fr.shape == shapeMulti {
		if len(items) > fr.nOpts {
			return fr.fail(TooManyValues, "%s takes at most %d values (one per option); got %d", fr.label(), fr.nOpts, len(items))
		}
		seen := make(map[string]bool, len(items))
		for i, it := range items {
			if !fr.options[it] {
				return fr.fail(NotAnOption, "value %d of %s is not one of its option ids", i+1, fr.label())
			}
			if seen[it] {
				return fr.fail(TooManyValues, "%s has option %s more than once", fr.label(), it)
			}
			seen[it] = true
		}
		return nil
	}
	if len(items) > 1 {
		return fr.fail(TooManyValues, "%s takes one value; got %d", fr.label(), len(items))
	}
	s := items[0]
	if fr.shape == shapeSelect {
		if !fr.options[s] {
			return fr.fail(NotAnOption, "the value of %s is not one of its option ids", fr.label())
		}
		return nil
	}
	// A code point is at most 4 bytes, so a longer string is too long without
	// counting: the cost of a hostile value is bounded by the field's limit.
	if len(s) > 4*fr.maxLen {
		return fr.fail(TooLong, "%s allows at most %d characters (Unicode code points); got more than %d", fr.label(), fr.maxLen, fr.maxLen)
	}
	n := utf8.RuneCountInString(s)
	if n > fr.maxLen {
		return fr.fail(TooLong, "%s allows at most %d characters (Unicode code points); got %d", fr.label(), fr.maxLen, n)
	}
	if n < fr.minLen {
		return fr.fail(TooShort, "%s needs at least %d characters (Unicode code points); got %d", fr.label(), fr.minLen, n)
	}
	if fr.shape == shapeNumber {
		places, ok := decimalPlaces(s)
		if !ok {
			return fr.fail(NotANumber, "%s must be a decimal number such as 12 or -3.5 (ASCII digits, no exponent, no spaces)", fr.label())
		}
		if places > fr.f.Scale {
			if fr.f.Scale <= 0 {
				return fr.fail(ScaleExceeded, "%s must be a whole number; got %d decimal places", fr.label(), places)
			}
			return fr.fail(ScaleExceeded, "%s allows at most %d decimal places; got %d", fr.label(), fr.f.Scale, places)
		}
	}
	if fr.pattern != nil && !fr.pattern.MatchString(s) {
		return fr.fail(PatternMismatch, "%s must match the pattern %s", fr.label(), fr.pattern)
	}
	return nil
}

// decimalPlaces parses -?[0-9]+(\.[0-9]+)? and returns the digits after the
// point. It is the numberPattern of the form schema, by hand: no allocation.
func decimalPlaces(s string) (int, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, false
	}
	if i == len(s) {
		return 0, true
	}
	if s[i] != '.' {
		return 0, false
	}
	i++
	start = i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	return i - start, true
}

// label names a field in a message: its display name and id.
func (fr *fieldRule) label() string {
	return fmt.Sprintf("%s (field %d)", fr.f.Name, fr.f.ID)
}

func (fr *fieldRule) fail(code FieldValueErrorCode, format string, args ...any) *FieldValueError {
	return &FieldValueError{FieldID: fr.f.ID, Field: fr.f, Code: code, Message: fmt.Sprintf(format, args...)}
}
