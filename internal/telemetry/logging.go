package telemetry

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// NewLogger returns a JSON (default) or text logger whose every line made with
// a request's context carries that request's id. When w buffers (it has a
// Flush method, as BufferedWriter does), warnings and errors are flushed at
// once.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	flush := func() error { return nil }
	if f, ok := w.(interface{ Flush() error }); ok {
		flush = f.Flush
	}
	// Lines are written whole under one lock, whether slog writes them or
	// the access log does (see accessLine).
	lw := &lockedWriter{w: w}
	var h slog.Handler
	var direct *lockedWriter
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(lw, nil)
		direct = lw
	case "text":
		h = slog.NewTextHandler(lw, nil)
	default:
		return nil, fmt.Errorf("log format %q is not json or text", format)
	}
	return slog.New(requestIDHandler{h, flush, direct}), nil
}

// requestIDHandler adds request_id to records logged with a request's
// context, and flushes a buffered output after warnings and errors.
type requestIDHandler struct {
	slog.Handler
	flush func() error
	// direct is where the access log may write its JSON lines itself: set
	// only on NewLogger's JSON logger as made, before any With, whose
	// lines the access log knows how to spell.
	direct *lockedWriter
}

// lockedWriter serialises writes, so that lines written by slog and by the
// access log never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := infoFrom(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.id))
	}
	if err := h.Handler.Handle(ctx, r); err != nil || r.Level < slog.LevelWarn {
		return err
	}
	return h.flush()
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as), h.flush, nil}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name), h.flush, nil}
}

// requestInfo is what the access log learns while a request is served.
type requestInfo struct {
	id string

	mu        sync.Mutex
	operation string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// RequestID returns the request's id, or "" outside a request.
func RequestID(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// SetOperationName records the GraphQL operation a request ran, for its
// access-log line. Batches record the names joined by commas.
func SetOperationName(ctx context.Context, name string) {
	if len(name) > maxLoggedName {
		name = name[:maxLoggedName] + "…" // a client's name is not the log's to store whole
	}
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		defer info.mu.Unlock()
		if info.operation != "" {
			name = info.operation + "," + name
		}
		info.operation = name
	}
}

// maxLoggedName bounds an operation name in the access log.
const maxLoggedName = 64

// goodRequestID accepts the ids proxies and clients generate (UUIDs, hex,
// base64url): 1 to 64 of A-Z a-z 0-9 . _ : -; anything else is replaced, so
// a client cannot inject text into the logs through the header. A loop, not
// the regexp ^[A-Za-z0-9._:-]{1,64}$ it was (TestGoodRequestID holds them
// equal): behind a proxy every request brings an id, and the regexp took
// 520 ns of a stored answer's 5 µs to check a 24-character one.
func goodRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// RequestIDHeader is read from requests and set on responses.
const RequestIDHeader = "X-Request-Id"

// AccessLog gives each request an id (an incoming X-Request-Id when it looks
// like one), echoes it in the response, and writes one line per request with
// the operation name, status and duration. The query string is left out: a
// GET GraphQL request carries its variables there.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	var direct *lockedWriter
	if h, ok := logger.Handler().(requestIDHandler); ok {
		direct = h.direct
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a := newAccessed(w, r)
			next.ServeHTTP(&a.w, r.WithContext(&a.ctx))
			a.log(r, logger, direct)
		})
	}
}

// newAccessed starts a request's access-log record: its id (echoed in the
// response) and start time. The record's work before and after the request
// is in functions of their own, so that the middleware's frame, which a
// stream's goroutine holds for the stream's life, is a few words.
func newAccessed(w http.ResponseWriter, r *http.Request) *accessed {
	start := time.Now()
	id := r.Header.Get(RequestIDHeader)
	if !goodRequestID(id) {
		id = newRequestID()
	}
	a := &accessed{info: requestInfo{id: id}, start: start}
	a.ctx = infoContext{Context: r.Context(), info: &a.info}
	a.w.ResponseWriter = w
	a.idHeader[0] = id
	w.Header()[RequestIDHeader] = a.idHeader[:] // the name is canonical already
	return a
}

// log writes the request's access-log line.
func (a *accessed) log(r *http.Request, logger *slog.Logger, direct *lockedWriter) {
	status := a.w.code
	if status == 0 {
		status = http.StatusOK
	}
	a.info.mu.Lock()
	op := a.info.operation
	a.info.mu.Unlock()
	end := time.Now()
	line := accessLine{method: r.Method, path: r.URL.Path, status: status, bytes: a.w.bytes,
		durationMS: float64(end.Sub(a.start).Microseconds()) / 1000, operation: op, requestID: a.info.id}
	if direct != nil && logger.Enabled(&a.ctx, slog.LevelInfo) {
		line.writeJSON(direct, end)
	} else {
		line.log(&a.ctx, logger)
	}
}

// accessed is everything the access log keeps for one request, made in one
// allocation: what it learns (requestInfo), the request's context carrying
// it, the response writer that counts the status and bytes, and the backing
// array of the X-Request-Id header. Made separately (context.WithValue, chi's
// middleware.NewWrapResponseWriter, the header's slice) they were four more
// allocations a request: the access log's own cost went from 1.9 to 1.5 µs
// a request, of the 5 µs a stored answer costs the whole handler
// (BenchmarkHandler, internal/server).
type accessed struct {
	start    time.Time
	info     requestInfo
	ctx      infoContext
	w        statusWriter
	idHeader [1]string
}

// infoContext is context.WithValue(Context, infoKey{}, info) without its
// allocation: the request's context, plus the access log's requestInfo.
type infoContext struct {
	context.Context
	info *requestInfo
}

func (c *infoContext) Value(key any) any {
	if _, ok := key.(infoKey); ok {
		return c.info
	}
	return c.Context.Value(key)
}

// statusWriter is chi's middleware.WrapResponseWriter for HTTP/1 (its
// httpFancyWriter: the status and bytes written, Flush, Hijack and
// ReadFrom passed on), without Tee and Discard, which nothing here uses,
// so that it can live in accessed. The service serves HTTP/1 only (no TLS,
// no h2c), where net/http's writer has all three; Unwrap lets
// http.ResponseController reach the rest.
type statusWriter struct {
	http.ResponseWriter
	code        int
	bytes       int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		s.ResponseWriter.WriteHeader(code) // informational: the final status is still to come
	} else if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// ReadFrom lets io.Copy use net/http's own ReadFrom (sendfile for files).
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{s.ResponseWriter}, r)
	}
	s.bytes += int(n)
	return n, err
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

func (s *statusWriter) Flush() {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush() // net/http's: no controller per flush of a stream
		return
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// FlushError is Flush with the error of the write it makes, for
// http.ResponseController (a stream's keep-alive learns that its client is
// gone).
func (s *statusWriter) FlushError() error {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Unwrap is the writer it wraps, for http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLine is one access-log line.
type accessLine struct {
	method, path  string
	status, bytes int
	durationMS    float64
	operation     string // "" when no operation ran: left out
	requestID     string
}

// log writes the line through slog.
func (a accessLine) log(ctx context.Context, logger *slog.Logger) {
	logger.LogAttrs(ctx, slog.LevelInfo, "request", a.attrs()...)
}

// attrs are the line's attributes but request_id, which requestIDHandler
// adds from the context.
func (a accessLine) attrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("method", a.method),
		slog.String("path", a.path),
		slog.Int("status", a.status),
		slog.Int("bytes", a.bytes),
		slog.Float64("duration_ms", a.durationMS),
	}
	if a.operation != "" {
		attrs = append(attrs, slog.String("operation", a.operation))
	}
	return attrs
}

// writeJSON writes the line as slog's JSON handler would, byte for byte (a
// test compares them), in a fifth of the time: a cached answer costs a few
// microseconds, and slog's generic record handling (a float encoded by
// encoding/json, attributes copied past five) took two of them.
func (a accessLine) writeJSON(w io.Writer, now time.Time) {
	bp := lineBuffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, a.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, a.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(a.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(a.bytes), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendDuration(b, a.durationMS)
	if a.operation != "" {
		b = append(b, `,"operation":`...)
		b = appendJSONString(b, a.operation)
	}
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, a.requestID)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 { // a line with a huge path is not kept for reuse
		*bp = b
		lineBuffers.Put(bp)
	}
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendDuration spells a non-negative float as encoding/json does in the
// range a duration in milliseconds takes ([1e-6, 1e21) or 0: 'f' format,
// shortest representation); outside it, encoding/json itself.
func appendDuration(b []byte, f float64) []byte {
	if f == 0 || (f >= 1e-6 && f < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	out, err := json.Marshal(f)
	if err != nil { // NaN or Inf: not a duration
		return append(b, '0')
	}
	return append(b, out...)
}

// appendJSONString appends s quoted as slog's JSON handler quotes it:
// control characters, quote and backslash escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped; <, > and & left as they are.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), `\u202`...)
			b = append(b, hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// newRequestID returns 24 random hex digits. math/rand/v2's generator is
// seeded from the OS and costs nanoseconds; crypto/rand makes a system call
// per id, and an id only needs to be unique, not secret.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}
