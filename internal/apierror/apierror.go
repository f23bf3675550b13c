// Package apierror is the service's one error vocabulary: every
// extensions.code a client can see, with the HTTP status it travels with, and
// the one writer every refusal made outside GraphQL execution uses (auth, rate
// limit, cross-origin, the endpoint's transport, panics anywhere on the path).
package apierror

import (
	"encoding/json"
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Code is an extensions.code value. The codes are part of the public contract:
// the README's error table lists exactly the ones declared here (a test checks).
type Code string

// When a code is given: refused before execution with its own HTTP status, or
// carried inside a GraphQL response.
type Phase int

const (
	// Refusal: the request is refused before any GraphQL work, with Status and
	// no data entry.
	Refusal Phase = iota
	// Document: the document failed to parse, validate or pass a bound. 200
	// with application/json (legacy clients read the body), 400 with
	// application/graphql-response+json, as the GraphQL-over-HTTP spec asks.
	Document
	// Field: a field could not be resolved; the response is 200 with the
	// error beside whatever data could be served.
	Field
)

// Request refusals, before any GraphQL work.
const (
	BadRequest           Code = "BAD_REQUEST"
	BodyTooLarge         Code = "BODY_TOO_LARGE"
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	MethodNotAllowed     Code = "METHOD_NOT_ALLOWED"
	BatchingDisabled     Code = "BATCHING_DISABLED"
	BatchTooLarge        Code = "BATCH_TOO_LARGE"
	JSONTooDeep          Code = "JSON_TOO_DEEP"
	QueryTooLarge        Code = "QUERY_TOO_LARGE"
	Unauthenticated      Code = "UNAUTHENTICATED"
	RateLimited          Code = "RATE_LIMITED"
	CrossOriginRefused   Code = "CROSS_ORIGIN_REFUSED"
	// Internal is a bug: refused with 500 when it happens outside execution
	// (a panic in a middleware), carried in the response when a resolver
	// fails. Details are logged, never shown.
	Internal Code = "INTERNAL_SERVER_ERROR"
	// Overloaded: the executions running hold the memory this one needs
	// (EXECUTION_MEMORY); 503 with Retry-After.
	Overloaded Code = "OVERLOADED"
)

// Document errors: the document is refused by the parser, the validator or a bound.
const (
	ParseFailed           Code = "GRAPHQL_PARSE_FAILED"      // gqlgen's own code
	ValidationFailed      Code = "GRAPHQL_VALIDATION_FAILED" // gqlgen's own code
	MaxTokensExceeded     Code = "MAX_TOKENS_EXCEEDED"
	MaxDepthExceeded      Code = "MAX_DEPTH_EXCEEDED"
	MaxAliasesExceeded    Code = "MAX_ALIASES_EXCEEDED"
	MaxRootFieldsExceeded Code = "MAX_ROOT_FIELDS_EXCEEDED"
	MaxDirectivesExceeded Code = "MAX_DIRECTIVES_EXCEEDED"
	CostLimitExceeded     Code = "COST_LIMIT_EXCEEDED"
	ResponseTooLarge      Code = "RESPONSE_TOO_LARGE"
	// PersistedQueryNotFound is gqlgen's APQ code, so that clients which fall
	// back to sending the document do so here too.
	PersistedQueryNotFound   Code = "PERSISTED_QUERY_NOT_FOUND"
	PersistedQueryNotAllowed Code = "PERSISTED_QUERY_NOT_ALLOWED"
	// IntrospectionDisabled refuses __schema and __type while INTROSPECTION
	// is off, as a validation error: a client's mistake, not the server's.
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"
	// FederationDisabled refuses federation's _service and _entities while
	// SUBGRAPH_MODE is off, as a validation error.
	FederationDisabled Code = "FEDERATION_DISABLED"
	// FederationForbidden refuses _service and _entities to a request
	// without the gateway's SUBGRAPH_SECRET when one is configured.
	FederationForbidden Code = "FEDERATION_FORBIDDEN"
)

// Field errors: the configuration could not be had.
const (
	UpstreamUnavailable Code = "UPSTREAM_UNAVAILABLE"
	UpstreamRejected    Code = "UPSTREAM_REJECTED"
	UpstreamBadResponse Code = "UPSTREAM_BAD_RESPONSE"
	RequestCancelled    Code = "REQUEST_CANCELLED"
)

// Field errors: an argument names what the configuration does not have.
const (
	// TypeNotFound: validateOpportunity's typeId is no type's.
	TypeNotFound Code = "TYPE_NOT_FOUND"
	// StageNotFound: a stage id argument (moves' from, formSchema's and
	// validateOpportunity's stageId) is no stage of the type.
	StageNotFound Code = "STAGE_NOT_FOUND"
)

// Entry describes one code: when it is given and with which HTTP status.
type Entry struct {
	Code  Code
	Phase Phase
	// Status is the HTTP status of a Refusal; for Document and Field codes
	// it is the status with application/json (see Phase).
	Status int
}

// entries is the table of every code. It is read-only: Codes hands out a copy.
var entries = []Entry{
	{BadRequest, Refusal, http.StatusBadRequest},
	{BodyTooLarge, Refusal, http.StatusRequestEntityTooLarge},
	{UnsupportedMediaType, Refusal, http.StatusUnsupportedMediaType},
	{MethodNotAllowed, Refusal, http.StatusMethodNotAllowed},
	{BatchingDisabled, Refusal, http.StatusBadRequest},
	{BatchTooLarge, Refusal, http.StatusBadRequest},
	{JSONTooDeep, Refusal, http.StatusBadRequest},
	{QueryTooLarge, Refusal, http.StatusBadRequest},
	{Unauthenticated, Refusal, http.StatusUnauthorized},
	{RateLimited, Refusal, http.StatusTooManyRequests},
	{CrossOriginRefused, Refusal, http.StatusForbidden},
	{Internal, Refusal, http.StatusInternalServerError},
	{Overloaded, Refusal, http.StatusServiceUnavailable},

	{ParseFailed, Document, http.StatusOK},
	{ValidationFailed, Document, http.StatusOK},
	{MaxTokensExceeded, Document, http.StatusOK},
	{MaxDepthExceeded, Document, http.StatusOK},
	{MaxAliasesExceeded, Document, http.StatusOK},
	{MaxRootFieldsExceeded, Document, http.StatusOK},
	{MaxDirectivesExceeded, Document, http.StatusOK},
	{CostLimitExceeded, Document, http.StatusOK},
	{ResponseTooLarge, Document, http.StatusOK},
	{PersistedQueryNotFound, Document, http.StatusOK},
	{PersistedQueryNotAllowed, Document, http.StatusOK},
	{IntrospectionDisabled, Document, http.StatusOK},
	{FederationDisabled, Document, http.StatusOK},
	{FederationForbidden, Document, http.StatusOK},

	{UpstreamUnavailable, Field, http.StatusOK},
	{UpstreamRejected, Field, http.StatusOK},
	{UpstreamBadResponse, Field, http.StatusOK},
	{RequestCancelled, Field, http.StatusOK},
	{TypeNotFound, Field, http.StatusOK},
	{StageNotFound, Field, http.StatusOK},
}

// Codes returns every code the service declares, in the README's order.
func Codes() []Entry { return append([]Entry(nil), entries...) }

// Status is the HTTP status a Refusal with code is written with; 500 for a
// code that is not a refusal (a bug in the caller).
func (c Code) Status() int {
	for _, e := range entries {
		if e.Code == c && e.Phase == Refusal {
			return e.Status
		}
	}
	return http.StatusInternalServerError
}

// GraphQL returns the error as a GraphQL error carrying the code.
func GraphQL(code Code, message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": string(code)}}
}

// Write answers a refusal: code's status and a GraphQL-shaped JSON body
// {"errors":[{"message":message,"extensions":{"code":code}}]} with no data
// entry. media is the negotiated response type (the endpoint's), written with
// its charset; "" means plain application/json, what refusals made before
// the endpoint (auth, rate limit, cross-origin, panics) answer. Set any extra headers (Allow,
// WWW-Authenticate, Retry-After) before calling it. message is shown to the
// client as is: it must never hold a credential or echo the request.
func Write(w http.ResponseWriter, media string, code Code, message string) {
	contentType := "application/json"
	if media != "" {
		contentType = media + "; charset=utf-8"
	}
	// Marshalling strings into fixed structs cannot fail.
	body, _ := json.Marshal(refusal{Errors: []*gqlerror.Error{GraphQL(code, message)}})
	h := w.Header()
	h.Set("Content-Type", contentType)
	// A refusal depends on this request (its credentials, rate, body); no
	// cache may replay it to another client.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code.Status())
	_, _ = w.Write(body) // the client hung up; nothing left to tell it
}

type refusal struct {
	Errors []*gqlerror.Error `json:"errors"`
}
