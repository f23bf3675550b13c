package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// Request-level error codes, for requests refused before any GraphQL work.
const (
	CodeBadRequest           = "BAD_REQUEST"
	CodeBodyTooLarge         = "BODY_TOO_LARGE"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodeBatchingDisabled     = "BATCHING_DISABLED"
	CodeBatchTooLarge        = "BATCH_TOO_LARGE"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
)

// Media types of the GraphQL-over-HTTP specification.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport replaces gqlgen's GET and POST transports. gqlgen's POST
// decoder echoes the whole request body in its error message, has no size,
// nesting or batch bounds, and answers validation errors with 422; this one
// bounds everything before parsing, never echoes input, and uses the status
// codes of the GraphQL-over-HTTP specification.
type httpTransport struct {
	maxBodyBytes int64
	maxBatch     int // 0: batched requests are refused
	limits       limits.Limits
	observe      func(ctx context.Context, operation, outcome string, d time.Duration)
	tracer       trace.Tracer
	cache        *HTTPCache       // nil: no HTTP caching
	responses    *respcache.Cache // nil: every operation executes
	current      currentFunc
	bodies       *sync.Pool // of *bytes.Buffer, for Stored's request keys
	// exactDocuments keys answers by the document's exact text, not its
	// tokens: with trusted documents only the listed text may be answered,
	// and another spelling is another, unlisted document.
	exactDocuments bool
}

// Outcomes reported to Options.Observe.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"        // executed; the response has errors
	OutcomeRejected    = "rejected"     // refused before execution
	OutcomeNotModified = "not_modified" // a GET answered 304 from its ETag
)

var _ graphql.Transport = httpTransport{}

// Supports implements graphql.Transport; the router mounts only GET and POST.
func (t httpTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

// requestError is a request refused before execution.
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

func badRequest(code, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// Do implements graphql.Transport.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMediaType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")

	var (
		batch   []*graphql.RawParams
		isBatch bool
		err     error
	)
	if r.Method == http.MethodGet {
		var p *graphql.RawParams
		p, err = t.decodeGET(r)
		batch = []*graphql.RawParams{p}
	} else {
		batch, isBatch, err = t.decodePOST(w, r)
	}
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			re = badRequest(CodeBadRequest, "could not read the request")
		}
		t.refuse(w, r, "", re)
		return
	}
	for _, p := range batch {
		p.Headers = r.Header
		// A request must carry a document, or the hash of a persisted one.
		if p.Query == "" && persisted.RequestedHash(p) == "" {
			t.refuse(w, r, "", badRequest(CodeBadRequest, "the request has no query"))
			return
		}
	}

	if !isBatch {
		t.serveOne(w, r, exec, batch[0], media)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	// A batch answers 200 with one result per operation; each result carries
	// its own errors.
	out := make([]json.RawMessage, len(batch))
	for i, p := range batch {
		_, resp, _ := t.execute(r, exec, p, media)
		out[i] = marshal(resp)
	}
	w.WriteHeader(http.StatusOK)
	b, _ := json.Marshal(out)
	_, _ = w.Write(b)
}

// serveOne answers a single operation: 304 when the client's ETag is
// current, the stored bytes when the response cache has them for the current
// configuration, otherwise by executing (and storing a clean result).
func (t httpTransport) serveOne(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, p *graphql.RawParams, media string) {
	if r.Method == http.MethodGet && !t.isQuery(p) {
		// GET is safe and cacheable, so only queries may use it (the
		// GraphQL-over-HTTP specification: 405 with Allow: POST).
		w.Header().Set("Allow", http.MethodPost)
		t.refuse(w, r, p.OperationName, &requestError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
			message: "only queries may be sent with GET; use POST"})
		return
	}
	if version, age, ok := t.current(); ok && t.cache.notModified(w, r, media, version, age) {
		t.observe(r.Context(), p.OperationName, OutcomeNotModified, 0)
		return
	}
	var key string
	if t.responses != nil && !asksForSchema(p.Query) {
		key = t.responseKey(p)
		if version, age, ok := t.current(); ok {
			start := time.Now()
			if e, ok := t.responses.Get(version, key); ok {
				t.storeAnswer(r, version, "", e) // remember this spelling too
				t.writeStored(w, r, e.Body, media, version, age)
				t.observe(r.Context(), e.Operation, OutcomeOK, time.Since(start))
				return
			}
		}
	}
	status, resp, name := t.execute(r, exec, p, media)
	version, age := builtFrom(r)
	failed := len(resp.Errors) > 0
	t.cache.mark(w, r, failed, version, age, media)
	b := marshal(resp)
	if key != "" && status == http.StatusOK && !failed && version != "" && len(resp.Extensions) == 0 {
		t.storeAnswer(r, version, key, respcache.Entry{Body: b, Operation: name})
	}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// refuse answers a request turned away before execution, with no data entry.
func (t httpTransport) refuse(w http.ResponseWriter, r *http.Request, operation string, e *requestError) {
	t.observe(r.Context(), operation, OutcomeRejected, 0)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	writeResponse(w, &graphql.Response{Errors: gqlerror.List{{Message: e.message, Extensions: map[string]any{"code": e.code}}}})
}

// isQuery reports whether the operation a GET names is a query. Only a
// document that mentions mutation or subscription is parsed for it (within
// the token limit), so the common GET pays nothing; an unparsable one is left
// to execution to report.
func (t httpTransport) isQuery(p *graphql.RawParams) bool {
	if !strings.Contains(p.Query, "mutation") && !strings.Contains(p.Query, "subscription") {
		return true
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, t.limits.MaxTokens)
	if err != nil {
		return true
	}
	for _, op := range doc.Operations {
		if (p.OperationName == "" || op.Name == p.OperationName) && op.Operation != ast.Query {
			return false
		}
	}
	return true
}

// asksForSchema reports whether a document asks for the schema; such answers
// are not kept (they are cheap, rare, and may be switched off).
var introspectionField = regexp.MustCompile(`__schema\b|__type\s*\(`)

func asksForSchema(query string) bool { return introspectionField.MatchString(query) }

// responseKey identifies what a response depends on besides the
// configuration version: the document normalised (see writeDocument), the
// operation, the variables encoded canonically (json.Marshal sorts map keys)
// and the persisted document's hash. Every part is written with its length
// first, so no part's bytes can pass for the next's.
func (t httpTransport) responseKey(p *graphql.RawParams) string {
	vars, _ := json.Marshal(p.Variables)
	var doc bytes.Buffer
	if t.exactDocuments {
		doc.WriteByte('R')
		doc.WriteString(p.Query)
	} else {
		writeDocument(&doc, p.Query, t.limits.MaxTokens)
	}
	h := sha256.New()
	for _, part := range [][]byte{doc.Bytes(), []byte(p.OperationName), vars, []byte(persisted.RequestedHash(p))} {
		_, _ = h.Write(binary.AppendUvarint(nil, uint64(len(part))))
		_, _ = h.Write(part)
	}
	return string(h.Sum(nil))
}

// writeDocument writes the document's tokens without what GraphQL ignores
// (white space, commas, comments), so that spellings of one document share a
// key: 'T', then each token's kind, its value's length and its value (a
// string's value, whether block or quoted). A document that does not lex, or
// has more than maxTokens tokens, is written as it is after an 'R': execution
// reports it, and an answer with errors is not stored. Lengths and the first
// byte keep a value, or a document that does not lex, from spelling other
// tokens.
func writeDocument(w io.Writer, query string, maxTokens int) {
	var buf bytes.Buffer
	buf.WriteByte('T')
	lex := lexer.New(&ast.Source{Input: query})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || (maxTokens > 0 && n > maxTokens) {
			_, _ = io.WriteString(w, "R"+query)
			return
		}
		switch tok.Kind {
		case lexer.EOF:
			_, _ = w.Write(buf.Bytes())
			return
		case lexer.Comment:
			continue
		case lexer.BlockString:
			tok.Kind = lexer.String
		}
		buf.WriteByte(byte(tok.Kind))
		buf.Write(binary.AppendUvarint(buf.AvailableBuffer(), uint64(len(tok.Value))))
		buf.WriteString(tok.Value)
	}
}

// execute runs one operation in a span of its own and reports its outcome.
// It returns the operation's name as execution resolved it.
func (t httpTransport) execute(r *http.Request, exec graphql.GraphExecutor, p *graphql.RawParams, media string) (status int, resp *graphql.Response, name string) {
	start := time.Now()
	ctx, span := t.tracer.Start(r.Context(), "graphql.operation", trace.WithSpanKind(trace.SpanKindInternal))
	name, outcome := p.OperationName, OutcomeRejected
	defer func() {
		span.SetAttributes(attribute.String("graphql.operation.name", name), attribute.String("graphql.outcome", outcome))
		if outcome != OutcomeOK {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
		t.observe(ctx, name, outcome, time.Since(start))
	}()

	if t.limits.MaxQueryBytes > 0 && len(p.Query) > t.limits.MaxQueryBytes {
		return http.StatusBadRequest, &graphql.Response{Errors: gqlerror.List{{
			Message:    fmt.Sprintf("the query document has %d bytes; the limit is %d", len(p.Query), t.limits.MaxQueryBytes),
			Extensions: map[string]any{"code": limits.CodeQueryTooLarge},
		}}}, name
	}
	p.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	rc, errs := exec.CreateOperationContext(ctx, p)
	if errs != nil {
		// A request that fails to parse or validate: 200 with application/json
		// (legacy clients read the body), 400 with the GraphQL response type.
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		return status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs), name
	}
	if rc.Operation != nil {
		name = rc.Operation.Name
		opType := string(rc.Operation.Operation)
		span.SetName(strings.TrimSpace(opType + " " + name))
		span.SetAttributes(attribute.String("graphql.operation.type", opType))
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp = responses(ctx)
	outcome = OutcomeOK
	if len(resp.Errors) > 0 {
		outcome = OutcomeError
	}
	return http.StatusOK, resp, name
}

func (t httpTransport) decodeGET(r *http.Request) (*graphql.RawParams, error) {
	q := r.URL.Query()
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	defer setDocumentID(p, q.Get("documentId"))
	if v := q.Get("variables"); v != "" {
		if err := t.decodeJSON([]byte(v), &p.Variables, "variables"); err != nil {
			return nil, err
		}
	}
	if v := q.Get("extensions"); v != "" {
		if err := t.decodeJSON([]byte(v), &p.Extensions, "extensions"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// decodePOST reads one request object, or a batch (a JSON array) when batching is on.
func (t httpTransport) decodePOST(w http.ResponseWriter, r *http.Request) (batch []*graphql.RawParams, isBatch bool, err error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaJSON {
		return nil, false, &requestError{status: http.StatusUnsupportedMediaType, code: CodeUnsupportedMediaType,
			message: "POST requests must have Content-Type: application/json"}
	}
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBodyBytes))
	if readErr != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(readErr, &tooLarge) {
			return nil, false, &requestError{status: http.StatusRequestEntityTooLarge, code: CodeBodyTooLarge,
				message: fmt.Sprintf("the request body is larger than %d bytes", t.maxBodyBytes)}
		}
		return nil, false, badRequest(CodeBadRequest, "could not read the request body")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, badRequest(CodeBadRequest, "the request body is empty; send a JSON object with a query")
	}
	if trimmed[0] != '[' {
		var one wireParams
		if err := t.decodeJSON(body, &one, "request body"); err != nil {
			return nil, false, err
		}
		return []*graphql.RawParams{one.raw()}, false, nil
	}
	if t.maxBatch == 0 {
		return nil, false, badRequest(CodeBatchingDisabled, "batched requests are not accepted; send one operation per request")
	}
	var wire []*wireParams
	if err := t.decodeJSON(body, &wire, "request body"); err != nil {
		return nil, false, err
	}
	if len(wire) == 0 || len(wire) > t.maxBatch {
		return nil, false, badRequest(CodeBatchTooLarge, "a batch must hold 1 to %d operations, not %d", t.maxBatch, len(wire))
	}
	for i, p := range wire {
		if p == nil {
			return nil, false, badRequest(CodeBadRequest, "batch entry %d is not an object", i)
		}
		batch = append(batch, p.raw())
	}
	return batch, true, nil
}

// wireParams is a GraphQL-over-HTTP request body. documentId (the persisted
// operations proposal) has no place in gqlgen's RawParams, so raw moves it
// into the extensions, where the trusted-documents extension looks.
type wireParams struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
	DocumentID    string         `json:"documentId"`
}

func (w *wireParams) raw() *graphql.RawParams {
	p := &graphql.RawParams{Query: w.Query, OperationName: w.OperationName, Variables: w.Variables, Extensions: w.Extensions}
	setDocumentID(p, w.DocumentID)
	return p
}

func setDocumentID(p *graphql.RawParams, id string) {
	if id == "" {
		return
	}
	if p.Extensions == nil {
		p.Extensions = map[string]any{}
	}
	p.Extensions[persisted.DocumentIDKey] = id
}

// decodeJSON checks the nesting first, with a scan that allocates nothing, so
// that 10 000 nested arrays cost a pass over the bytes and not 10 000 maps;
// then decodes with numbers kept exact. Errors name what failed, never echo it.
func (t httpTransport) decodeJSON(b []byte, v any, what string) error {
	if t.limits.MaxJSONDepth > 0 && jsonDepth(b) > t.limits.MaxJSONDepth {
		return badRequest(limits.CodeJSONDepth, "the %s nests JSON deeper than %d levels", what, t.limits.MaxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return badRequest(CodeBadRequest, "the %s is not valid JSON for a GraphQL request: %s", what, jsonErrorText(err))
	}
	if dec.More() {
		return badRequest(CodeBadRequest, "the %s has data after its JSON value", what)
	}
	return nil
}

// jsonErrorText describes a decoding error without quoting the input.
func jsonErrorText(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must not be a JSON %s", strings.TrimPrefix(typ.Field, "."), typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	default:
		return "malformed input"
	}
}

// jsonDepth returns the deepest nesting of arrays and objects in b, skipping
// string contents. Malformed input gets a number too; the decoder rejects it.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// responseMediaType picks the response type from Accept: the GraphQL response
// type when the client lists it without q=0, application/json otherwise (as
// the specification asks for clients that send no Accept). It runs on every
// request, so it reads the header in place rather than through
// mime.ParseMediaType, which allocates a map per part.
func responseMediaType(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), mediaGraphQLResponse) && !refused(params) {
			return mediaGraphQLResponse
		}
	}
	return mediaJSON
}

// refused reports whether media type parameters say q=0.
func refused(params string) bool {
	for param := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(param, "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			q, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(value), `"`), 64)
			return err == nil && q == 0
		}
	}
	return false
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
		b, _ = json.Marshal(&graphql.Response{Errors: gqlerror.List{{Message: "internal server error", Extensions: map[string]any{"code": CodeInternal}}}})
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

func writeResponse(w io.Writer, resp *graphql.Response) { _, _ = w.Write(marshal(resp)) }
