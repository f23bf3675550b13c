package endpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
)

// The decoder is ours, not gqlgen's GET and POST transports: gqlgen's POST
// decoder echoes the whole request body in its error message, has no size,
// nesting or batch bounds, and answers validation errors with 422; this one
// bounds everything before parsing, never echoes input, and uses the status
// codes of the GraphQL-over-HTTP specification.

// refusal is a request refused before execution.
type refusal struct {
	code    apierror.Code
	message string
}

func (e *refusal) Error() string { return e.message }

func refuse(code apierror.Code, format string, args ...any) *refusal {
	return &refusal{code: code, message: fmt.Sprintf(format, args...)}
}

// readBody reads a POST's JSON body once, within MaxBodyBytes, after the two
// bytes of q.raw's key; q.body is then the body.
func (e *Endpoint) readBody(w http.ResponseWriter, q *request) (apierror.Code, string) {
	r, limit := q.r, e.opts.MaxBodyBytes
	if !isJSONContent(headerValue(r.Header, "Content-Type")) {
		return apierror.UnsupportedMediaType, "POST requests must have Content-Type: application/json"
	}
	tooLarge := func() string { return fmt.Sprintf("the request body is larger than %d bytes", limit) }
	if r.ContentLength > limit {
		return apierror.BodyTooLarge, tooLarge()
	}
	body := r.Body
	if r.ContentLength > 0 {
		q.raw.Grow(int(r.ContentLength) + bytes.MinRead)
		// net/http ends the body at its Content-Length, within the limit
		// here: read as it is, without MaxBytesReader's allocation.
	} else {
		// Of unknown length (chunked): MaxBytesReader, not a LimitedReader:
		// past the limit it also tells the server to close the connection
		// rather than drain the rest.
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	if _, err := q.raw.ReadFrom(body); err != nil {
		var over *http.MaxBytesError
		if errors.As(err, &over) {
			return apierror.BodyTooLarge, tooLarge()
		}
		return apierror.BadRequest, "could not read the request body"
	}
	q.body = q.raw.Bytes()[2:]
	if int64(len(q.body)) > limit {
		// A request made in-process whose body outruns its Content-Length.
		return apierror.BodyTooLarge, tooLarge()
	}
	return "", ""
}

// decode returns the request's operations, and whether they came as a batch.
func (e *Endpoint) decode(q *request) ([]*graphql.RawParams, bool, error) {
	if q.r.Method == http.MethodGet {
		p, err := e.decodeGET(q)
		return []*graphql.RawParams{p}, false, err
	}
	return e.decodePOST(q.body)
}

func (e *Endpoint) decodeGET(q *request) (*graphql.RawParams, error) {
	v := q.params()
	p := &graphql.RawParams{Query: v.Get("query"), OperationName: v.Get("operationName")}
	defer setDocumentID(p, v.Get("documentId"))
	if s := v.Get("variables"); s != "" {
		if err := e.decodeJSON([]byte(s), &p.Variables, "variables"); err != nil {
			return nil, err
		}
	}
	if s := v.Get("extensions"); s != "" {
		if err := e.decodeJSON([]byte(s), &p.Extensions, "extensions"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// decodePOST reads one request object, or a batch (a JSON array) when batching is on.
func (e *Endpoint) decodePOST(body []byte) (batch []*graphql.RawParams, isBatch bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, refuse(apierror.BadRequest, "the request body is empty; send a JSON object with a query")
	}
	if trimmed[0] != '[' {
		if p, ok := e.decoded.get(body); ok {
			return []*graphql.RawParams{p}, false, nil
		}
		if p, ok := e.decodeCommon(body); ok {
			e.decoded.put(body, p)
			return []*graphql.RawParams{p}, false, nil
		}
		var one wireParams
		if err := e.decodeJSON(body, &one, "request body"); err != nil {
			return nil, false, err
		}
		return []*graphql.RawParams{one.raw()}, false, nil
	}
	if e.opts.MaxBatch == 0 {
		return nil, false, refuse(apierror.BatchingDisabled, "batched requests are not accepted; send one operation per request")
	}
	var wire []*wireParams
	if err := e.decodeJSON(body, &wire, "request body"); err != nil {
		return nil, false, err
	}
	if len(wire) == 0 || len(wire) > e.opts.MaxBatch {
		return nil, false, refuse(apierror.BatchTooLarge, "a batch must hold 1 to %d operations, not %d", e.opts.MaxBatch, len(wire))
	}
	for i, p := range wire {
		if p == nil {
			return nil, false, refuse(apierror.BadRequest, "batch entry %d is not an object", i)
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

// strictV2 returns jsonv2's own options (member names matched exactly, each
// name once in every object, valid UTF-8 only), refusing a member
// wireParams lacks, with numbers kept exact as encoding/json's UseNumber
// keeps them (its json.Number, holding the literal), and refusing nesting
// deeper than maxDepth (0: unbounded): the bodies whose decoding cannot
// differ from encoding/json's. The depth is checked where each nested
// value starts, so that decodeCommon need not scan the body first (a sixth
// of its time for the dropdown query's).
func strictV2(maxDepth int) jsonv2.Options {
	return jsonv2.JoinOptions(
		jsonv2.DefaultOptionsV2(),
		jsonv2.RejectUnknownMembers(true),
		// Every value below variables and extensions is an any, so this
		// sees every object and array but theirs and the body's own.
		jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *any) error {
			switch dec.PeekKind() {
			case '0':
				number, err := dec.ReadValue()
				if err != nil {
					return err
				}
				*v = json.Number(number)
				return nil
			case '{', '[':
				if maxDepth > 0 && dec.StackDepth()+1 > maxDepth {
					return errTooDeep // decodeJSON refuses the body, with its message
				}
			}
			return errors.ErrUnsupported // v2's own decoding, as v1's for anything but numbers
		})),
	)
}

// errTooDeep stops strictV2's decoding; it never reaches a client.
var errTooDeep = errors.New("too deep")

// decodeCommon decodes the common request body, an object of wireParams'
// members spelled exactly, with go-json-experiment's v2 engine (the one
// internal/tanmarket decodes refreshes with), and reports false for
// anything else: a name in another case, a name given twice in any object,
// an unknown member, invalid UTF-8, a member of the wrong type, nesting past
// MaxJSONDepth, anything malformed. decodePOST then decodes the body with
// encoding/json as before, which gives such bodies their meaning
// (case-insensitive names, the last of duplicates, U+FFFD for invalid UTF-8)
// and malformed or deep ones their refusal, so that no body is read
// differently (FuzzDecodeCommon). The reason is time: encoding/json's
// Decoder took 4.1 µs of the 19.4 µs a dropdown request cost the service
// with its response cache off (BenchmarkHandler, internal/server), for an
// 85-byte body: a decoder, its buffer and its scanner set up for every body,
// and the body scanned twice, where v2 decodes it in one pass with pooled
// state (BenchmarkDecodePOST: 3.0 → 1.2 µs and 11 → 4 allocations for that
// body; 9.7 → 6.2 µs and 34 → 21 with variables and extensions).
func (e *Endpoint) decodeCommon(body []byte) (*graphql.RawParams, bool) {
	if max := e.opts.Limits.MaxJSONDepth; max > 0 && max < 2 && jsonDepth(body) > max {
		// The body's object and its variables' are not seen by strict's
		// depth check: a bound below them is checked here.
		return nil, false
	}
	var one wireParams
	if jsonv2.Unmarshal(body, &one, e.strict) != nil {
		return nil, false
	}
	return one.raw(), true
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
func (e *Endpoint) decodeJSON(b []byte, v any, what string) error {
	if max := e.opts.Limits.MaxJSONDepth; max > 0 && jsonDepth(b) > max {
		return refuse(apierror.JSONTooDeep, "the %s nests JSON deeper than %d levels", what, max)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return refuse(apierror.BadRequest, "the %s is not valid JSON for a GraphQL request: %s", what, jsonErrorText(err))
	}
	if dec.More() {
		return refuse(apierror.BadRequest, "the %s has data after its JSON value", what)
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

// isQuery reports whether the operation a GET names is a query. Only a
// document that mentions mutation or subscription is parsed for it (within
// the token limit), so the common GET pays nothing; an unparsable one is left
// to execution to report.
func (e *Endpoint) isQuery(p *graphql.RawParams) bool {
	if !strings.Contains(p.Query, "mutation") && !strings.Contains(p.Query, "subscription") {
		return true
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, e.opts.Limits.MaxTokens)
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
