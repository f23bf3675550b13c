package opportunity_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

func ptr[T any](v T) *T { return &v }

// formType builds type 1, its fields taken from the demo's 标准销售商机 (ids,
// type codes and limits as there) plus the edge cases: 113 with a pattern RE2
// cannot compile, 114 a select with no options, 115 a three-code-point text
// and 116 a number that also has a pattern. Stage 1 requires 101 and 104
// (required anyway), stage 2 the optional 105 and 110, stage 21 (a sub-stage
// of 2) nothing.
func formType() *opportunity.Type {
	opts := func(ids ...int) []*opportunity.FieldOption {
		var out []*opportunity.FieldOption
		for _, id := range ids {
			out = append(out, &opportunity.FieldOption{ID: id, Name: fmt.Sprintf("选项%d", id)})
		}
		return out
	}
	req := func(ids ...int) []*opportunity.RequiredOppTypeField {
		var out []*opportunity.RequiredOppTypeField
		for _, id := range ids {
			out = append(out, &opportunity.RequiredOppTypeField{ID: id, Required: true})
		}
		return out
	}
	s1, s2, s3 := st(1, 1, "初步接洽"), st(2, 2, "需求确定", st(21, 1, "需求确认")), st(3, 3, "赢单")
	s1.RequiredOppTypeFields = req(101, 104)
	s2.RequiredOppTypeFields = req(105, 110)
	t := &opportunity.Type{
		TypeID: 1, TypeName: "标准销售商机",
		Stages: []*opportunity.Stage{s1, s2, s3},
		Fields: []*opportunity.Field{
			{ID: 101, Name: "商机名称", Required: true, Type: 1, MaxUnicode: 50, MinUnicode: ptr(2)},
			{ID: 102, Name: "预计成交金额", Required: true, Type: 6, Scale: 2, MaxUnicode: 15},
			{ID: 103, Name: "预计成交日期", Required: true, Type: 7},
			{ID: 104, Name: "商机来源", Required: true, Type: 3, Options: opts(10401, 10402, 10403)},
			{ID: 105, Name: "意向产品", Type: 4, Options: append(opts(10501, 10502, 10503, 10504), &opportunity.FieldOption{ID: 10501, Name: "repeated id"})},
			{ID: 107, Name: "决策人手机", Type: 9, MaxUnicode: 11, MinUnicode: ptr(11), Pattern: ptr(`^1[3-9]\d{9}$`)},
			{ID: 110, Name: "需求描述", Type: 2, MaxUnicode: 500},
			{ID: 111, Name: "预计采购席位数", Type: 5, MaxUnicode: 8},
			{ID: 113, Name: "lookahead", Type: 1, MaxUnicode: 20, Pattern: ptr(`^(?!test)\w+$`)},
			{ID: 114, Name: "no options", Type: 3},
			{ID: 115, Name: "three", Type: 1, MaxUnicode: 3, Pattern: ptr("")},
			{ID: 116, Name: "rate", Type: 5, Scale: 2, MaxUnicode: 10, Pattern: ptr(`^[0-9.]+$`)},
		},
	}
	opportunity.NewSnapshot([]*opportunity.Type{t}, "v")
	return t
}

func newValidator(t *testing.T) *opportunity.Validator {
	t.Helper()
	v, problems := opportunity.NewValidator(opportunity.NewSnapshot([]*opportunity.Type{formType()}, "v"))
	if len(problems) != 1 || problems[0].FieldID != 113 {
		t.Fatalf("pattern problems = %v, want field 113's only", problems)
	}
	return v
}

// one is a single value.
func one(id int, s string) opportunity.FieldValue {
	return opportunity.FieldValue{FieldID: id, Value: &s}
}

// many is a list of values.
func many(id int, ss ...string) opportunity.FieldValue {
	return opportunity.FieldValue{FieldID: id, Values: append([]string{}, ss...)}
}

// saved fills every field type 1 requires, validly; with overrides replacing
// the values of the same field ids, or added.
func saved(overrides ...opportunity.FieldValue) []opportunity.FieldValue {
	base := []opportunity.FieldValue{one(101, "商机名称"), one(102, "100.5"), one(103, "2024-01-01"), one(104, "10401")}
	for _, o := range overrides {
		i := slices.IndexFunc(base, func(v opportunity.FieldValue) bool { return v.FieldID == o.FieldID })
		if i >= 0 {
			base[i] = o
		} else {
			base = append(base, o)
		}
	}
	return base
}

// codes renders errors as "field:CODE", the table's want.
func codes(errs []opportunity.FieldValueError) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%d:%s", e.FieldID, e.Code))
	}
	return out
}

type validateGive struct {
	stage  *int
	values []opportunity.FieldValue
}

// validateTests is also the first part of the form schema's agreement corpus.
func validateTests() []struct {
	name string
	give validateGive
	want []string
} {
	cjk50, cjk51 := strings.Repeat("中", 50), strings.Repeat("文", 51)
	return []struct {
		name string
		give validateGive
		want []string
	}{
		{"required fields filled", validateGive{nil, saved()}, []string{}},
		{"nothing", validateGive{nil, nil}, []string{"101:REQUIRED", "102:REQUIRED", "103:REQUIRED", "104:REQUIRED"}},
		{"stage 1 requires only what the type does", validateGive{ptr(1), saved()}, []string{}},
		{"stage 2 requires its own fields", validateGive{ptr(2), saved()}, []string{"105:REQUIRED", "110:REQUIRED"}},
		{"stage 2 satisfied", validateGive{ptr(2), saved(many(105, "10501"), one(110, "要CRM"))}, []string{}},
		{"a sub-stage does not inherit its parent's fields", validateGive{ptr(21), saved()}, []string{}},
		{"blank values are not filled", validateGive{ptr(2), saved(one(101, ""), many(105), many(110, ""))}, []string{"101:REQUIRED", "105:REQUIRED", "110:REQUIRED"}},
		{"blank optional values are fine", validateGive{nil, saved(one(107, ""), many(105), one(111, ""))}, []string{}},
		{"unknown field", validateGive{nil, saved(one(999, "x"))}, []string{"999:UNKNOWN_FIELD"}},
		{"a field given twice", validateGive{nil, append(saved(), one(101, "又一个"))}, []string{"101:TOO_MANY_VALUES"}},
		{"both value and values", validateGive{nil, saved(opportunity.FieldValue{FieldID: 110, Value: ptr("a"), Values: []string{"b"}})}, []string{"110:TOO_MANY_VALUES"}},
		{"a required field with both value and values: one error", validateGive{nil, saved(opportunity.FieldValue{FieldID: 101, Value: ptr("ab"), Values: []string{}})}, []string{"101:TOO_MANY_VALUES"}},
		{"a bad value given twice: one error", validateGive{nil, append(saved(one(101, "x")), one(101, "y"), one(999, ""), one(999, ""))}, []string{"101:TOO_SHORT", "999:UNKNOWN_FIELD"}},
		{"a blank value then a filled one", validateGive{nil, append(saved(one(101, "")), one(101, "ab"))}, []string{"101:TOO_MANY_VALUES"}},
		{"more values than the type has fields", validateGive{nil, slices.Repeat(saved(), 4)}, []string{"0:TOO_MANY_VALUES"}},

		{"CJK at the limit: 50 code points, 150 bytes", validateGive{nil, saved(one(101, cjk50))}, []string{}},
		{"CJK over the limit", validateGive{nil, saved(one(101, cjk51))}, []string{"101:TOO_LONG"}},
		{"one CJK character is too short, though 3 bytes", validateGive{nil, saved(one(101, "中"))}, []string{"101:TOO_SHORT"}},
		{"three emoji fit three code points, though 12 bytes", validateGive{nil, saved(one(115, "😀🎉🚀"))}, []string{}},
		{"four emoji do not", validateGive{nil, saved(one(115, "😀🎉🚀🌏"))}, []string{"115:TOO_LONG"}},
		{"a skin-toned emoji is two code points", validateGive{nil, saved(one(115, "👍🏽中"))}, []string{}},
		{"a ZWJ family is five code points", validateGive{nil, saved(one(115, "👨‍👩‍👧"))}, []string{"115:TOO_LONG"}},
		{"a megabyte is too long, counted or not", validateGive{nil, saved(one(110, strings.Repeat("a", 1<<20)))}, []string{"110:TOO_LONG"}},
		{"maxUnicode 0 is the service's cap", validateGive{nil, saved(one(103, strings.Repeat("1", opportunity.MaxUnlimitedLength)))}, []string{}},
		{"beyond the cap", validateGive{nil, saved(one(103, strings.Repeat("1", opportunity.MaxUnlimitedLength+1)))}, []string{"103:TOO_LONG"}},
		{"several values for a text field", validateGive{nil, saved(many(110, "a", "b"))}, []string{"110:TOO_MANY_VALUES"}},
		{"one item in values for a text field", validateGive{nil, saved(many(110, "a"))}, []string{}},

		{"amount with 2 decimals", validateGive{nil, saved(one(102, "-1234.56"))}, []string{}},
		{"amount with 3 decimals", validateGive{nil, saved(one(102, "1234.567"))}, []string{"102:SCALE_EXCEEDED"}},
		{"exponent", validateGive{nil, saved(one(102, "1e5"))}, []string{"102:NOT_A_NUMBER"}},
		{"trailing point", validateGive{nil, saved(one(102, "12."))}, []string{"102:NOT_A_NUMBER"}},
		{"leading point", validateGive{nil, saved(one(102, ".5"))}, []string{"102:NOT_A_NUMBER"}},
		{"full-width digits", validateGive{nil, saved(one(102, "１２"))}, []string{"102:NOT_A_NUMBER"}},
		{"a plus sign", validateGive{nil, saved(one(102, "+1"))}, []string{"102:NOT_A_NUMBER"}},
		{"scale 0 takes a whole number", validateGive{nil, saved(one(111, "1.5"))}, []string{"111:SCALE_EXCEEDED"}},
		{"scale 0 whole number", validateGive{nil, saved(one(111, "12345678"))}, []string{}},
		{"a number longer than maxUnicode", validateGive{nil, saved(one(111, "123456789"))}, []string{"111:TOO_LONG"}},
		{"a number that also has a pattern", validateGive{nil, saved(one(116, "-1.5"))}, []string{"116:PATTERN_MISMATCH"}},

		{"phone matches", validateGive{nil, saved(one(107, "13812345678"))}, []string{}},
		{"phone does not match", validateGive{nil, saved(one(107, "12345678901"))}, []string{"107:PATTERN_MISMATCH"}},
		{"phone too short comes first", validateGive{nil, saved(one(107, "1381234567"))}, []string{"107:TOO_SHORT"}},
		{"phone with a newline after it: $ is the end of text in RE2", validateGive{nil, saved(one(107, "1381234567\n"))}, []string{"107:PATTERN_MISMATCH"}},
		{"a pattern RE2 cannot compile is skipped", validateGive{nil, saved(one(113, "test-!"))}, []string{}},
		{"an empty pattern is none", validateGive{nil, saved(one(115, "x"))}, []string{}},

		{"option id", validateGive{nil, saved(one(104, "10402"))}, []string{}},
		{"option name instead of id", validateGive{nil, saved(one(104, "选项10402"))}, []string{"104:NOT_AN_OPTION"}},
		{"unknown option id", validateGive{nil, saved(one(104, "99"))}, []string{"104:NOT_AN_OPTION"}},
		{"padded option id", validateGive{nil, saved(one(104, "010401"))}, []string{"104:NOT_AN_OPTION"}},
		{"two options for a single select", validateGive{nil, saved(many(104, "10401", "10402"))}, []string{"104:TOO_MANY_VALUES"}},
		{"a select with no options", validateGive{nil, saved(one(114, "1"))}, []string{"114:NOT_AN_OPTION"}},
		{"multi-select", validateGive{nil, saved(many(105, "10504", "10501"))}, []string{}},
		{"multi-select as one value", validateGive{nil, saved(one(105, "10502"))}, []string{}},
		{"multi-select repeats an option", validateGive{nil, saved(many(105, "10501", "10501"))}, []string{"105:TOO_MANY_VALUES"}},
		{"multi-select unknown option", validateGive{nil, saved(many(105, "10501", "x"))}, []string{"105:NOT_AN_OPTION"}},
		{"multi-select blank item", validateGive{nil, saved(many(105, "10501", ""))}, []string{"105:NOT_AN_OPTION"}},
		{"multi-select more values than options", validateGive{nil, saved(many(105, "10501", "10502", "10503", "10504", "10501"))}, []string{"105:TOO_MANY_VALUES"}},
	}
}

func TestValidate(t *testing.T) {
	v := newValidator(t)
	for _, tt := range validateTests() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Validate(1, tt.give.stage, tt.give.values)
			if err != nil {
				t.Fatal(err)
			}
			if c := codes(got.Errors); !slices.Equal(c, tt.want) {
				t.Errorf("errors = %v, want %v", c, tt.want)
			}
			if got.Valid() != (len(tt.want) == 0) {
				t.Errorf("Valid() = %v with errors %v", got.Valid(), got.Errors)
			}
			for _, e := range got.Errors {
				if e.Message == "" {
					t.Errorf("%s has no message", e.Code)
				}
				if (e.Field == nil) != (e.Code == opportunity.UnknownField || e.FieldID == 0) {
					t.Errorf("%d:%s: Field = %v", e.FieldID, e.Code, e.Field)
				}
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name  string
		give  validateGive
		want  string
		wantN int // errors
	}{
		{"names the field and counts code points", validateGive{nil, saved(one(101, strings.Repeat("文", 51)))}, "商机名称 (field 101) allows at most 50 characters (Unicode code points); got 51", 1},
		{"names the stage", validateGive{ptr(2), saved(many(105, "10501"))}, "需求描述 (field 110) is required to enter stage 需求确定", 1},
		{"says the scale", validateGive{nil, saved(one(102, "1.234"))}, "预计成交金额 (field 102) allows at most 2 decimal places; got 3", 1},
		{"does not echo a long value", validateGive{nil, saved(one(110, strings.Repeat("秘", 501)))}, "got 501", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Validate(1, tt.give.stage, tt.give.values)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Errors) != tt.wantN || !strings.Contains(got.Errors[0].Message, tt.want) || strings.Contains(got.Errors[0].Message, "秘秘") {
				t.Errorf("errors = %+v, want one containing %q", got.Errors, tt.want)
			}
		})
	}
}

func TestValidateUnknownTypeOrStage(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name  string
		give  [2]*int // type, stage
		want  error
		valid bool
	}{
		{"unknown type", [2]*int{ptr(2), nil}, opportunity.ErrTypeNotFound, false},
		{"unknown stage", [2]*int{ptr(1), ptr(999)}, opportunity.ErrStageNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Validate(*tt.give[0], tt.give[1], saved())
			if !errors.Is(err, tt.want) {
				t.Errorf("Validate err = %v, want %v", err, tt.want)
			}
			_, err = v.FormSchema(*tt.give[0], tt.give[1])
			if !errors.Is(err, tt.want) {
				t.Errorf("FormSchema err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewValidatorPatternProblems(t *testing.T) {
	bad := `(a)\1` // a back-reference: Perl, not RE2
	mk := func(typeID int, patterns ...string) *opportunity.Type {
		t := &opportunity.Type{TypeID: typeID}
		for i, p := range patterns {
			t.Fields = append(t.Fields, &opportunity.Field{ID: i + 1, Type: 1, Pattern: ptr(p)})
		}
		return t
	}
	tests := []struct {
		name string
		give []*opportunity.Type
		want []string
	}{
		{"none", []*opportunity.Type{mk(1, `^\d+$`, "")}, nil},
		{"each field with a bad pattern once, across types", []*opportunity.Type{mk(1, bad, `^ok$`, bad), mk(2, `x(?=y)`)},
			[]string{
				"type 1, field 1: pattern skipped, RE2 cannot compile it: invalid escape sequence",
				"type 1, field 3: pattern skipped, RE2 cannot compile it: invalid escape sequence",
				"type 2, field 1: pattern skipped, RE2 cannot compile it: invalid or unsupported Perl syntax",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := opportunity.NewValidator(opportunity.NewSnapshot(tt.give, "v"))
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
				if strings.Contains(p.Error(), `\1`) || strings.Contains(p.Error(), "?=") {
					t.Errorf("%q shows the upstream's pattern", p.Error())
				}
				if p.Unwrap() == nil {
					t.Errorf("%q does not wrap the compiler's error", p.Error())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems = %q, want %q", got, tt.want)
			}
		})
	}
}
