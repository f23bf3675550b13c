// Package playground serves the GraphiQL playground page.
package playground

import (
	"net/http"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// Options configures the page.
type Options struct {
	Title    string // page title
	Endpoint string // GraphQL endpoint path, e.g. /query
}

// Handler serves the playground. (Placeholder: gqlgen's CDN-loaded GraphiQL;
// to be replaced by assets embedded in the binary.)
func Handler(opts Options) http.Handler {
	return gqlplayground.Handler(opts.Title, opts.Endpoint)
}
