// Package graph is the GraphQL layer: schema, generated code, one-line
// resolvers, the error presenter, the complexity model and the executor's
// setup. It knows nothing of HTTP: internal/endpoint serves it.
package graph

import "github.com/oppconfig/oppconfig-graphql/internal/live"

// `go generate ./graph/...` regenerates generated.go, federation.go and the
// resolvers' stubs from schema/*.graphqls (gqlgen finds ../gqlgen.yml), then
// makes its lists, resolver fields and federation entities run sequentially
// (internal/tools/gqlgenpost, over sequential.go). CI runs the same step and
// fails when it changes anything.
//go:generate go run github.com/99designs/gqlgen generate
//go:generate go run github.com/oppconfig/oppconfig-graphql/internal/tools/gqlgenpost -federation federation.go generated.go

// Resolver is the root resolver, the one place dependencies are injected.
// Query resolvers read the request's loaders (internal/loaders), which
// internal/endpoint installs; the subscription reads Live.
type Resolver struct {
	// Live is the feed of configuration changes; nil refuses subscriptions.
	Live *live.Feed
}
