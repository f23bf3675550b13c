// Package graph is the GraphQL layer: schema, generated executor, thin resolvers
// and the handler that serves them.
package graph

// Resolver is the root resolver. It holds no state: every resolver reads the
// per-request loaders installed by internal/loaders' middleware.
type Resolver struct{}
