// Package graph is the GraphQL layer: schema, generated code, one-line
// resolvers, the error presenter, the complexity model and the executor's
// setup. It knows nothing of HTTP: internal/endpoint serves it.
package graph

// Resolver is the root resolver. It holds no state: every resolver reads the
// request's loaders (internal/loaders), which internal/endpoint installs.
type Resolver struct{}
