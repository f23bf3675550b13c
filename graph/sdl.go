package graph

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// SDL returns the executable schema printed as SDL, descriptions included: what
// GET /graphql/schema.graphql serves and what schema.graphql at the
// repository root snapshots. Printed once; the schema is fixed at build time.
//
// It is the clients' schema: without the federation plugin's plumbing
// (_service, _entities and its types are built-in sources, which the
// formatter leaves out; the @link and @key they apply are left out here), so
// that every GraphQL tool reads it without knowing federation. A gateway
// reads the subgraph's schema from _service { sdl } instead.
var SDL = sync.OnceValue(func() string {
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithComments()).FormatSchema(
		clientSchema(NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()))
	return b.String()
})

// federationSource is the built-in source in which gqlgen's federation
// plugin declares its directives (@key, @link, …).
const federationSource = "../federation/directives.graphql"

// clientSchema returns a copy of s without the directives of
// federationSource applied to the schema or its types. s itself is the
// executor's and is not changed.
func clientSchema(s *ast.Schema) *ast.Schema {
	federation := func(d *ast.Directive) bool {
		def := s.Directives[d.Name]
		return def != nil && def.Position != nil && def.Position.Src != nil && def.Position.Src.Name == federationSource
	}
	c := *s
	c.SchemaDirectives = slices.DeleteFunc(slices.Clone(s.SchemaDirectives), federation)
	c.Types = maps.Clone(s.Types)
	for name, def := range s.Types {
		if !slices.ContainsFunc(def.Directives, federation) {
			continue
		}
		d := *def
		d.Directives = slices.DeleteFunc(slices.Clone(def.Directives), federation)
		c.Types[name] = &d
	}
	return &c
}
