package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestIntArgumentsAre32Bit: the spec's Int is a signed 32-bit integer. Over
// HTTP, an argument or variable outside it is GRAPHQL_VALIDATION_FAILED
// naming the argument or variable, with no data; at the bounds the query
// runs. (Before, typeId: 99999999999 answered null, and a variable of 1e20
// was refused as "cannot use value 0 as Int".)
func TestIntArgumentsAre32Bit(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	const byVariable = `query($typeId: Int!) { opportunityType(typeId: $typeId) { typeId } }`
	tests := []struct {
		name  string
		query string
		body  string // the whole request body, when not query without variables
		want  string // in the one error's message; "" for an answer
	}{
		{name: "the largest Int", query: `{ opportunityType(typeId: 2147483647) { typeId } }`},
		{name: "the smallest Int", query: `{ opportunityType(typeId: -2147483648) { typeId } }`},
		{name: "a literal over", query: `{ opportunityType(typeId: 99999999999) { typeId } }`,
			want: `Argument "typeId" of field "Query.opportunityType": 99999999999 is not a 32-bit Int`},
		{name: "a literal under, deeper", query: `{ defaultOpportunityType { stage(id: -2147483649) { id } } }`,
			want: `Argument "id" of field "OpportunityType.stage": -2147483649 is not a 32-bit Int`},
		{name: "a variable at the bound", body: testkit.QueryBody(byVariable, map[string]any{"typeId": 2147483647})},
		{name: "a variable over", body: `{"query":"` + byVariable + `","variables":{"typeId":99999999999}}`,
			want: `Variable "$typeId": 99999999999 is not a 32-bit Int`},
		{name: "a variable of 1e20", body: `{"query":"` + byVariable + `","variables":{"typeId":1e20}}`,
			want: `Variable "$typeId": 1e20 is not a 32-bit Int`},
		{name: "a variable's default", query: `query($id: Int = 4294967296) { defaultOpportunityType { field(id: $id) { id } } }`,
			want: `Default value of variable "$id": 4294967296 is not a 32-bit Int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == "" {
				body = testkit.QueryBody(tt.query, nil)
			}
			resp, raw := testkit.PostJSON(t, s.Server.URL+"/query", body, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			if tt.want == "" {
				if strings.Contains(raw, `"errors"`) {
					t.Fatalf("errors: %s", raw)
				}
				return
			}
			var got testkit.Response
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" ||
				!strings.Contains(got.Errors[0].Message, tt.want) || (got.Data != nil && string(got.Data) != "null") {
				t.Errorf("got %s, want one GRAPHQL_VALIDATION_FAILED containing %q and no data", raw, tt.want)
			}
		})
	}
}
