package graph

import (
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/formatter"
)

// SDL returns the executable schema printed as SDL, descriptions included: what
// GET /graphql/schema.graphql serves and what schema.graphql at the
// repository root snapshots. Printed once; the schema is fixed at build time.
var SDL = sync.OnceValue(func() string {
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithComments()).FormatSchema(
		NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema())
	return b.String()
})
