package endpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// Stored answers are found by two keys. The request's raw bytes (method,
// response media type, and the POST body or the GET query string) are looked
// up before any JSON decoding or parsing; the normalised key (the document's
// tokens, the operation, the variables) after decoding, so that two spellings
// of one operation share the answer and each pays the decoding once.
// Execution stores a clean answer under both.

// answerStored answers, for the fresh configuration the request arrived with,
// a GET whose If-None-Match is current (304), or a request whose exact bytes
// were answered before. It reports whether it answered.
func (e *Endpoint) answerStored(w http.ResponseWriter, q *request, start time.Time) bool {
	r := q.r
	if r.Method == http.MethodGet && headerValue(r.Header, "If-None-Match") != "" {
		params := q.params()
		p := &graphql.RawParams{Query: params.Get("query"), OperationName: params.Get("operationName")}
		// A GET mutation gets its 405 from decoding, not a 304.
		if !q.stale && e.isQuery(p) && e.validators.notModified(w, r, q.media, q.version, q.age) {
			e.observer.ObserveOperation(q.ctx, p.OperationName, OutcomeNotModified, 0)
			return true
		}
	}
	if e.opts.Responses == nil {
		return false
	}
	if a, ok := e.opts.Responses.GetBytes(q.version, q.raw.Bytes()); ok {
		e.writeStored(w, q, a, q.version, q.age)
		e.observer.ObserveOperation(q.ctx, a.Operation, OutcomeOK, time.Since(start))
		return true
	}
	return false
}

// maxRawKey bounds the requests whose bytes become a key: a key counts
// against the response cache's budget, so a request padded to a megabyte
// (with variables the document does not name, say) would otherwise store a
// megabyte per spelling and evict the hot answers. Front-ends' requests are a
// few KiB; a larger one is found by its normalised key after decoding.
const maxRawKey = 16 << 10

// store keeps a stored answer under the raw bytes of another request that
// asked for it (another spelling of the same operation).
func (e *Endpoint) store(q *request, version string, a respcache.Entry) {
	if q.raw != nil && q.raw.Len() <= maxRawKey {
		e.opts.Responses.Put(version, q.raw.String(), a)
	}
}

// rawOf returns the request's bytes as a key, or "" when none are kept
// (none made, or more than maxRawKey).
func rawOf(q *request) string {
	if q.raw == nil || q.raw.Len() > maxRawKey {
		return ""
	}
	return q.raw.String()
}

// replayRequest is how an answer is asked for again (respcache.Replay).
type replayRequest struct {
	params graphql.RawParams // Headers left out: nothing downstream reads them
	media  string
}

// keep stores a clean answer for version under its normalised key and the
// request's bytes (when raw is not ""), with how to ask for it again. When
// it is the new version's first answer, the old version's most asked answers
// are made again for the new one, in the background (makeAhead).
func (e *Endpoint) keep(version, key, raw string, p *graphql.RawParams, media string, body []byte, name string) respcache.Entry {
	replay := replayRequest{params: *p, media: media}
	replay.params.Headers = nil
	a := respcache.Entry{Body: body, ContentLength: []string{strconv.Itoa(len(body))}, Operation: name, Replay: &respcache.Replay{Key: key, Raw: raw, Request: replay}}
	hot := e.opts.Responses.Put(version, key, a)
	if raw != "" {
		hot = append(hot, e.opts.Responses.Put(version, raw, a)...)
	}
	if len(hot) > 0 {
		go e.makeAhead(version, hot)
	}
	return a
}

// makeAhead executes, for a new configuration version, the questions the old
// version was asked most (respcache.Hot of them), one after the other, and
// stores their answers, so that the front-ends' everyday queries are answered
// from stored bytes from the first request on. Each execution is bounded by
// REQUEST_TIMEOUT; an answer built from another version (a newer one came
// meanwhile) or with errors is dropped.
func (e *Endpoint) makeAhead(version string, hot []*respcache.Replay) {
	for _, r := range hot {
		req, ok := r.Request.(replayRequest)
		if !ok {
			continue
		}
		e.makeOneAhead(version, r, req)
	}
}

// makeOneAhead executes one replay for version and keeps its answer; a panic
// is logged and the answer dropped (this goroutine is nobody's request).
func (e *Endpoint) makeOneAhead(version string, r *respcache.Replay, req replayRequest) {
	defer e.recoverInto(context.Background(), func(*answer) {})
	ctx := loaders.NewContext(context.Background(), loaders.New(e.src))
	if e.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.RequestTimeout)
		defer cancel()
	}
	p := req.params
	ctx = graphql.StartOperationTrace(ctx)
	status, resp, name := e.execute(ctx, &request{ctx: ctx, media: req.media, ahead: true}, &p)
	if v, body, ok := storableAnswer(ctx, status, resp); ok && v == version {
		e.keep(v, r.Key, r.Raw, &p, req.media, body, name)
	}
}

// writeStored writes a stored answer with the headers execution would have
// set. Headers are assigned under their canonical names directly, and the
// Content-Length is the one made when the answer was stored: this path runs
// thousands of times a second.
func (e *Endpoint) writeStored(w http.ResponseWriter, q *request, a respcache.Entry, version string, age time.Duration) {
	h := w.Header()
	h["Content-Type"] = contentTypes[q.media]
	body, length := a.Body, a.ContentLength
	if q.stale {
		// Built from this version when it was fresh, or while stale: the
		// same data, with the marker an execution now would add.
		body = withStale(body, version, age)
		length = nil
		version = "" // not cacheable downstream
	}
	if length == nil {
		length = e.contentLength(len(body))
	}
	e.validators.mark(w, q.r, false, version, age, q.media)
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// withStale returns a stored answer ({"data":…}) with the extension that
// marks it built from the stale configuration version at age, byte for byte
// what marshal writes for an execution that read it.
func withStale(body []byte, version string, age time.Duration) []byte {
	ext, _ := json.Marshal(loaders.StaleExtension(version, age))
	out := make([]byte, 0, len(body)+len(`,"extensions":`)+len(ext))
	out = append(out, body[:len(body)-1]...)
	out = append(out, `,"extensions":`...)
	out = append(out, ext...)
	return append(out, '}')
}

// asksForSchema reports whether a document asks for the schema, or is a
// federation gateway's (_service, _entities); such answers are not kept:
// introspection is cheap, rare and may be switched off, and a gateway's
// answer may be for the gateway alone (SUBGRAPH_SECRET), while a stored
// answer is found by the request's bytes before the gateway rules are
// applied.
var introspectionField = regexp.MustCompile(`__schema\b|__type\s*\(|\b_service\b|\b_entities\b`)

func asksForSchema(query string) bool { return introspectionField.MatchString(query) }

// responseKey identifies what a response depends on besides the
// configuration version: the document normalised (see writeDocument), the
// operation, the variables encoded canonically (json.Marshal sorts map keys)
// and the persisted document's hash. Every part is written with its length
// first, so no part's bytes can pass for the next's.
func (e *Endpoint) responseKey(p *graphql.RawParams) string {
	var doc bytes.Buffer
	declared, lexed := writeDocument(&doc, p.Query, e.opts.Limits.MaxTokens)
	if e.opts.ExactDocuments {
		doc.Reset()
		doc.WriteByte('R')
		doc.WriteString(p.Query)
	}
	vars := p.Variables
	if lexed && len(vars) > 0 {
		// Variables the document never names cannot change its answer
		// (GraphQL ignores them): left out, so that a request padded with
		// them shares the answer instead of storing one more copy.
		vars = make(map[string]any, len(declared))
		for name, v := range p.Variables {
			if declared[name] {
				vars[name] = v
			}
		}
	}
	encoded, _ := json.Marshal(vars)
	h := sha256.New()
	for _, part := range [][]byte{doc.Bytes(), []byte(p.OperationName), encoded, []byte(persisted.RequestedHash(p))} {
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
// tokens. It returns the names of the variables the document mentions ($
// then a name), and false when it does not lex.
func writeDocument(w io.Writer, query string, maxTokens int) (variables map[string]bool, lexed bool) {
	var buf bytes.Buffer
	buf.WriteByte('T')
	lex := lexer.New(&ast.Source{Input: query})
	dollar := false
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || (maxTokens > 0 && n > maxTokens) {
			_, _ = io.WriteString(w, "R"+query)
			return nil, false
		}
		switch tok.Kind {
		case lexer.EOF:
			_, _ = w.Write(buf.Bytes())
			return variables, true
		case lexer.Comment:
			continue
		case lexer.BlockString:
			tok.Kind = lexer.String
		case lexer.Name:
			if dollar {
				if variables == nil {
					variables = map[string]bool{}
				}
				variables[tok.Value] = true
			}
		}
		dollar = tok.Kind == lexer.Dollar
		buf.WriteByte(byte(tok.Kind))
		buf.Write(binary.AppendUvarint(buf.AvailableBuffer(), uint64(len(tok.Value))))
		buf.WriteString(tok.Value)
	}
}
