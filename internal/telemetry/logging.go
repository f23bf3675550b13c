package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// NewLogger returns a JSON (default) or text logger whose every line made with
// a request's context carries that request's id. When w buffers (it has a
// Flush method, as BufferedWriter does), warnings and errors are flushed at
// once.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(w, nil)
	case "text":
		h = slog.NewTextHandler(w, nil)
	default:
		return nil, fmt.Errorf("log format %q is not json or text", format)
	}
	flush := func() error { return nil }
	if f, ok := w.(interface{ Flush() error }); ok {
		flush = f.Flush
	}
	return slog.New(requestIDHandler{h, flush}), nil
}

// requestIDHandler adds request_id to records logged with a request's
// context, and flushes a buffered output after warnings and errors.
type requestIDHandler struct {
	slog.Handler
	flush func() error
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
	return requestIDHandler{h.Handler.WithAttrs(as), h.flush}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name), h.flush}
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
// base64url); anything else is replaced, so a client cannot inject text
// into the logs through the header.
var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// RequestIDHeader is read from requests and set on responses.
const RequestIDHeader = "X-Request-Id"

// AccessLog gives each request an id (an incoming X-Request-Id when it looks
// like one), echoes it in the response, and writes one line per request with
// the operation name, status and duration. The query string is left out: a
// GET GraphQL request carries its variables there.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get(RequestIDHeader)
			if !goodRequestID.MatchString(id) {
				id = newRequestID()
			}
			info := &requestInfo{id: id}
			ctx := context.WithValue(r.Context(), infoKey{}, info)
			w.Header().Set(RequestIDHeader, id)
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r.WithContext(ctx))

			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			info.mu.Lock()
			op := info.operation
			info.mu.Unlock()
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			}
			if op != "" {
				attrs = append(attrs, slog.String("operation", op))
			}
			logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
		})
	}
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
