package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"regexp"
	"sort"
	"strings"
)

// FederationMarker is the line RewriteFederation adds under gqlgen's header.
const FederationMarker = "// Rewritten by internal/tools/gqlgenpost: entities are resolved one group after another, on the request's goroutine."

// federationGoroutines are the functions of gqlgen v0.17.98's federation.gotpl
// that start goroutines, each exactly one `go func(…) {…}(…)` in a range loop
// over what it resolves, ending with its WaitGroup's Done:
//
//	__resolve_entities   one per entity type of the batch (when it holds more than one)
//	resolveEntityGroup   one per representation of a type without a multi resolver
//
// The second is what a hostile batch would exploit: thousands of
// representations of an unknown __typename, each its own goroutine.
var federationGoroutines = []string{"__resolve_entities", "resolveEntityGroup"}

// wgDone is the last statement of each goroutine: its WaitGroup's Done.
var wgDone = regexp.MustCompile(`^[a-z]\w*\.Done\(\)$`)

// RewriteFederation returns src, gqlgen's federation plugin output
// (graph/federation.go), with each goroutine of federationGoroutines called
// in place instead: `go func(…) {…}(…)` loses its `go`. The WaitGroup around
// it still balances (Add before the loop, Done in each call, then Wait, which
// returns at once). The entity resolvers read the request's in-memory
// snapshot and never block, so the goroutines only cost; a batch's groups and
// entities are resolved in the order gqlgen ranges over them. Any other go
// statement, one of these in another shape, or one missing fails the run,
// naming what was expected.
func RewriteFederation(name string, src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, []byte(generatedHeader)) {
		return nil, fmt.Errorf("does not start with gqlgen's header %q: not gqlgen's output", strings.TrimSpace(generatedHeader))
	}
	if bytes.Contains(src, []byte(FederationMarker)) {
		return nil, errors.New("already rewritten: run `go generate ./graph/...`, which runs gqlgen generate first")
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	r := &rewriter{fset: fset, src: src}
	found := map[string]int{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		r.federationFunc(fn, found)
	}
	for _, name := range federationGoroutines {
		if found[name] != 1 {
			r.errs = append(r.errs, fmt.Errorf("%d go statements in %s, want 1: gqlgen resolves entities some other way now; update internal/tools/gqlgenpost", found[name], name))
		}
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("gqlgen's federation code is not the shape this rewrite expects (written for gqlgen v0.17.98); the file is left as gqlgen wrote it:\n%w", errors.Join(r.errs...))
	}
	sort.Slice(r.edits, func(i, j int) bool { return r.edits[i].start > r.edits[j].start })
	out := bytes.Clone(src)
	for _, e := range r.edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	out = append([]byte(generatedHeader+FederationMarker+"\n"), out[len(generatedHeader):]...)
	return format.Source(out)
}

// federationFunc checks every go statement of fn and removes the `go` of
// the expected ones, counting them in found.
func (r *rewriter) federationFunc(fn *ast.FuncDecl, found map[string]int) {
	var loops int
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			loops++
			ast.Inspect(n.Body, visit)
			loops--
			return false
		case *ast.GoStmt:
			const want = "`go func(…) { …; wg.Done() }(…)` inside one range loop"
			name := fn.Name.Name
			expected := false
			for _, f := range federationGoroutines {
				expected = expected || f == name
			}
			if !expected {
				r.errorf(n.Pos(), "a go statement in %s: the rewrite expects gqlgen's federation code to start goroutines only in %s", name, strings.Join(federationGoroutines, " and "))
				return true
			}
			lit, ok := n.Call.Fun.(*ast.FuncLit)
			if !ok || loops != 1 || len(lit.Body.List) == 0 || !wgDone.MatchString(r.text(lit.Body.List[len(lit.Body.List)-1])) {
				r.errorf(n.Pos(), "the go statement in %s has changed shape: want %s", name, want)
				return true
			}
			r.edits = append(r.edits, edit{r.offset(n.Pos()), r.offset(n.Call.Pos()), ""})
			found[name]++
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && strings.Contains(sel.Sel.Name, "Concurrently") {
				r.errorf(n.Pos(), "%s.%s: a concurrent call the federation rewrite does not know", r.text(sel.X), sel.Sel.Name)
			}
		}
		return true
	}
	ast.Inspect(fn.Body, visit)
}
