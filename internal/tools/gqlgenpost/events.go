package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strings"
)

// Event names what RewriteEvents looks for: the generated function that
// marshals a subscription's event (Subscription.opportunityConfigChanged's
// OpportunityConfigChange, bound to *live.Change), and the call it ends with.
const (
	eventMarshaler = "marshalNOpportunityConfigChange2"
	eventCall      = "ec._OpportunityConfigChange(ctx, sel, v)"
	// eventShared is what the call becomes: graph's encodedOnce, which
	// makes the call once per change and selection and gives every other
	// subscriber of the change its bytes (graph/events.go).
	eventShared = "encodedOnce(ctx, ec.OperationContext, sel, v, func() graphql.Marshaler { return " + eventCall + " })"
)

// RewriteEvents returns src, gqlgen's generated executor, with the event
// marshaler's call to the object's marshal wrapped in graph's encodedOnce,
// so that the 10 000 subscribers of one change encode it once, not 10 000
// times. It fails, naming what it expected, unless exactly one function
// has the shape gqlgen 0.17.98 generates.
func RewriteEvents(name string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var found []*ast.CallExpr
	var names []string
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, eventMarshaler) {
			continue
		}
		names = append(names, fn.Name.Name)
		stmts := fn.Body.List
		if len(stmts) == 0 {
			continue
		}
		ret, ok := stmts[len(stmts)-1].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		call, ok := ret.Results[0].(*ast.CallExpr)
		if ok && string(src[fset.Position(call.Pos()).Offset:fset.Position(call.End()).Offset]) == eventCall {
			found = append(found, call)
		}
	}
	switch {
	case len(names) == 0:
		return nil, fmt.Errorf("no function %s…: the rewrite expects gqlgen to marshal Subscription.opportunityConfigChanged's event with it", eventMarshaler)
	case len(found) != 1:
		return nil, fmt.Errorf("%d of the functions %v end with `return %s`, want exactly one: gqlgen's generated event marshaler changed shape", len(found), names, eventCall)
	}
	start, end := fset.Position(found[0].Pos()).Offset, fset.Position(found[0].End()).Offset
	out := append(append(append([]byte{}, src[:start]...), eventShared...), src[end:]...)
	if out, err = format.Source(out); err != nil {
		return nil, errors.Join(errors.New("the rewritten event marshaler does not format"), err)
	}
	return out, nil
}
