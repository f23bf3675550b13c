package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// recoverer answers 500 to a panicking handler and logs the panic's type and
// stack, never its value: chi's Recoverer prints the value, which could hold a
// credential.
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
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// deadline bounds a request's context. Unlike http.TimeoutHandler it does not
// buffer the response: the GraphQL layer sees the deadline through its context
// (an upstream wait ends with REQUEST_CANCELLED) and answers itself.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
