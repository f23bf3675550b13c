package main

import (
	"strings"
	"testing"
)

// eventSource is a generated file's event marshaler, as gqlgen 0.17.98 writes
// it, with body standing in for its last statement.
func eventSource(names []string, body string) []byte {
	var b strings.Builder
	b.WriteString(generatedHeader + "\npackage graph\n")
	for _, name := range names {
		b.WriteString("\nfunc (ec *executionContext) " + name + "(ctx context.Context, sel ast.SelectionSet, v *live.Change) graphql.Marshaler {\n" +
			"\tif v == nil {\n\t\treturn graphql.Null\n\t}\n\t" + body + "\n}\n")
	}
	return []byte(b.String())
}

func TestRewriteEvents(t *testing.T) {
	const marshaler = "marshalNOpportunityConfigChange2ᚖgithubᚗcomᚋliveᚐChange"
	tests := []struct {
		name    string
		src     []byte
		wantErr string // "": rewritten
	}{
		{"gqlgen's shape", eventSource([]string{marshaler}, "return "+eventCall), ""},
		{"no event marshaler", eventSource([]string{"marshalNOther2"}, "return "+eventCall), "no function marshalNOpportunityConfigChange2"},
		{"another last call", eventSource([]string{marshaler}, "return ec._OpportunityConfigChange(ctx, sel, w)"), "0 of the functions"},
		{"two of them", eventSource([]string{marshaler, marshaler + "2"}, "return "+eventCall), "2 of the functions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := RewriteEvents("generated.go", tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "return "+eventShared) || strings.Count(string(out), eventCall) != 1 {
				t.Fatalf("not rewritten:\n%s", out)
			}
		})
	}
}
