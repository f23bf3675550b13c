package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
)

// Gateway says which requests may use federation's root fields, _service
// and _entities (SUBGRAPH_MODE); *subgraph.Gate is one.
type Gateway interface {
	// MayFederate: the request may select _service and _entities.
	MayFederate(ctx context.Context) bool
	// MayRunUnlisted: the request may run an operation selecting only
	// those (and __typename) that the trusted documents do not list.
	MayRunUnlisted(ctx context.Context) bool
}

// federationRule names the validation rule that refuses _service and
// _entities while SUBGRAPH_MODE is off; presentError gives its errors the
// FEDERATION_DISABLED code.
const federationRule = "oppconfig/FederationDisabled"

// isFederationField tells the root fields gqlgen's federation plugin adds.
func isFederationField(name string) bool { return name == "_service" || name == "_entities" }

// refusingFederation adds federationRule to the rules of next: with
// SUBGRAPH_MODE off the schema still has the fields (the generated code is
// one), and a client selecting them gets a validation error naming the
// setting, like INTROSPECTION_DISABLED, rather than an answer. A static
// rule is right here: SUBGRAPH_MODE is the process's, and gqlgen caches a
// document with its validation.
func refusingFederation(next func() *rules.Rules) func() *rules.Rules {
	return func() *rules.Rules {
		r := next()
		r.AddRule(federationRule, func(observers *core.Events, addError core.AddErrFunc) {
			reported := map[*ast.Field]bool{}
			observers.OnField(func(w *core.Walker, field *ast.Field) {
				if field.Definition == nil || field.ObjectDefinition != w.Schema.Query || reported[field] || !isFederationField(field.Name) {
					return
				}
				reported[field] = true
				addError(core.At(field.Position), core.Message("%s is for a federation gateway and this server is not a subgraph (SUBGRAPH_MODE is off)", field.Name))
			})
		})
		return r
	}
}

// federationCode returns FEDERATION_DISABLED for an error of
// federationRule, and "" for any other.
func federationCode(err *gqlerror.Error) apierror.Code {
	if err.Rule == federationRule {
		return apierror.FederationDisabled
	}
	return ""
}

// rootFields reports whether op's root selection (fragments followed)
// selects _service or _entities, and whether it selects nothing else but
// __typename.
func rootFields(doc *ast.QueryDocument, op *ast.OperationDefinition) (federation, only bool) {
	only = true
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				switch {
				case isFederationField(s.Name):
					federation = true
				case s.Name != "__typename":
					only = false
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if seen[s.Name] || doc == nil {
					continue
				}
				seen[s.Name] = true
				if f := doc.Fragments.ForName(s.Name); f != nil {
					walk(f.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
	return federation, only
}

// federationGate refuses _service and _entities to a request the gateway
// rules do not let select them (nil: it may), and lets _service answer
// whatever INTROSPECTION says: in SUBGRAPH_MODE the SDL is what the gateway
// composes from, and who may read it is the gateway rules' to say (gqlgen's
// _service refuses while introspection is disabled; __schema and __type are
// still refused by validation).
func (e *Executor) federationGate(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if !e.subgraph || rc.Operation == nil {
		return nil // off: validation refused the fields
	}
	if federation, _ := rootFields(rc.Doc, rc.Operation); !federation {
		return nil
	}
	if e.gateway != nil && !e.gateway.MayFederate(ctx) {
		return apierror.GraphQL(apierror.FederationForbidden, "_service and _entities answer only the federation gateway: send its X-Subgraph-Secret")
	}
	rc.DisableIntrospection = false
	return nil
}

// gatewayDocuments is the trusted-documents extension for a subgraph: the
// manifest's documents, and also, for a request the gateway rules trust
// (Gateway.MayRunUnlisted), a federation operation sent in full, which a
// gateway plans per query so that no manifest could list it.
type gatewayDocuments struct {
	persisted.OnlyListed
	gateway   Gateway
	maxTokens int
}

var _ graphql.OperationParameterMutator = gatewayDocuments{}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (g gatewayDocuments) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	err := g.OnlyListed.MutateOperationParameters(ctx, p)
	if err == nil || persisted.RequestedHash(p) != "" || !g.gateway.MayRunUnlisted(ctx) || !federationOnly(p.Query, g.maxTokens) {
		return err
	}
	return nil
}

// federationOnly reports whether every operation of query selects only
// _service, _entities and __typename at its root, and at least one of the
// first two. It parses the document once more, within the token limit,
// only for a trusted gateway's unlisted documents; gqlgen then parses and
// validates it as any other.
func federationOnly(query string, maxTokens int) bool {
	var doc *ast.QueryDocument
	var err error
	if maxTokens > 0 {
		doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, maxTokens)
	} else {
		doc, err = parser.ParseQuery(&ast.Source{Input: query})
	}
	if err != nil || len(doc.Operations) == 0 {
		return false
	}
	for _, op := range doc.Operations {
		federation, only := rootFields(doc, op)
		if op.Operation != ast.Query || !federation || !only {
			return false
		}
	}
	return true
}
