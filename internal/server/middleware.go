package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// recoverer answers 500 to a panic anywhere on the path, with a GraphQL-shaped
// body like every other refusal, and logs the panic's type and stack, never
// its value: chi's Recoverer prints the value, which could hold a credential.
// Resolver panics never reach it: gqlgen's executor recovers them (graph's
// recover function) into an INTERNAL_SERVER_ERROR inside the response.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // the server's own signal to drop the connection
				}
				logger.ErrorContext(r.Context(), "panic in handler",
					"type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
				apierror.Write(w, "", apierror.Internal, "internal server error")
			}()
			next.ServeHTTP(w, r)
		})
	}
}
