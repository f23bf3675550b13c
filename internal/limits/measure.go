package limits

import (
	"fmt"
	"math"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// saturate caps counts so that fragments spread exponentially many times
// cannot overflow an int; any value at the cap is over every limit.
const saturate = math.MaxInt32

func add(a, b int) int {
	if a+b > saturate || a+b < 0 {
		return saturate
	}
	return a + b
}

func atLeast(n, limit int) string {
	if n >= saturate {
		return fmt.Sprintf("more than %d", limit)
	}
	return fmt.Sprint(n)
}

// shape is what a selection set costs: its deepest field nesting and its
// aliases, with fragments expanded.
type shape struct {
	depth, aliases int
}

// measure walks selection sets, expanding fragment spreads. Each fragment is
// measured once; a fragment met again while being measured is a cycle, which
// gqlparser's NoFragmentCycles reports, so here it adds nothing.
type measure struct {
	fragments map[string]*ast.FragmentDefinition
	memo      map[string]shape
	rootMemo  map[string]int
	visiting  map[string]bool
}

func newMeasure(defs ast.FragmentDefinitionList) *measure {
	m := &measure{
		fragments: make(map[string]*ast.FragmentDefinition, len(defs)),
		memo:      map[string]shape{},
		rootMemo:  map[string]int{},
		visiting:  map[string]bool{},
	}
	for _, f := range defs {
		if _, dup := m.fragments[f.Name]; !dup {
			m.fragments[f.Name] = f
		}
	}
	return m
}

func (m *measure) selectionSet(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		var s shape
		switch sel := sel.(type) {
		case *ast.Field:
			// Introspection is bounded by gqlparser's MaxIntrospectionDepth rule
			// and is what GraphiQL and code generators send; it is not counted.
			if strings.HasPrefix(sel.Name, "__") && len(sel.SelectionSet) > 0 {
				continue
			}
			child := m.selectionSet(sel.SelectionSet)
			s.depth = add(child.depth, 1)
			s.aliases = child.aliases
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases = add(s.aliases, 1)
			}
		case *ast.InlineFragment:
			s = m.selectionSet(sel.SelectionSet)
		case *ast.FragmentSpread:
			s = m.fragment(sel.Name)
		}
		out.depth = max(out.depth, s.depth)
		out.aliases = add(out.aliases, s.aliases)
	}
	return out
}

func (m *measure) fragment(name string) shape {
	if s, ok := m.memo[name]; ok {
		return s
	}
	def := m.fragments[name]
	if def == nil {
		return shape{} // KnownFragmentNames reports it
	}
	if m.visiting[name] {
		return shape{}
	}
	m.visiting[name] = true
	s := m.selectionSet(def.SelectionSet)
	delete(m.visiting, name)
	m.memo[name] = s
	return s
}

// rootFields counts the fields an operation selects at its root, through
// fragments, each spread counted every time it is spread (memoised per fragment).
func (m *measure) rootFields(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			n = add(n, 1)
		case *ast.InlineFragment:
			n = add(n, m.rootFields(sel.SelectionSet))
		case *ast.FragmentSpread:
			n = add(n, m.fragmentRootFields(sel.Name))
		}
	}
	return n
}

func (m *measure) fragmentRootFields(name string) int {
	if n, ok := m.rootMemo[name]; ok {
		return n
	}
	def := m.fragments[name]
	if def == nil {
		return 0
	}
	if m.visiting[name] {
		return 0
	}
	m.visiting[name] = true
	n := m.rootFields(def.SelectionSet)
	delete(m.visiting, name)
	m.rootMemo[name] = n
	return n
}
