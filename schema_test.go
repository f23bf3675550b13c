package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// update rewrites schema.graphql from graph.SDL() instead of comparing them:
//
//	go test -run TestSchemaSnapshot -update .
var update = flag.Bool("update", false, "rewrite schema.graphql from the executable schema")

// schemaFile is the committed snapshot of the schema: what clients code against
// and what .ci/schema.sh compares with the last release for breaking changes.
const schemaFile = "schema.graphql"

// TestSchemaSnapshot fails when the executable schema and the committed
// schema.graphql differ, so that every schema change shows up in review as a
// diff of schema.graphql.
func TestSchemaSnapshot(t *testing.T) {
	got := graph.SDL()
	if *update {
		if err := os.WriteFile(schemaFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", schemaFile)
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v\nto create it: go test -run TestSchemaSnapshot -update .", err)
	}
	if string(want) != got {
		t.Fatalf("%s is stale (--- %s, +++ graph.SDL()):\n%s\nif the change is intended: go test -run TestSchemaSnapshot -update . and commit %s (and a CHANGELOG.md entry)",
			schemaFile, schemaFile, lineDiff(string(want), got, 3), schemaFile)
	}
}

// TestServedSchemaIsTheSnapshot starts the real service and checks that
// GET /graphql/schema.graphql serves schema.graphql byte for byte.
func TestServedSchemaIsTheSnapshot(t *testing.T) {
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, map[string]string{})
	resp, got := testkit.Get(t, s.base+"/graphql/schema.graphql", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /graphql/schema.graphql: %d %s", resp.StatusCode, got)
	}
	if got != string(want) {
		t.Fatalf("served schema differs from %s (--- %s, +++ served):\n%s", schemaFile, schemaFile, lineDiff(string(want), got, 3))
	}
}

// lineDiff returns a unified-style diff of a and b by lines, with context
// lines of context around each change. It is a plain LCS table, quadratic in
// the number of lines: fine for a schema of a few hundred lines, and it keeps
// the test free of a diff dependency.
func lineDiff(a, b string, context int) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte // ' ', '-' or '+'
		text string
		ai   int // 1-based line in a of this or the next line of a
	}
	var ops []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, line{' ', x[i], i + 1})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, line{'-', x[i], i + 1})
			i++
		default:
			ops = append(ops, line{'+', y[j], i + 1})
			j++
		}
	}
	// Print changed lines with their context; gaps become "@@ line N @@".
	keep := make([]bool, len(ops))
	for k, o := range ops {
		if o.op == ' ' {
			continue
		}
		for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
			keep[c] = true
		}
	}
	var out strings.Builder
	for k, o := range ops {
		if !keep[k] {
			continue
		}
		if k == 0 || !keep[k-1] {
			fmt.Fprintf(&out, "@@ %s line %d @@\n", schemaFile, o.ai)
		}
		text := strings.TrimSuffix(o.text, "\n")
		if !strings.HasSuffix(o.text, "\n") && o.text != "" {
			text += "  (no newline at end)"
		}
		fmt.Fprintf(&out, "%c%s\n", o.op, text)
	}
	return out.String()
}
