// Package limits bounds what one GraphQL request may ask for: document size,
// tokens, depth, aliases, root fields, directives, JSON nesting, so that a
// hostile request is refused in bounded time and memory before it runs.
package limits

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// Limits are the request bounds; zero disables a bound. The values the
// service runs with, and their documented defaults, come from configuration
// (MAX_QUERY_BYTES … MAX_RESPONSE_BYTES in config.Variables), not from here.
type Limits struct {
	MaxQueryBytes int // characters of the document, checked before parsing
	MaxTokens     int // parser tokens; bounds parse and validation work
	MaxDepth      int // field nesting of an operation, fragments expanded
	MaxAliases    int // aliased fields of an operation, fragments expanded
	MaxRootFields int // fields at the root of an operation
	MaxDirectives int // directives in the whole document
	MaxJSONDepth  int // nesting of the request's JSON (variables, extensions)
	// MaxCostFactor bounds the values of an answer, counted before
	// execution on the snapshot it will read, as a multiple of the whole
	// configuration served once (graph.Executor; at least MinCost).
	MaxCostFactor int
	// MaxResponseBytes bounds the bytes of an answer, counted the same way.
	MaxResponseBytes int
}

// WholeUnits are the units of an execution's weight for rate limiting: a
// thousandth of the whole configuration served once. An execution weighs
// its counted answer in them (graph.Executor), so a budget reads the same on
// any configuration: 1000 is one answer the size of everything.
const WholeUnits = 1000

// MinCost is the least value budget MaxCostFactor gives, so that a nearly
// empty configuration still answers ordinary operations (the demo
// configuration served once holds about 1 800 values).
const MinCost = 1000

// Names of our validation rules; the codes clients see are apierror's.
const (
	ruleDepth             = "oppconfig/MaxDepth"
	ruleAliases           = "oppconfig/MaxAliases"
	ruleRootFields        = "oppconfig/MaxRootFields"
	ruleDirectives        = "oppconfig/MaxDirectives"
	tokenLimitMessageHead = "exceeded token limit"
)

// ruleCodes maps our validation rules to their codes; gqlgen stamps every
// validation error GRAPHQL_VALIDATION_FAILED, and Code undoes that for ours.
var ruleCodes = map[string]apierror.Code{
	ruleDepth:      apierror.MaxDepthExceeded,
	ruleAliases:    apierror.MaxAliasesExceeded,
	ruleRootFields: apierror.MaxRootFieldsExceeded,
	ruleDirectives: apierror.MaxDirectivesExceeded,
}

// Code returns the limit code of an error made by these limits (or by the
// parser's token limit), and "" for any other error.
func Code(err *gqlerror.Error) apierror.Code {
	if code, ok := ruleCodes[err.Rule]; ok {
		return code
	}
	if len(err.Message) >= len(tokenLimitMessageHead) && err.Message[:len(tokenLimitMessageHead)] == tokenLimitMessageHead {
		return apierror.MaxTokensExceeded
	}
	return ""
}

// Rules returns gqlparser's default rules plus ours, for gqlgen's
// executor.SetDefaultRulesFn. The counts run in one pass over each operation,
// with each fragment measured once (memoised), so a document of fragments that
// spread each other many times costs linear time, not exponential.
func (l Limits) Rules() func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		// Not a bound that may be lifted: the spec's Int (intrange.go).
		r.AddRule(ruleIntRange, intRangeRule)
		if l.MaxDepth > 0 || l.MaxAliases > 0 || l.MaxRootFields > 0 {
			r.AddRule("oppconfig/OperationLimits", l.operationRule)
		}
		if l.MaxDirectives > 0 {
			r.AddRule(ruleDirectives, l.directiveRule)
		}
		return r
	}
}

// rule marks an error with the bound it reports, so that Code can name it.
func rule(name string) core.ErrorOption {
	return func(err *gqlerror.Error) { err.Rule = name }
}

// operationRule measures each operation once and reports each bound it exceeds.
func (l Limits) operationRule(observers *core.Events, addError core.AddErrFunc) {
	observers.OnOperation(func(w *core.Walker, op *ast.OperationDefinition) {
		m := newMeasure(w.Document.Fragments)
		s := m.selectionSet(op.SelectionSet)
		if l.MaxDepth > 0 && s.depth > l.MaxDepth {
			addError(rule(ruleDepth), core.At(op.Position),
				core.Message("operation is nested %s levels deep; the limit is %d", atLeast(s.depth, l.MaxDepth), l.MaxDepth))
		}
		if l.MaxAliases > 0 && s.aliases > l.MaxAliases {
			addError(rule(ruleAliases), core.At(op.Position),
				core.Message("operation has %s aliases; the limit is %d", atLeast(s.aliases, l.MaxAliases), l.MaxAliases))
		}
		if n := m.rootFields(op.SelectionSet); l.MaxRootFields > 0 && n > l.MaxRootFields {
			addError(rule(ruleRootFields), core.At(op.Position),
				core.Message("operation has %s root fields; the limit is %d", atLeast(n, l.MaxRootFields), l.MaxRootFields))
		}
	})
}

// directiveRule counts every directive the walker visits, and reports once.
func (l Limits) directiveRule(observers *core.Events, addError core.AddErrFunc) {
	n, reported := 0, false
	observers.OnDirective(func(_ *core.Walker, d *ast.Directive) {
		n++
		if n > l.MaxDirectives && !reported {
			reported = true
			addError(core.At(d.Position), core.Message("document has more than %d directives", l.MaxDirectives))
		}
	})
}
