// Package explorer serves a small page that draws each opportunity type's
// pipeline from the GraphQL endpoint, as a front-end would.
package explorer

import "net/http"

// Handler serves the explorer page, which queries endpoint. (Placeholder.)
func Handler(endpoint string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Explorer</title><p>Explorer for " + endpoint + " coming soon.</p>"))
	})
}
