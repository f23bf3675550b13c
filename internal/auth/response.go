package auth

import (
	"encoding/json"
	"net/http"
)

// CodeUnauthenticated is the extensions.code of a request refused for missing
// or bad credentials. Like the codes in package graph, it is part of the public
// contract.
const CodeUnauthenticated = "UNAUTHENTICATED"

// errorBody is the GraphQL-over-HTTP error shape, so that a client sees a
// refusal made before the GraphQL handler the same way as one made inside it.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Message    string         `json:"message"`
	Extensions errorExtension `json:"extensions"`
}

type errorExtension struct {
	Code string `json:"code"`
}

// WriteError answers status with a GraphQL-shaped JSON body
// {"errors":[{"message":message,"extensions":{"code":code}}]}. Set any extra
// headers (WWW-Authenticate, Retry-After) before calling it. message is shown
// to the client as is: it must never hold a credential.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	// Marshalling strings into fixed structs cannot fail.
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{
		Message:    message,
		Extensions: errorExtension{Code: code},
	}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// A refusal depends on this request's credentials or rate; no cache may
	// replay it to another client.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client hung up; nothing left to tell it
}
