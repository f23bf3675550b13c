package endpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// serve decodes the request and answers its operation, or each of its batch.
func (e *Endpoint) serve(w http.ResponseWriter, q *request) {
	batch, isBatch, err := e.decode(q)
	if err != nil {
		var re *refusal
		if !errors.As(err, &re) {
			re = refuse(apierror.BadRequest, "could not read the request")
		}
		e.refuse(w, q, "", re.code, re.message)
		return
	}
	for _, p := range batch {
		p.Headers = q.r.Header
		// A request must carry a document, or the hash of a persisted one.
		if p.Query == "" && persisted.RequestedHash(p) == "" {
			e.refuse(w, q, "", apierror.BadRequest, "the request has no query")
			return
		}
	}
	if !isBatch {
		e.serveOne(w, q, batch[0])
		return
	}
	h := w.Header()
	h["Content-Type"] = contentTypes[q.media]
	h["Cache-Control"] = noStore
	// A batch answers 200 with one result per operation; each result carries
	// its own errors.
	out := make([]json.RawMessage, len(batch))
	for i, p := range batch {
		_, resp, _ := e.execute(q, p)
		out[i] = marshal(resp)
	}
	w.WriteHeader(http.StatusOK)
	b, _ := json.Marshal(out)
	_, _ = w.Write(b)
}

// serveOne answers a single operation: the stored bytes when the response
// cache has them under the normalised key for the configuration the request
// arrived with, otherwise by executing (and storing a clean result).
func (e *Endpoint) serveOne(w http.ResponseWriter, q *request, p *graphql.RawParams) {
	if q.r.Method == http.MethodGet && !e.isQuery(p) {
		// GET is safe and cacheable, so only queries may use it (the
		// GraphQL-over-HTTP specification: 405 with Allow: POST).
		w.Header().Set("Allow", http.MethodPost)
		e.refuse(w, q, p.OperationName, apierror.MethodNotAllowed, "only queries may be sent with GET; use POST")
		return
	}
	var key string
	if e.opts.Responses != nil && !asksForSchema(p.Query) {
		key = e.responseKey(p)
		if q.version != "" {
			start := time.Now()
			if a, ok := e.opts.Responses.Get(q.version, key); ok {
				e.store(q, q.version, "", a) // remember this spelling too
				e.writeStored(w, q, a.Body, q.version, q.age)
				e.observer.ObserveOperation(q.r.Context(), a.Operation, OutcomeOK, time.Since(start))
				return
			}
		}
	}
	status, resp, name := e.execute(q, p)
	version, age := builtFrom(q.r)
	failed := len(resp.Errors) > 0
	h := w.Header()
	h["Content-Type"] = contentTypes[q.media]
	e.validators.mark(w, q.r, failed, version, age, q.media)
	b := marshal(resp)
	if key != "" && status == http.StatusOK && !failed && version != "" && len(resp.Extensions) == 0 {
		e.store(q, version, key, respcache.Entry{Body: b, Operation: name})
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// builtFrom returns the fresh configuration version a request's answer was
// built from, or "" when it read none or a stale one.
func builtFrom(r *http.Request) (string, time.Duration) {
	l := loaders.For(r.Context())
	if l == nil {
		return "", 0
	}
	res, ok := l.Freshness()
	if !ok || res.Stale {
		return "", 0
	}
	return res.Value.Version(), res.Age
}

// execute runs one operation in a span of its own and reports its outcome.
// It returns the operation's name as execution resolved it.
func (e *Endpoint) execute(q *request, p *graphql.RawParams) (status int, resp *graphql.Response, name string) {
	start := time.Now()
	ctx, span := e.tracer.Start(q.r.Context(), "graphql.operation", trace.WithSpanKind(trace.SpanKindInternal))
	name, outcome := p.OperationName, OutcomeRejected
	defer func() {
		span.SetAttributes(attribute.String("graphql.operation.name", name), attribute.String("graphql.outcome", outcome))
		if outcome != OutcomeOK {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
		e.observer.ObserveOperation(ctx, name, outcome, time.Since(start))
	}()

	if max := e.opts.Limits.MaxQueryBytes; max > 0 && len(p.Query) > max {
		msg := fmt.Sprintf("the query document has %d bytes; the limit is %d", len(p.Query), max)
		return apierror.QueryTooLarge.Status(), &graphql.Response{Errors: gqlerror.List{apierror.GraphQL(apierror.QueryTooLarge, msg)}}, name
	}
	p.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	rc, errs := e.exec.CreateOperationContext(ctx, p)
	if errs != nil {
		// A request that fails to parse or validate: 200 with application/json
		// (legacy clients read the body), 400 with the GraphQL response type.
		status := http.StatusOK
		if q.media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		return status, e.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs), name
	}
	if rc.Operation != nil {
		name = rc.Operation.Name
		opType := string(rc.Operation.Operation)
		span.SetName(strings.TrimSpace(opType + " " + name))
		span.SetAttributes(attribute.String("graphql.operation.type", opType))
	}
	responses, ctx := e.exec.DispatchOperation(ctx, rc)
	resp = responses(ctx)
	outcome = OutcomeOK
	if len(resp.Errors) > 0 {
		outcome = OutcomeError
	}
	return http.StatusOK, resp, name
}

// response is graphql.Response with data left out when there is none: a
// request refused before execution has no data entry at all (the
// GraphQL-over-HTTP specification), while one whose execution nulled the
// root keeps "data": null.
type response struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

func marshal(resp *graphql.Response) []byte {
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Data != nil && !needsEscaping(resp.Data) {
		// The common answer, written as json.Marshal would write it without
		// its second pass over the data: gqlgen's output is already compact.
		b := make([]byte, 0, len(resp.Data)+len(`{"data":}`))
		b = append(b, `{"data":`...)
		b = append(b, resp.Data...)
		return append(b, '}')
	}
	b, err := json.Marshal(response{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions})
	if err != nil {
		// Data is json.RawMessage produced by gqlgen; failing here is a bug, and
		// the message must not carry the data.
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{apierror.GraphQL(apierror.Internal, "internal server error")}})
	}
	return b
}

// needsEscaping reports whether json.Marshal would change data: it escapes
// <, > and & (and U+2028, U+2029: E2 80 A8, E2 80 A9) for HTML safety, where
// gqlgen writes them as they are. A plain loop: bytes.ContainsAny with
// non-ASCII runes in its set decodes every rune of the data.
func needsEscaping(data []byte) bool {
	for i, c := range data {
		switch {
		case c == '<' || c == '>' || c == '&':
			return true
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9):
			return true
		}
	}
	return false
}
