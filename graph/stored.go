package graph

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// Stored is a middleware for the GraphQL route that answers, before any
// GraphQL work (no deadline, loaders, JSON decoding or parsing), the requests
// whose answer is already known for the current, fresh configuration:
//
//   - a GET query whose If-None-Match holds the current ETag: 304;
//   - a request whose exact bytes (method, response media type, and the body
//     of a POST or the query string of a GET) were answered before from this
//     configuration: the stored answer, byte for byte.
//
// Everything else goes to next with its body handed on unchanged. The raw
// bytes are only a shortcut: execution stores an answer under its normalised
// key (the document, operation and variables) and, for the request that
// caused it, under the request's bytes too, so two spellings of one operation
// share the answer and each pays the decoding once.
func (h *Handler) Stored(next http.Handler) http.Handler {
	t := h.transport
	if t.cache == nil && t.responses == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version, age, fresh := t.current()
		if !fresh || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		media := responseMediaType(headerValue(r.Header, "Accept"))
		if r.Method == http.MethodGet && headerValue(r.Header, "If-None-Match") != "" {
			q := r.URL.Query()
			p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
			// A GET mutation gets its 405 from the transport, not a 304.
			if t.isQuery(p) && t.cache.notModified(w, r, media, version, age) {
				t.observe(r.Context(), p.OperationName, OutcomeNotModified, 0)
				return
			}
		}
		if t.responses == nil {
			next.ServeHTTP(w, r)
			return
		}

		buf := t.bodies.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= maxPooledBody {
				t.bodies.Put(buf)
			}
		}()
		// The key: method, media type, then the request's own bytes.
		buf.WriteByte(r.Method[0])
		buf.WriteByte(mediaKind(media))
		if r.Method == http.MethodGet {
			buf.WriteString(r.URL.RawQuery)
		} else if !isJSONContent(headerValue(r.Header, "Content-Type")) || !readBody(buf, r, t.maxBodyBytes) {
			next.ServeHTTP(w, r) // the transport refuses it (415, 413, 400)
			return
		}
		if e, ok := t.responses.GetBytes(version, buf.Bytes()); ok {
			t.writeStored(w, r, e.Body, media, version, age)
			t.observe(r.Context(), e.Operation, OutcomeOK, time.Since(start))
			return
		}
		raw := buf.String()
		if r.Method == http.MethodPost {
			// The body, as read, for the transport; the key starts with two bytes of its own.
			r.Body = readCloser{strings.NewReader(raw[2:]), r.Body}
		}
		ctx := context.WithValue(r.Context(), rawKey{}, raw)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// maxPooledBody bounds the request buffers kept for reuse: a rare 1 MiB body
// should not pin 1 MiB per pooled buffer.
const maxPooledBody = 64 << 10

// rawKey is the context key under which Stored leaves a request's raw-bytes
// key for execution to store the answer under.
type rawKey struct{}

// storeAnswer keeps a clean answer under its normalised key and under the raw
// bytes of the request that asked for it.
func (t httpTransport) storeAnswer(r *http.Request, version, key string, e respcache.Entry) {
	if key != "" {
		t.responses.Put(version, key, e)
	}
	if raw, ok := r.Context().Value(rawKey{}).(string); ok {
		t.responses.Put(version, raw, e)
	}
}

// writeStored writes a stored answer with the headers execution would have
// set. Headers are assigned under their canonical names directly: this path
// runs thousands of times a second.
func (t httpTransport) writeStored(w http.ResponseWriter, r *http.Request, body []byte, media, version string, age time.Duration) {
	h := w.Header()
	h["Content-Type"] = contentTypes[media]
	t.cache.mark(w, r, false, version, age, media)
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// contentTypes are the Content-Type header values of the two response media
// types, made once.
var contentTypes = map[string][]string{
	mediaJSON:            {mediaJSON + "; charset=utf-8"},
	mediaGraphQLResponse: {mediaGraphQLResponse + "; charset=utf-8"},
}

// headerValue is h.Get(key) for a key already in canonical form (net/http
// canonicalises incoming names), without canonicalising it again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func mediaKind(media string) byte {
	if media == mediaGraphQLResponse {
		return 'g'
	}
	return 'j'
}

// readBody appends r's body to buf and reports whether it was read whole
// within limit bytes; the caller then hands the bytes on as the body if it
// needs to. Otherwise (too large, or a read error) r.Body is put back as it
// was, what was read followed by the rest or the error, for the transport to
// answer as it always does.
func readBody(buf *bytes.Buffer, r *http.Request, limit int64) bool {
	if r.ContentLength > limit {
		return false
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	from := buf.Len()
	n, err := buf.ReadFrom(&io.LimitedReader{R: r.Body, N: limit + 1})
	read := buf.Bytes()[from:]
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(read), errReader{err}), r.Body}
		return false
	case n > limit:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(read), r.Body), r.Body}
		return false
	}
	return true
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// isJSONContent is mime.ParseMediaType(ct) == application/json, without the
// parse for the common spellings.
func isJSONContent(ct string) bool {
	switch ct {
	case mediaJSON, "application/json; charset=utf-8", "application/json;charset=utf-8":
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == mediaJSON
}
