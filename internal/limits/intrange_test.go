package limits_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// intSchema has Int where the service's schema has none yet: in lists, input
// objects and directives, beside Float and ID, which are not bound to 32 bits.
var intSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "int.graphqls", Input: `
directive @tag(n: Int) on FIELD
input Range { min: Int, max: Int!, nested: Range, list: [Int!] }
type Query {
  one(n: Int!): Int
  many(ns: [Int!]): Int
  range(r: Range): Int
  other(x: Float, id: ID): Int
  t: T
}
type T { g(n: Int): Int }
`})

func TestIntLiteralsAre32Bit(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // one error per entry, its message containing it; nil: valid
	}{
		{"the largest Int", `{ one(n: 2147483647) }`, nil},
		{"the smallest Int", `{ one(n: -2147483648) }`, nil},
		{"one over", `{ one(n: 2147483648) }`, []string{`Argument "n" of field "Query.one": 2147483648 is not a 32-bit Int (an integer from -2147483648 to 2147483647).`}},
		{"one under", `{ one(n: -2147483649) }`, []string{`Argument "n" of field "Query.one": -2147483649 is not`}},
		{"a nested field", `{ t { g(n: 99999999999) } }`, []string{`Argument "n" of field "T.g": 99999999999`}},
		{"in a list", `{ many(ns: [1, 99999999999]) }`, []string{`Argument "ns" of field "Query.many", item 1: 99999999999`}},
		{"in an input object", `{ range(r: {max: 1, min: 3000000000}) }`, []string{`Argument "r" of field "Query.range", input field "min": 3000000000`}},
		{"in a nested input object's list", `{ range(r: {max: 1, nested: {max: 2, list: [3, 4294967296]}}) }`,
			[]string{`Argument "r" of field "Query.range", input field "nested", input field "list", item 1: 4294967296`}},
		{"a directive's argument", `{ one(n: 1) @tag(n: 99999999999) }`, []string{`Argument "n" of directive "@tag": 99999999999`}},
		{"a variable's default", `query($n: Int = 99999999999) { t { g(n: $n) } }`, []string{`Default value of variable "$n": 99999999999`}},
		{"in a fragment, reported once", `{ t { ...F } } fragment F on T { g(n: 99999999999) }`, []string{`Argument "n" of field "T.g": 99999999999`}},
		// gqlparser refuses what does not fit 64 bits itself, without
		// naming the argument; this rule's error follows, naming it.
		{"beyond 64 bits", `{ one(n: 99999999999999999999) }`, []string{`Int cannot represent non 32-bit signed integer value`, `Argument "n" of field "Query.one": 99999999999999999999`}},
		{"two at once", `{ a: one(n: 2147483648) b: one(n: -2147483649) }`, []string{`2147483648`, `-2147483649`}},
		{"Float and ID are not Int", `{ other(x: 99999999999, id: 99999999999) }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := gqlparser.LoadQueryWithRules(intSchema, tt.query, limits.Limits{}.Rules()())
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v, want %d", errs, len(tt.want))
			}
			for i, want := range tt.want {
				if !strings.Contains(errs[i].Message, want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Message, want)
				}
				if len(errs[i].Locations) == 0 {
					t.Errorf("error %d has no location", i)
				}
			}
		})
	}
}

func TestIntVariablesAre32Bit(t *testing.T) {
	doc, errs := gqlparser.LoadQueryWithRules(intSchema,
		`query($n: Int, $ns: [Int!], $r: Range) { many(ns: $ns) range(r: $r) t { g(n: $n) } }`, limits.Limits{}.Rules()())
	if errs != nil {
		t.Fatal(errs)
	}
	op := doc.Operations[0]
	// fromJSON decodes variables as the endpoint does (UseNumber).
	fromJSON := func(s string) map[string]any {
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		dec.UseNumber()
		var vars map[string]any
		if err := dec.Decode(&vars); err != nil {
			t.Fatal(err)
		}
		return vars
	}
	tests := []struct {
		name string
		give map[string]any
		want string // in the message; "" for no error
	}{
		{"the largest Int", fromJSON(`{"n": 2147483647}`), ""},
		{"the smallest Int", fromJSON(`{"n": -2147483648}`), ""},
		{"none given", nil, ""},
		{"null", fromJSON(`{"n": null}`), ""},
		{"one over", fromJSON(`{"n": 2147483648}`), `Variable "$n": 2147483648 is not a 32-bit Int (an integer from -2147483648 to 2147483647).`},
		{"1e20, which gqlparser calls value 0", fromJSON(`{"n": 1e20}`), `Variable "$n": 1e20 is not a 32-bit Int`},
		{"a fraction", fromJSON(`{"n": 1.5}`), `Variable "$n": 1.5 is not`},
		{"an integer string out of range", fromJSON(`{"n": "99999999999"}`), `Variable "$n": 99999999999 is not`},
		{"not a number: gqlparser's to refuse", fromJSON(`{"n": "many"}`), ""},
		{"a list item", fromJSON(`{"ns": [1, 2, 3000000000]}`), `Variable "$ns" at "ns[2]": 3000000000 is not`},
		{"a lone value for a list", fromJSON(`{"ns": 3000000000}`), `Variable "$ns": 3000000000 is not`},
		{"an input field", fromJSON(`{"r": {"max": 1, "nested": {"max": -2147483649}}}`), `Variable "$r" at "r.nested.max": -2147483649 is not`},
		{"an input object in range", fromJSON(`{"r": {"max": 1, "min": -5, "list": [7]}}`), ""},
		{"an int64 from Go", map[string]any{"n": int64(1) << 40}, `Variable "$n": 1099511627776 is not`},
		{"a uint32 from Go", map[string]any{"n": uint32(1) << 31}, `Variable "$n": 2147483648 is not`},
		{"a whole float64 from Go", map[string]any{"n": float64(3)}, ""},
		{"a float64 out of range", map[string]any{"n": 1e10}, `Variable "$n": 1e+10 is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := limits.IntVariables(intSchema, op, tt.give)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("IntVariables = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Message, tt.want) {
				t.Fatalf("IntVariables = %v, want a message containing %q", err, tt.want)
			}
			if code := err.Extensions["code"]; code != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("code %v, want GRAPHQL_VALIDATION_FAILED", code)
			}
		})
	}
}
