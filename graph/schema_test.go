package graph_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/graph"
)

// han matches a Chinese character: each description names the vendor's term.
var han = regexp.MustCompile(`\p{Han}`)

// TestEveryTypeAndFieldIsDescribed reads the executable schema (what
// introspection serves) and checks that every object type, field and argument
// of ours has a description in English that names the vendor's Chinese term,
// and that field descriptions start with the field's own name.
func TestEveryTypeAndFieldIsDescribed(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	checked := 0
	for name, def := range schema.Types {
		if def.BuiltIn || strings.HasPrefix(name, "__") || def.Kind != ast.Object {
			continue
		}
		checked++
		if !han.MatchString(def.Description) || !strings.HasPrefix(def.Description, name+" — ") {
			t.Errorf("type %s: description %q should start %q and give the Chinese term", name, def.Description, name+" — ")
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if f.Position != nil && f.Position.Src != nil && f.Position.Src.BuiltIn {
				continue // not ours: the federation plugin's _service and _entities
			}
			if !strings.HasPrefix(f.Description, f.Name+" — ") || !han.MatchString(f.Description) {
				t.Errorf("%s.%s: description %q should start %q and give the Chinese term", name, f.Name, f.Description, f.Name+" — ")
			}
			for _, a := range f.Arguments {
				if !strings.HasPrefix(a.Description, a.Name+" — ") || !han.MatchString(a.Description) {
					t.Errorf("%s.%s(%s): description %q should start %q and give the Chinese term", name, f.Name, a.Name, a.Description, a.Name+" — ")
				}
			}
		}
	}
	if checked < 7 {
		t.Fatalf("checked %d object types, want at least Query and the six domain types", checked)
	}
}

// TestSchemaContract pins the names clients code against: the root fields with
// their argument and nullability, and list fields that are non-null lists of
// non-null items.
func TestSchemaContract(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	tests := []struct {
		typ, field, want string
	}{
		{"Query", "opportunityTypes", "[OpportunityType!]!"},
		{"Query", "opportunityType", "OpportunityType"},
		{"Query", "defaultOpportunityType", "OpportunityType"},
		{"OpportunityType", "stages", "[Stage!]!"},
		{"OpportunityType", "fields", "[Field!]!"},
		{"OpportunityType", "allStages", "[Stage!]!"},
		{"OpportunityType", "stage", "Stage"},
		{"OpportunityType", "field", "Field"},
		{"OpportunityType", "deleteOpportunityDate", "Int!"},
		{"Stage", "children", "[Stage!]!"},
		{"Stage", "remindAfterDays", "[String!]!"},
		{"Stage", "customerFields", "[CustomerField!]!"},
		{"Stage", "requiredOppTypeFields", "[RequiredOppTypeField!]!"},
		{"Stage", "parent", "Stage"},
		{"Stage", "depth", "Int!"},
		{"Stage", "path", "[Stage!]!"},
		{"Stage", "opportunityType", "OpportunityType!"},
		{"RequiredOppTypeField", "field", "Field"},
		{"RequiredOppTypeField", "options", "[FieldOption!]!"},
		{"Field", "minUnicode", "Int"},
		{"Field", "pattern", "String"},
		{"Field", "options", "[FieldOption!]!"},
		{"CustomerField", "fieldId", "Int!"},
		{"FieldOption", "name", "String!"},
		{"OpportunityType", "moves", "[StageMove!]!"},
		{"OpportunityType", "formSchema", "JSON!"},
		{"Stage", "kind", "StageKind!"},
		{"StageMove", "to", "Stage!"},
		{"StageMove", "allowed", "Boolean!"},
		{"StageMove", "refusal", "MoveRefusal"},
		{"StageMove", "requiredFields", "[Field!]!"},
		{"StageMove", "customerFields", "[CustomerField!]!"},
		{"Query", "validateOpportunity", "OpportunityValidation!"},
		{"OpportunityValidation", "valid", "Boolean!"},
		{"OpportunityValidation", "errors", "[FieldValueError!]!"},
		{"FieldValueError", "fieldId", "Int!"},
		{"FieldValueError", "field", "Field"},
		{"FieldValueError", "code", "FieldValueErrorCode!"},
		{"FieldValueError", "message", "String!"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"."+tt.field, func(t *testing.T) {
			def := schema.Types[tt.typ]
			if def == nil {
				t.Fatalf("no type %s", tt.typ)
			}
			f := def.Fields.ForName(tt.field)
			if f == nil {
				t.Fatalf("no field %s.%s", tt.typ, tt.field)
			}
			if got := f.Type.String(); got != tt.want {
				t.Errorf("type %s, want %s", got, tt.want)
			}
		})
	}
	args := []struct{ typ, field, arg, want string }{
		{"Query", "opportunityType", "typeId", "Int!"},
		{"OpportunityType", "moves", "from", "Int!"},
		{"OpportunityType", "formSchema", "stageId", "Int"},
		{"Query", "validateOpportunity", "typeId", "Int!"},
		{"Query", "validateOpportunity", "stageId", "Int"},
		{"Query", "validateOpportunity", "values", "[FieldValueInput!]!"},
	}
	for _, a := range args {
		arg := schema.Types[a.typ].Fields.ForName(a.field).Arguments.ForName(a.arg)
		if arg == nil || arg.Type.String() != a.want {
			t.Errorf("%s.%s(%s: %s) missing or changed: %+v", a.typ, a.field, a.arg, a.want, arg)
		}
	}
	enums := map[string][]string{
		"StageKind":           {"OPEN", "WON", "LOST"},
		"MoveRefusal":         {"SAME_STAGE", "SKIP_NOT_ALLOWED", "GO_BACK_NOT_ALLOWED", "CLOSED_GO_BACK_NOT_ALLOWED"},
		"FieldValueErrorCode": {"UNKNOWN_FIELD", "REQUIRED", "TOO_SHORT", "TOO_LONG", "PATTERN_MISMATCH", "NOT_A_NUMBER", "SCALE_EXCEEDED", "NOT_AN_OPTION", "TOO_MANY_VALUES"},
	}
	for name, want := range enums {
		var got []string
		if def := schema.Types[name]; def != nil {
			for _, v := range def.EnumValues {
				got = append(got, v.Name)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("enum %s = %v, want %v", name, got, want)
		}
	}
	input := schema.Types["FieldValueInput"]
	for field, want := range map[string]string{"fieldId": "Int!", "value": "String", "values": "[String!]"} {
		if input == nil || input.Fields.ForName(field) == nil || input.Fields.ForName(field).Type.String() != want {
			t.Errorf("FieldValueInput.%s: %s missing or changed", field, want)
		}
	}
}
