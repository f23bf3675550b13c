// Package fastpath executes validated GraphQL queries directly over an
// opportunity.Snapshot, writing the response's data as JSON byte for byte as
// gqlgen's executor would, without its per-field goroutines, contexts and
// intermediate tree. gqlgen stays the parser, validator, complexity checker,
// introspection and reference executor: Compile plans an operation it has
// already validated, once; Execute runs the plan for one snapshot and one set
// of variables.
package fastpath

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// ErrUnsupported is returned by Compile for an operation the fast path does
// not execute (introspection: __schema, __type; a mutation or subscription;
// anything not covered); the caller executes it with gqlgen.
var ErrUnsupported = errors.New("fastpath: operation not supported")

// maxConditions bounds the distinct variables an operation's @skip and
// @include read. The key order of a response depends on which fields those
// directives keep (GraphQL merges fields at their first occurrence), so a plan
// holds one compiled selection tree per combination of their values: 2^n
// compiled eagerly, 3^n slots (a value may also be absent or not a Boolean).
// Six give 64 trees and 729 slots; real front-ends use one or two.
const maxConditions = 6

// Plan is a compiled operation. It is immutable once Compile returns (the
// trees for variables that are not Booleans, which gqlgen answers with an
// error, are compiled on first use and published atomically) and safe for
// concurrent use.
type Plan struct {
	conds []condition
	// trees holds one root selection per combination of the conditions'
	// states, indexed in base 3 (see index).
	trees []atomic.Pointer[object]
	// c compiles the trees for a combination with an invalid condition.
	c *compiler
	// costOnly marks a plan made by CompileCost; with more conditions than
	// maxConditions its trees are nil and compiled per call.
	costOnly bool
	// readsVariables: an argument or a condition reads a variable, so the
	// answer (and its cost) may differ with the variables.
	readsVariables bool
	// mayNeedReference: ExecuteContext may answer ErrNeedsReference.
	mayNeedReference bool
}

// MayNeedReference reports whether ExecuteContext can return
// ErrNeedsReference for this operation (it selects a field whose resolver
// fails on an unknown stage or type), so that the caller can budget for
// gqlgen executing it.
func (p *Plan) MayNeedReference() bool { return p.mayNeedReference }

// ReadsVariables reports whether the operation's answer can depend on its
// variables (an argument or an @skip/@include condition reads one); when
// not, its answer and its Cost on one snapshot are always the same.
func (p *Plan) ReadsVariables() bool { return p.readsVariables }

// Compile plans operation operationName ("" = the only one) of doc, which
// gqlgen has already parsed and validated against schema
// (graph.NewExecutableSchema(...).Schema()). It returns an error wrapping
// ErrUnsupported (test it with errors.Is; the message says what is not
// supported) for an operation the fast path leaves to gqlgen, and another
// error when the document has no such operation. Compiling costs more than
// executing: plan a document once and keep the plan.
func Compile(schema *ast.Schema, doc *ast.QueryDocument, operationName string) (*Plan, error) {
	return compile(schema, doc, operationName, false)
}

// CompileCost plans an operation for Cost alone, covering what Compile leaves
// to gqlgen but can still be counted over a snapshot: introspection fields
// beside data fields (counted as nothing), directives other than @skip and
// @include such as @defer (their selections counted as if inline), and more
// @skip/@include variables than Compile plans (the tree for each request's
// values is then compiled by each Cost call). Its plan must not be
// executed; Execute panics.
func CompileCost(schema *ast.Schema, doc *ast.QueryDocument, operationName string) (*Plan, error) {
	return compile(schema, doc, operationName, true)
}

func compile(schema *ast.Schema, doc *ast.QueryDocument, operationName string, forCost bool) (*Plan, error) {
	if schema == nil || doc == nil {
		return nil, errors.New("fastpath: compile: schema and document are required")
	}
	op := doc.Operations.ForName(operationName)
	if op == nil {
		return nil, fmt.Errorf("fastpath: compile: the document has no operation %q", operationName)
	}
	if op.Operation != ast.Query {
		return nil, fmt.Errorf("%w: a %s", ErrUnsupported, op.Operation)
	}
	if schema.Query == nil || schema.Query.Name != "Query" {
		return nil, fmt.Errorf("%w: the schema's query type is not Query", ErrUnsupported)
	}
	ch := newChecker(schema, doc)
	ch.forCost = forCost
	if err := ch.selectionSet(op.SelectionSet, schema.Query.Name); err != nil {
		return nil, err
	}
	c := &compiler{schema: schema, doc: doc, op: op, conds: ch.conds}
	if forCost {
		p := &Plan{conds: ch.conds, c: c, costOnly: true, readsVariables: ch.readsVariables || len(ch.conds) > 0}
		if len(ch.conds) > maxConditions {
			return p, nil // trees compiled per call (see tree)
		}
		p.trees = make([]atomic.Pointer[object], pow3(len(ch.conds)))
		p.compileBoolean()
		return p, nil
	}
	if len(ch.conds) > maxConditions {
		return nil, fmt.Errorf("%w: @skip/@include read %d variables; at most %d are planned", ErrUnsupported, len(ch.conds), maxConditions)
	}
	p := &Plan{
		conds:            ch.conds,
		trees:            make([]atomic.Pointer[object], pow3(len(ch.conds))),
		c:                c,
		readsVariables:   ch.readsVariables || len(ch.conds) > 0,
		mayNeedReference: ch.mayNeedReference,
	}
	p.compileBoolean()
	return p, nil
}

// compileBoolean compiles the tree of every combination of Boolean values,
// now: those are what validated variables hold, and Execute must not compile
// (allocate) on its path.
func (p *Plan) compileBoolean() {
	states := make([]state, len(p.conds))
	for bits := range 1 << len(p.conds) {
		for i := range states {
			states[i] = state(bits >> i & 1)
		}
		p.trees[index(states)].Store(p.c.root(states))
	}
}

// Execute appends to dst the JSON of the response's "data" object for snap
// and vars (the coerced variables, as gqlgen's
// graphql.OperationContext.Variables holds them), byte for byte what gqlgen's
// executor produces as graphql.Response.Data for the same operation,
// snapshot and variables. snap must not be nil.
//
// Where gqlgen would also report errors (an argument variable gqlgen cannot
// read as an Int, such as a float64; a nil element in one of the snapshot's
// lists; a null @skip/@include variable) the data is still gqlgen's, nulls
// propagated to the nearest nullable field; the errors themselves are not
// reported. The one place gqlgen has no data to match is a null
// @skip/@include variable read by the root selection, where its executor
// panics: Execute writes null there. Where an answer holds an error only
// gqlgen reports (ErrNeedsReference: an unknown stage for moves, say),
// Execute returns dst as it was; ExecuteContext tells it apart.
func (p *Plan) Execute(dst []byte, snap *opportunity.Snapshot, vars map[string]any) []byte {
	out, _ := p.ExecuteContext(context.Background(), dst, snap, vars)
	return out
}

// ExecuteContext is Execute stopping early when ctx is done (its deadline
// passed, its client gone): each list checks at every element, and ctx's
// error is returned with output that must be discarded. Where the answer
// holds an error only gqlgen reports it stops too, and returns dst as it was
// with ErrNeedsReference: the caller executes the operation with gqlgen.
func (p *Plan) ExecuteContext(ctx context.Context, dst []byte, snap *opportunity.Snapshot, vars map[string]any) ([]byte, error) {
	if p.costOnly {
		panic("fastpath: Execute on a plan made by CompileCost")
	}
	root := p.tree(vars)
	start := len(dst)
	r := run{snap: snap, vars: vars, done: ctx.Done()}
	dst, ok := r.query(dst, root)
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	if r.reference {
		return dst[:start], ErrNeedsReference
	}
	if !ok {
		// A non-null root field is null, or the root selection itself could
		// not be collected: the whole data is null.
		dst = append(dst[:start], "null"...)
	}
	return dst, ctx.Err()
}

// tree returns the root selection for the conditions' values in vars.
func (p *Plan) tree(vars map[string]any) *object {
	if p.trees == nil {
		states := make([]state, len(p.conds))
		for k := range states {
			states[k] = p.conds[k].state(vars)
		}
		return p.c.root(states)
	}
	if len(p.conds) == 0 {
		return p.trees[0].Load()
	}
	i, invalid := 0, false
	for k := len(p.conds) - 1; k >= 0; k-- {
		s := p.conds[k].state(vars)
		invalid = invalid || s == stateInvalid
		i = i*3 + int(s)
	}
	slot := &p.trees[i]
	if t := slot.Load(); t != nil {
		return t
	}
	if !invalid {
		panic("fastpath: a tree for Boolean conditions was not compiled") // Compile stores them all
	}
	states := make([]state, len(p.conds))
	for k := range states {
		states[k] = p.conds[k].state(vars)
	}
	slot.CompareAndSwap(nil, p.c.root(states))
	return slot.Load()
}

// index is the slot of a combination of states: base 3, condition 0 the
// least significant digit.
func index(states []state) int {
	i := 0
	for k := len(states) - 1; k >= 0; k-- {
		i = i*3 + int(states[k])
	}
	return i
}

func pow3(n int) int {
	p := 1
	for range n {
		p *= 3
	}
	return p
}
