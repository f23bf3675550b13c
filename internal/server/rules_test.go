package server_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// The rules front-ends share (graph/schema/rules.graphqls), through HTTP,
// the real handler and the signed client against the simulator's demo data.
// The expectations are read off the demo dataset by the rules the README
// states, not computed by internal/opportunity: these tests hold the served
// answers to the documented rules.

// TestStageKindsServed: the kind of every stage of the demo's first type.
func TestStageKindsServed(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	var got struct {
		OpportunityType struct {
			AllStages []struct {
				ID   int
				Kind string
			}
		}
	}
	s.Query(t, `{ opportunityType(typeId: 1001) { allStages { id kind } } }`, nil).Decode(t, &got)
	kinds := map[int]string{}
	for _, st := range got.OpportunityType.AllStages {
		kinds[st.ID] = st.Kind
	}
	want := map[int]string{
		2001: "OPEN", 2011: "OPEN", 2012: "OPEN", 2013: "OPEN", 2014: "OPEN",
		2002: "OPEN", 2003: "OPEN", 2031: "OPEN", 2032: "OPEN", 2004: "OPEN",
		2005: "WON",  // 赢单, possibility 100
		2006: "LOST", // 输单, possibility 0 and not the first stage
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds = %v\nwant     %v", kinds, want)
	}
}

// TestMovesServed: moves from a stage, for the demo's flags: 1001 forbids
// skipping and allows going back; 1002 forbids leaving a LOST stage
// backward; 1003 forbids going back and allows reviving a LOST one.
func TestMovesServed(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	type move struct {
		To             struct{ ID int }
		Allowed        bool
		Refusal        *string
		RequiredFields []struct{ ID int }
		CustomerFields []struct{ FieldID int }
	}
	ok := ""
	tests := []struct {
		name     string
		typeID   int
		from     int
		want     map[int]string // target id → refusal, "" when allowed
		required map[int][]int  // target id → required field ids, when checked
		customer map[int][]int
	}{
		{
			"no skipping, a sub-stage at its parent's position", 1001, 2002,
			map[int]string{
				2001: ok, 2011: ok, 2012: ok, 2013: ok, 2014: ok, // back, allowGoBack
				2002: "SAME_STAGE",
				2003: ok, 2031: ok, 2032: ok, // the next position, sub-stages included
				2004: "SKIP_NOT_ALLOWED", 2005: "SKIP_NOT_ALLOWED", 2006: "SKIP_NOT_ALLOWED",
			},
			map[int][]int{2003: {102, 103, 105}, 2031: nil, 2001: {101, 104}},
			map[int][]int{2001: {1, 2, 3}, 2002: {4}},
		},
		{
			"a sub-stage moving to its parent", 1001, 2013,
			map[int]string{
				2001: ok, 2011: ok, 2012: ok, 2013: "SAME_STAGE", 2014: ok,
				2002: ok,
				2003: "SKIP_NOT_ALLOWED", 2031: "SKIP_NOT_ALLOWED", 2032: "SKIP_NOT_ALLOWED",
				2004: "SKIP_NOT_ALLOWED", 2005: "SKIP_NOT_ALLOWED", 2006: "SKIP_NOT_ALLOWED",
			},
			nil, nil,
		},
		{
			"leaving a LOST stage backward needs allowInvalidGoBack", 1002, 2106,
			map[int]string{
				2101: "CLOSED_GO_BACK_NOT_ALLOWED", 2102: "CLOSED_GO_BACK_NOT_ALLOWED",
				2111: "CLOSED_GO_BACK_NOT_ALLOWED", 2112: "CLOSED_GO_BACK_NOT_ALLOWED",
				2103: "CLOSED_GO_BACK_NOT_ALLOWED", 2104: "CLOSED_GO_BACK_NOT_ALLOWED",
				2105: "CLOSED_GO_BACK_NOT_ALLOWED", 2106: "SAME_STAGE",
			},
			nil, nil,
		},
		{
			"a WON stage with allowGoBack false; LOST revived by allowInvalidGoBack", 1003, 2205,
			map[int]string{
				2201: "GO_BACK_NOT_ALLOWED", 2202: "GO_BACK_NOT_ALLOWED", 2211: "GO_BACK_NOT_ALLOWED",
				2212: "GO_BACK_NOT_ALLOWED", 2203: "GO_BACK_NOT_ALLOWED", 2204: "GO_BACK_NOT_ALLOWED",
				2205: "SAME_STAGE", 2206: ok, // skipping allowed; closing obeys the same flags
			},
			map[int][]int{2206: {308}},
			nil,
		},
		{
			"from LOST back, allowed by allowInvalidGoBack alone", 1003, 2206,
			map[int]string{
				2201: ok, 2202: ok, 2211: ok, 2212: ok, 2203: ok, 2204: ok, 2205: ok, 2206: "SAME_STAGE",
			},
			nil, nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fmt.Sprintf(`query($from: Int!) { opportunityType(typeId: %d) { moves(from: $from) {
				to { id } allowed refusal requiredFields { id } customerFields { fieldId } } } }`, tt.typeID)
			var got struct{ OpportunityType struct{ Moves []move } }
			s.Query(t, q, map[string]any{"from": tt.from}).Decode(t, &got)
			refusals := map[int]string{}
			for _, m := range got.OpportunityType.Moves {
				if _, dup := refusals[m.To.ID]; dup {
					t.Errorf("stage %d listed twice", m.To.ID)
				}
				r := ""
				if m.Refusal != nil {
					r = *m.Refusal
				}
				if m.Allowed != (r == "") {
					t.Errorf("to %d: allowed %v with refusal %q", m.To.ID, m.Allowed, r)
				}
				refusals[m.To.ID] = r
				if want, checked := tt.required[m.To.ID]; checked {
					var ids []int
					for _, f := range m.RequiredFields {
						ids = append(ids, f.ID)
					}
					if !reflect.DeepEqual(ids, want) {
						t.Errorf("to %d: requiredFields %v, want %v", m.To.ID, ids, want)
					}
				}
				if want, checked := tt.customer[m.To.ID]; checked {
					var ids []int
					for _, f := range m.CustomerFields {
						ids = append(ids, f.FieldID)
					}
					if !reflect.DeepEqual(ids, want) {
						t.Errorf("to %d: customerFields %v, want %v", m.To.ID, ids, want)
					}
				}
			}
			if !reflect.DeepEqual(refusals, tt.want) {
				t.Errorf("refusals = %v\nwant        %v", refusals, tt.want)
			}
		})
	}
}

// TestRulesNotFound: an unknown stage or type is a coded error at the
// field, never an empty answer; the rest of the query is still served.
func TestRulesNotFound(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	tests := []struct {
		name     string
		query    string
		code     string
		path     string
		wantData string
	}{
		{"moves from an unknown stage", `{ opportunityTypes { typeId } opportunityType(typeId: 1001) { moves(from: 9) { allowed } } }`,
			"STAGE_NOT_FOUND", "opportunityType.moves", `"opportunityType":null`},
		{"formSchema of an unknown stage", `{ opportunityType(typeId: 1001) { typeId formSchema(stageId: 2101) } }`,
			"STAGE_NOT_FOUND", "opportunityType.formSchema", `"opportunityType":null`},
		{"validateOpportunity of an unknown type", `{ validateOpportunity(typeId: 9, values: []) { valid } }`,
			"TYPE_NOT_FOUND", "validateOpportunity", `null`},
		{"validateOpportunity of an unknown stage", `{ validateOpportunity(typeId: 1001, stageId: 2101, values: []) { valid } }`,
			"STAGE_NOT_FOUND", "validateOpportunity", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(t, tt.query, nil)
			if r.Status != 200 || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != tt.code {
				t.Fatalf("got %d %s; want one %s error", r.Status, r.Body, tt.code)
			}
			var path []string
			for _, p := range r.Errors[0].Path {
				path = append(path, fmt.Sprint(p))
			}
			if strings.Join(path, ".") != tt.path || !strings.Contains(string(r.Data), tt.wantData) {
				t.Errorf("path %v, data %s; want path %s, data with %s", path, r.Data, tt.path, tt.wantData)
			}
		})
	}
	if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); len(r.Errors) > 0 {
		t.Errorf("the service stopped serving: %s", r.Body)
	}
}

// TestFormSchemaServed: formSchema is the JSON Schema object itself, with
// the stage's required fields added to the type's.
func TestFormSchemaServed(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	var got struct {
		OpportunityType struct {
			Save  map[string]any
			Stage map[string]any
		}
	}
	s.Query(t, `{ opportunityType(typeId: 1001) { save: formSchema stage: formSchema(stageId: 2003) } }`, nil).Decode(t, &got)
	for name, form := range map[string]map[string]any{"save": got.OpportunityType.Save, "stage": got.OpportunityType.Stage} {
		if form["$schema"] != opportunity.FormSchemaDialect || form["type"] != "object" || form["additionalProperties"] != false {
			t.Errorf("%s: not a draft 2020-12 object schema: %v", name, form)
		}
		props, _ := form["properties"].(map[string]any)
		if len(props) != 12 {
			t.Errorf("%s: %d properties, want the type's 12 fields", name, len(props))
		}
		source, _ := props["104"].(map[string]any)
		if source["title"] != "商机来源" || len(source["oneOf"].([]any)) != 5 {
			t.Errorf("%s: field 104 = %v, want its title and its 5 options", name, source)
		}
	}
	required := func(form map[string]any) string { b, _ := json.Marshal(form["required"]); return string(b) }
	if got, want := required(got.OpportunityType.Save), `["101","102","103","104"]`; got != want {
		t.Errorf("save required %s, want %s", got, want)
	}
	if got, want := required(got.OpportunityType.Stage), `["101","102","103","104","105"]`; got != want {
		t.Errorf("stage 2003 required %s, want %s (the type's, then 105 from the stage)", got, want)
	}
	if got.OpportunityType.Stage["title"] != "标准销售商机 / 方案报价" {
		t.Errorf("stage title = %v", got.OpportunityType.Stage["title"])
	}
}

// TestValidateOpportunityServed: each rule through the API, in the order
// the errors are documented; and a valid opportunity.
func TestValidateOpportunityServed(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	const q = `query($type: Int!, $stage: Int, $values: [FieldValueInput!]!) {
		validateOpportunity(typeId: $type, stageId: $stage, values: $values) { valid errors { fieldId field { id } code message } } }`
	type fieldErr struct {
		FieldID int
		Field   *struct{ ID int }
		Code    string
		Message string
	}
	tests := []struct {
		name   string
		stage  any
		values []map[string]any
		want   []string // fieldId:code
	}{
		{"valid for saving", nil, []map[string]any{
			{"fieldId": 101, "value": "年度采购"}, {"fieldId": 102, "value": "12.5"},
			{"fieldId": 103, "value": "2026-12-31"}, {"fieldId": 104, "value": "10401"},
			{"fieldId": 105, "values": []string{"10501", "10503"}},
		}, nil},
		{"every rule, then the missing required fields", 2003, []map[string]any{
			{"fieldId": 101, "value": "签"},           // 1 code point, minUnicode 2
			{"fieldId": 102, "value": "12.345"},      // scale 2
			{"fieldId": 104, "value": "10499"},       // not an option id
			{"fieldId": 107, "value": "12345678901"}, // 11 digits, but not ^1[3-9]
			{"fieldId": 106, "value": strings.Repeat("名", 21)},
			{"fieldId": 111, "value": "1e3"},
			{"fieldId": 999, "value": "x"},
		}, []string{"101:TOO_SHORT", "102:SCALE_EXCEEDED", "104:NOT_AN_OPTION", "107:PATTERN_MISMATCH",
			"106:TOO_LONG", "111:NOT_A_NUMBER", "999:UNKNOWN_FIELD", "103:REQUIRED", "105:REQUIRED"}},
		{"emoji count as one code point each", nil, []map[string]any{
			{"fieldId": 101, "value": "👍👍"}, {"fieldId": 102, "value": "1"}, {"fieldId": 103, "value": "d"},
			{"fieldId": 104, "value": "10401"}, {"fieldId": 106, "value": strings.Repeat("😀", 20)},
		}, nil},
		{"more values than fields", nil, func() []map[string]any {
			var v []map[string]any
			for i := range 13 {
				v = append(v, map[string]any{"fieldId": 101 + i, "value": "x"})
			}
			return v
		}(), []string{"0:TOO_MANY_VALUES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				ValidateOpportunity struct {
					Valid  bool
					Errors []fieldErr
				}
			}
			s.Query(t, q, map[string]any{"type": 1001, "stage": tt.stage, "values": tt.values}).Decode(t, &got)
			var codes []string
			for _, e := range got.ValidateOpportunity.Errors {
				codes = append(codes, fmt.Sprintf("%d:%s", e.FieldID, e.Code))
				known := e.FieldID != 0 && e.FieldID != 999
				if (e.Field != nil) != known || (known && e.Field.ID != e.FieldID) || e.Message == "" {
					t.Errorf("error %+v: field should be the definition of a known field, with a message", e)
				}
			}
			if !reflect.DeepEqual(codes, tt.want) || got.ValidateOpportunity.Valid != (len(tt.want) == 0) {
				t.Errorf("valid %v, errors %v\nwant %v", got.ValidateOpportunity.Valid, codes, tt.want)
			}
		})
	}
}
