package graph

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// introspectionRule names the validation rule that refuses __schema and
// __type while introspection is off; presentError gives its errors the
// INTROSPECTION_DISABLED code.
const introspectionRule = "oppconfig/IntrospectionDisabled"

// withoutIntrospection adds introspectionRule to the rules of next.
//
// Without it, gqlgen validates __schema and __type (they are fields of every
// query type) and only refuses them when it resolves them, with a resolver
// error: the client saw INTERNAL_SERVER_ERROR beside "data": null, and every
// call wrote an ERROR log line. As a validation error the document is
// refused before execution like any other invalid one (200 with
// application/json, 400 with application/graphql-response+json, no data),
// and nothing is logged but the access line. __typename is not introspection
// of the schema and stays.
func withoutIntrospection(next func() *rules.Rules) func() *rules.Rules {
	return func() *rules.Rules {
		r := next()
		r.AddRule(introspectionRule, func(observers *core.Events, addError core.AddErrFunc) {
			// The walker visits a fragment's fields once per spread and once
			// more for its definition; each field is reported once. The map
			// is this one validation's.
			reported := map[*ast.Field]bool{}
			observers.OnField(func(w *core.Walker, field *ast.Field) {
				if field.Definition == nil || field.ObjectDefinition == nil || field.ObjectDefinition != w.Schema.Query || reported[field] {
					return // not a root field of the query type (other rules report it), or reported
				}
				if field.Name == "__schema" || field.Name == "__type" {
					reported[field] = true
					addError(core.At(field.Position), core.Message("introspection is disabled on this server: %s cannot be queried", field.Name))
				}
			})
		})
		return r
	}
}

// introspectionCode returns INTROSPECTION_DISABLED for an error of
// introspectionRule, and "" for any other.
func introspectionCode(err *gqlerror.Error) apierror.Code {
	if err.Rule == introspectionRule {
		return apierror.IntrospectionDisabled
	}
	return ""
}
