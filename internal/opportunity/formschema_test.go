package opportunity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	// A test dependency only: a standard, independent JSON Schema validator
	// to hold FormSchema to Validate. santhosh-tekuri/jsonschema implements
	// draft 2020-12 in full, passes the official JSON-Schema-Test-Suite and
	// is maintained; it validates each schema against the draft's
	// metaschema when compiling it, so a malformed FormSchema fails here.
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// compileForm compiles a form schema the way a client gets it: as JSON.
func compileForm(t *testing.T, form map[string]any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(form)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("form.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("form.json")
	if err != nil {
		t.Fatalf("the form schema does not compile: %v\n%s", err, raw)
	}
	return sch
}

// instance is the object a form sends for values, as FormSchema documents
// it: blank values of the type's fields left out, a multi-select as an
// array, any other field as a string (or an array when several values are
// given, which is invalid).
func instance(t *testing.T, typ *opportunity.Type, values []opportunity.FieldValue) any {
	t.Helper()
	obj := map[string]any{}
	for _, fv := range values {
		var items []string
		switch {
		case fv.Values != nil:
			items = fv.Values
		case fv.Value != nil:
			items = []string{*fv.Value}
		}
		f := typ.Field(fv.FieldID)
		if f != nil && (len(items) == 0 || len(items) == 1 && items[0] == "") {
			continue
		}
		if len(items) == 1 && (f == nil || f.Type != 4) {
			obj[fmt.Sprint(fv.FieldID)] = items[0]
			continue
		}
		arr := make([]any, len(items))
		for i, it := range items {
			arr[i] = it
		}
		obj[fmt.Sprint(fv.FieldID)] = arr
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// representable: a JSON object holds each key once and one value per key.
func representable(values []opportunity.FieldValue) bool {
	seen := map[int]bool{}
	for _, fv := range values {
		if seen[fv.FieldID] || fv.Value != nil && fv.Values != nil {
			return false
		}
		seen[fv.FieldID] = true
	}
	return true
}

// agreementCorpus is the validate table's inputs plus, for every stage (and
// none), every field (and an unknown one) set to every corpus value over a
// base that is otherwise valid for that stage, so that the value decides.
func agreementCorpus(typ *opportunity.Type) []validateGive {
	var out []validateGive
	for _, tt := range validateTests() {
		if representable(tt.give.values) {
			out = append(out, tt.give)
		}
	}
	strs := []string{
		"", " ", "a", "ab", "中", "中文", "商机名称", strings.Repeat("中", 50), strings.Repeat("中", 51),
		"😀", "😀🎉🚀", "😀🎉🚀🌏", "👍🏽", "👨‍👩‍👧", "é", "e\u0301", "a\nb", "\t",
		"0", "12", "-5", "12.3", "12.34", "12.345", "-0.001", "1e5", "12.", ".5", "+1", "１２", "1,000", "12345678", "123456789",
		"13812345678", "12345678901", "1381234567", "1381234567\n", "test", "test1", "HT12345678",
		"10401", "10402", "99", "选项10401", "010401", "10501", "10504",
		strings.Repeat("x", 500), strings.Repeat("x", 501), strings.Repeat("1", opportunity.MaxUnlimitedLength),
		strings.Repeat("1", opportunity.MaxUnlimitedLength+1),
	}
	lists := [][]string{{}, {""}, {"10501"}, {"10501", "10502"}, {"10501", "10501"}, {"10501", "x"}, {"10401"},
		{"10501", "10502", "10503", "10504"}, {"10501", "10502", "10503", "10504", "10501"}, {"a", "b"}}
	stages := []*int{nil}
	for _, s := range typ.AllStages() {
		stages = append(stages, &s.ID)
	}
	ids := []int{999}
	for _, f := range typ.Fields {
		ids = append(ids, f.ID)
	}
	for _, stage := range stages {
		base := func(o opportunity.FieldValue) []opportunity.FieldValue {
			if stage != nil && *stage == 2 {
				return saved(many(105, "10503"), one(110, "需求"), o)
			}
			return saved(o)
		}
		out = append(out, validateGive{stage, base(one(101, "商机名称"))})
		for _, id := range ids {
			for _, s := range strs {
				out = append(out, validateGive{stage, base(one(id, s))})
			}
			for _, l := range lists {
				out = append(out, validateGive{stage, base(many(id, l...))})
			}
		}
	}
	return out
}

func TestFormSchemaAgreesWithValidate(t *testing.T) {
	v := newValidator(t)
	typ := v.Snapshot().Type(1)
	compiled := map[string]*jsonschema.Schema{}
	var valid, invalid int
	for _, give := range agreementCorpus(typ) {
		key := "save"
		if give.stage != nil {
			key = fmt.Sprint(*give.stage)
		}
		sch := compiled[key]
		if sch == nil {
			form, err := v.FormSchema(1, give.stage)
			if err != nil {
				t.Fatal(err)
			}
			sch = compileForm(t, form)
			compiled[key] = sch
		}
		got, err := v.Validate(1, give.stage, give.values)
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := sch.Validate(instance(t, typ, give.values))
		if got.Valid() != (schemaErr == nil) {
			t.Errorf("stage %s, values %s: Validate says %v (%v), the JSON Schema says %v",
				key, abbreviate(give.values), got.Valid(), codes(got.Errors), schemaErr)
		}
		if got.Valid() {
			valid++
		} else {
			invalid++
		}
	}
	// A corpus that only ever fails (or passes) would agree trivially.
	if valid < 100 || invalid < 100 {
		t.Errorf("corpus has %d valid and %d invalid cases; want both in the hundreds", valid, invalid)
	}
}

// abbreviate prints values with long strings cut, so a failure stays legible.
func abbreviate(values []opportunity.FieldValue) string {
	cut := func(s string) string {
		if r := []rune(s); len(r) > 12 {
			return fmt.Sprintf("%s…(%d code points)", string(r[:12]), len(r))
		}
		return s
	}
	var parts []string
	for _, fv := range values {
		switch {
		case fv.Values != nil:
			var vs []string
			for _, s := range fv.Values {
				vs = append(vs, cut(s))
			}
			parts = append(parts, fmt.Sprintf("%d=%q", fv.FieldID, vs))
		case fv.Value != nil:
			parts = append(parts, fmt.Sprintf("%d=%q", fv.FieldID, cut(*fv.Value)))
		}
	}
	return strings.Join(parts, " ")
}

func TestFormSchemaShape(t *testing.T) {
	v := newValidator(t)
	save, err := v.FormSchema(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage2, err := v.FormSchema(1, ptr(2))
	if err != nil {
		t.Fatal(err)
	}
	props := save["properties"].(map[string]any)
	prop := func(id string) map[string]any { return props[id].(map[string]any) }
	tests := []struct {
		name string
		give any
		want any
	}{
		{"dialect", save["$schema"], "https://json-schema.org/draft/2020-12/schema"},
		{"type title", save["title"], "标准销售商机"},
		{"stage title", stage2["title"], "标准销售商机 / 需求确定"},
		{"no other properties", save["additionalProperties"], false},
		{"required to save", save["required"], []string{"101", "102", "103", "104"}},
		{"required to enter stage 2", stage2["required"], []string{"101", "102", "103", "104", "105", "110"}},
		{"field title", prop("101")["title"], "商机名称"},
		{"code point lengths", []any{prop("101")["minLength"], prop("101")["maxLength"]}, []any{2, 50}},
		{"maxUnicode 0 is the service's cap", prop("103")["maxLength"], opportunity.MaxUnlimitedLength},
		{"vendor pattern", prop("107")["pattern"], `^1[3-9]\d{9}$`},
		{"a pattern RE2 cannot compile is left out", prop("113")["pattern"], nil},
		{"an empty pattern is left out", prop("115")["pattern"], nil},
		{"scale as a pattern", prop("102")["pattern"], `^-?[0-9]+(\.[0-9]{1,2})?$`},
		{"scale 0", prop("111")["pattern"], `^-?[0-9]+$`},
		{"number and vendor pattern", prop("116")["allOf"], []any{map[string]any{"pattern": `^[0-9.]+$`}}},
		{"options as oneOf const + title", prop("104")["oneOf"], []any{
			map[string]any{"const": "10401", "title": "选项10401"},
			map[string]any{"const": "10402", "title": "选项10402"},
			map[string]any{"const": "10403", "title": "选项10403"},
		}},
		{"no options: nothing is valid", prop("114")["not"], map[string]any{}},
		{"multi-select", []any{prop("105")["type"], prop("105")["uniqueItems"], prop("105")["maxItems"], len(prop("105")["items"].(map[string]any)["oneOf"].([]any))},
			[]any{"array", true, 4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.give, tt.want) {
				t.Errorf("got %#v, want %#v", tt.give, tt.want)
			}
		})
	}
}

func TestFormSchemaBuiltOnce(t *testing.T) {
	v := newValidator(t)
	same := func(a, b map[string]any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	tests := []struct {
		name  string
		give  [2]*int // stage ids
		want  bool    // same map
		props bool    // same properties map
	}{
		{"save, twice", [2]*int{nil, nil}, true, true},
		{"a stage, twice", [2]*int{ptr(2), ptr(2)}, true, true},
		{"two stages share the properties", [2]*int{ptr(1), ptr(2)}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := v.FormSchema(1, tt.give[0])
			if err != nil {
				t.Fatal(err)
			}
			b, err := v.FormSchema(1, tt.give[1])
			if err != nil {
				t.Fatal(err)
			}
			if same(a, b) != tt.want || same(a["properties"].(map[string]any), b["properties"].(map[string]any)) != tt.props {
				t.Errorf("same schema %v, same properties %v; want %v, %v", same(a, b), same(a["properties"].(map[string]any), b["properties"].(map[string]any)), tt.want, tt.props)
			}
		})
	}
	if s, _ := v.FormSchema(1, nil); !slices.Equal(s["required"].([]string), []string{"101", "102", "103", "104"}) {
		t.Errorf("building stage schemas changed the save schema's required list: %v", s["required"])
	}
}

// TestDemoDatasetForms: every demo pattern compiles, and every demo form
// schema is valid draft 2020-12 that accepts a filled form and refuses an
// empty one (each demo type has required fields).
func TestDemoDatasetForms(t *testing.T) {
	types := demoTypes(t)
	v, problems := opportunity.NewValidator(opportunity.NewSnapshot(types, "demo"))
	if len(problems) != 0 {
		t.Fatalf("demo pattern problems: %v", problems)
	}
	for _, typ := range types {
		stages := []*int{nil}
		for _, s := range typ.AllStages() {
			stages = append(stages, &s.ID)
		}
		for _, stage := range stages {
			name := fmt.Sprintf("type %d, save", typ.TypeID)
			if stage != nil {
				name = fmt.Sprintf("type %d, stage %d", typ.TypeID, *stage)
			}
			t.Run(name, func(t *testing.T) {
				form, err := v.FormSchema(typ.TypeID, stage)
				if err != nil {
					t.Fatal(err)
				}
				sch := compileForm(t, form)
				if err := sch.Validate(map[string]any{}); err == nil {
					t.Error("the schema accepts an empty form")
				}
				got, err := v.Validate(typ.TypeID, stage, nil)
				if err != nil || got.Valid() {
					t.Errorf("Validate of nothing = %v, %v; want REQUIRED errors", got, err)
				}
			})
		}
	}
}

// TestFormEncoding: Form is json.Marshal of FormSchema's map, byte for byte,
// and counts its JSON values as decoding it does, for every form of the
// test types, the demo and a large configuration (HTML-escaped titles, a
// pattern with metacharacters, stages with no required field of their own).
func TestFormEncoding(t *testing.T) {
	datasets := []struct {
		name  string
		types []*opportunity.Type
	}{
		{"test types", newValidator(t).Snapshot().Types()},
		{"demo", demoTypes(t)},
		{"large", decodeTypes(t, simulator.LargeDataset(4, 6, 20))},
	}
	for _, ds := range datasets {
		t.Run(ds.name, func(t *testing.T) {
			snap := opportunity.NewSnapshot(ds.types, ds.name)
			v, _ := snap.Rules()
			for _, typ := range ds.types {
				stages := []*int{nil}
				for _, s := range typ.AllStages() {
					stages = append(stages, &s.ID)
				}
				for _, stage := range stages {
					m, err := v.FormSchema(typ.TypeID, stage)
					if err != nil {
						t.Fatal(err)
					}
					f, err := v.Form(typ.TypeID, stage)
					if err != nil {
						t.Fatal(err)
					}
					want, err := json.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					got := f.AppendTo([]byte("prefix"))
					if !bytes.Equal(got[len("prefix"):], want) {
						t.Fatalf("type %d, stage %v: Form =\n%s\nwant json.Marshal =\n%s", typ.TypeID, stage, got[len("prefix"):], want)
					}
					var w bytes.Buffer
					if n, err := f.WriteTo(&w); err != nil || n != int64(len(want)) || !bytes.Equal(w.Bytes(), want) || f.Len() != len(want) {
						t.Fatalf("type %d, stage %v: WriteTo wrote %d bytes (%v), Len %d; want %d", typ.TypeID, stage, n, err, f.Len(), len(want))
					}
					if got, want := f.Values(), jsonValues(t, want); got != want {
						t.Fatalf("type %d, stage %v: Values = %d, want %d", typ.TypeID, stage, got, want)
					}
				}
			}
		})
	}
}

// jsonValues counts the JSON values of a document by decoding it.
func jsonValues(t *testing.T, doc []byte) int {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var count func(any) int
	count = func(v any) int {
		n := 1
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				n += count(e)
			}
		case []any:
			for _, e := range v {
				n += count(e)
			}
		}
		return n
	}
	return count(v)
}
