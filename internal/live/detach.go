package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Detacher serves each request that may open an SSE stream on a goroutine
// of its own, so that once the stream's header has gone out its connection
// can be taken from net/http (Detach) and net/http's connection goroutine
// let go, with everything it holds for the connection's life.
//
// The measured reason (internal/tools/streams, 10 000 idle SSE streams,
// BENCHMARKS.md): net/http keeps, for as long as a handler runs, its
// connection's 4 KiB reader and 4 KiB writer, the 2 KiB chunking buffer,
// the response and its header's clone, and a background reader goroutine
// with its stack: about 16 KiB of each stream's 37. No net/http API gives
// them back to a handler that is still running; the handler returning,
// after a hijack, does. The middleware still see the stream as one request
// from start to end (access log, metrics, traces), because they run on the
// stream's goroutine, not net/http's; the transport is still gqlgen's, its
// events written one HTTP/1.1 chunk each (writeChunk) to the connection
// the header went out on.
type Detacher struct {
	logger *slog.Logger

	// hangups watches the detached connections for their clients' close,
	// started with the first (nil where it cannot be: each stream then
	// watches its own, see watch).
	hangupsOnce sync.Once
	hangups     *hangups

	mu sync.Mutex
	// open are the detached streams: net/http's Shutdown no longer sees
	// them, Shutdown does.
	open    map[*detachWriter]struct{}
	closing bool
	emptied chan struct{} // closed when the last of open ends after Shutdown began
}

// NewDetacher returns a Detacher that logs the panics of detached streams
// to logger (their goroutine is not net/http's, which would have).
func NewDetacher(logger *slog.Logger) *Detacher {
	return &Detacher{logger: logger, open: map[*detachWriter]struct{}{}}
}

// endDeadline bounds the write of a detached stream's last chunk: a client
// that has not read it within a second is not waited for.
const endDeadline = time.Second

// Handler serves SSE stream requests (IsSSE, over HTTP/1.1: an HTTP/2
// connection cannot be hijacked) with next on a goroutine of their own,
// while net/http's goroutine waits until next has answered or Detach has
// taken the connection; every other request is next's, as it comes.
func (d *Detacher) Handler(next http.Handler) *DetachingHandler {
	return &DetachingHandler{Next: next, d: d}
}

// DetachingHandler is a Detacher's Handler.
type DetachingHandler struct {
	// Next serves every request (a test walks its routes).
	Next http.Handler
	d    *Detacher
}

func (h *DetachingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || !IsSSE(r) {
		h.Next.ServeHTTP(w, r)
		return
	}
	h.d.serve(h.Next, w, r)
}

// serve runs next on a new goroutine: a detached stream outlives this call,
// so its context is the request's without net/http's cancellation, which
// comes when this returns; until it is detached, the request's ending (its
// client gone) still ends it.
func (d *Detacher) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	dw := &detachWriter{rw: w, d: d, cancel: cancel, detached: make(chan struct{})}
	dw.stop = context.AfterFunc(r.Context(), cancel)
	r = r.WithContext(ctx)
	if r.Body != nil {
		dw.body = &releasableBody{ReadCloser: r.Body}
		r.Body = dw.body
	}
	answered := make(chan any, 1)
	go d.run(next, dw, r, answered)
	select {
	case v := <-answered:
		if v != nil {
			panic(v) // as if next had panicked here: net/http logs it and drops the connection
		}
	case <-dw.detached:
	}
}

// run is the stream's goroutine: next, then, if the stream was detached,
// its end (the last chunk, the connection closed).
func (d *Detacher) run(next http.Handler, dw *detachWriter, r *http.Request, answered chan<- any) {
	defer func() {
		v := recover()
		dw.cancel()
		if dw.conn == nil { // set by Detach, on this goroutine
			dw.stop()
			answered <- v
			return
		}
		d.end(dw, v)
	}()
	next.ServeHTTP(dw, r)
}

// end finishes a detached stream: the chunked body's last chunk unless it
// panicked (net/http too drops a connection whose handler panicked), then
// the connection closed.
func (d *Detacher) end(dw *detachWriter, panicked any) {
	switch panicked {
	case nil:
		_ = dw.conn.SetWriteDeadline(time.Now().Add(endDeadline))
		_, _ = io.WriteString(dw.conn, "0\r\n\r\n")
	case http.ErrAbortHandler: // the handler's own signal to drop the connection
	default:
		// The value is not logged: a panic's value may carry a request's
		// data (internal/server's recoverer does the same).
		d.logger.Error("panic in a stream", "type", fmt.Sprintf("%T", panicked), "stack", string(debug.Stack()))
	}
	if dw.unwatch != nil {
		dw.unwatch() // before the close: its descriptor may be another's after
	}
	_ = dw.conn.Close()
	d.mu.Lock()
	delete(d.open, dw)
	if len(d.open) == 0 && d.emptied != nil {
		close(d.emptied)
		d.emptied = nil
	}
	d.mu.Unlock()
}

// Shutdown waits until every detached stream has ended (the service has
// ended their subscriptions first), or ctx is done, then closes the
// connections of those still open. Streams detached from then on are
// closed at once.
func (d *Detacher) Shutdown(ctx context.Context) {
	defer d.stopWatching()
	d.mu.Lock()
	d.closing = true
	if len(d.open) == 0 {
		d.mu.Unlock()
		return
	}
	if d.emptied == nil {
		d.emptied = make(chan struct{})
	}
	emptied := d.emptied
	d.mu.Unlock()
	select {
	case <-emptied:
		return
	case <-ctx.Done():
	}
	d.mu.Lock()
	for dw := range d.open {
		_ = dw.conn.Close()
	}
	d.mu.Unlock()
}

// watchHangup calls cancel when conn's client closes it, and returns what
// ends the watch: by the shared watcher where there is one, else by a
// goroutine for conn.
func (d *Detacher) watchHangup(conn net.Conn, cancel context.CancelFunc) (unwatch func()) {
	d.hangupsOnce.Do(func() {
		if h, err := newHangups(); err == nil {
			d.hangups = h
		} else {
			d.logger.Debug("streams watch their connections one goroutine each", "err", err)
		}
	})
	if d.hangups != nil {
		if unwatch, err := d.hangups.watch(conn, cancel); err == nil {
			return unwatch
		}
	}
	go watch(conn, cancel)
	return nil
}

// stopWatching ends the shared watcher, if it was started.
func (d *Detacher) stopWatching() {
	d.hangupsOnce.Do(func() {}) // none is started from now on
	if d.hangups != nil {
		d.hangups.close()
	}
}

// Detach takes the connection of the stream w writes from net/http, once
// its header has been sent (flushed): from then on w writes each of its
// writes to the connection as one HTTP/1.1 chunk, and the stream ends when
// its client closes the connection. It reports false, and w stays
// net/http's, when w is not a Detacher's (a wrapper on the way without
// Unwrap, a test's recorder) or the connection cannot be hijacked. Call it
// from the handler's goroutine, before w is shared with another.
func Detach(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *detachWriter:
			return x.detach()
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}

// detachWriter is the writer Detacher gives a stream's handler: net/http's
// until the stream is detached, the hijacked connection's after.
type detachWriter struct {
	rw       http.ResponseWriter
	d        *Detacher
	cancel   context.CancelFunc // ends the stream's context
	stop     func() bool        // stops the request's ending from ending the stream
	detached chan struct{}      // closed by detach
	// body is the request's body as the handler sees it, net/http's
	// until the stream is detached.
	body *releasableBody
	// conn is the hijacked connection, set by detach on the handler's
	// goroutine before the writer is shared (KeepAlives.Wrap).
	conn net.Conn
	// unwatch ends the watch of conn for its client's close, when the
	// shared watcher has it (nil: a goroutine of its own).
	unwatch func()
}

// releasableBody is a request's body that can let go of net/http's, which
// reads from the connection's reader and refers to the connection: every
// copy of the request down the middleware shares this one.
type releasableBody struct{ io.ReadCloser }

func (w *detachWriter) detach() bool {
	if w.conn != nil {
		return true
	}
	conn, buf, err := http.NewResponseController(w.rw).Hijack()
	if err != nil {
		return false
	}
	// buf is net/http's connection reader and writer: nothing is read, and
	// every write is one chunk of its own, so both go with net/http's
	// goroutine, as do its response and request body, which refer to them.
	_ = buf
	w.stop()
	w.conn, w.rw = conn, nil
	if w.body != nil {
		w.body.ReadCloser = http.NoBody
	}
	w.d.mu.Lock()
	w.d.open[w] = struct{}{}
	closing := w.d.closing
	w.d.mu.Unlock()
	if closing {
		_ = conn.Close()
	}
	w.unwatch = w.d.watchHangup(conn, w.cancel)
	close(w.detached)
	return true
}

// watch ends a detached stream when its client closes the connection, as
// net/http's background reader did for the request's context, where no
// shared watcher does (hangups). A stream's client sends nothing; whatever
// it sends is discarded.
func watch(conn net.Conn, cancel context.CancelFunc) {
	var b [64]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			cancel()
			return
		}
	}
}

func (w *detachWriter) Header() http.Header {
	if w.conn != nil {
		return http.Header{} // the header has gone out: changes are dropped, as net/http drops them
	}
	return w.rw.Header()
}

// WriteHeader tells the client of an event stream that its connection ends
// with it (Connection: close, where gqlgen's transport says keep-alive): a
// detached stream's connection is closed after its last chunk, and a client
// must not send another request on it.
func (w *detachWriter) WriteHeader(code int) {
	if w.conn != nil {
		return
	}
	if h := w.rw.Header(); code == http.StatusOK && strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		h.Set("Connection", "close")
	}
	w.rw.WriteHeader(code)
}

func (w *detachWriter) Write(p []byte) (int, error) {
	if w.conn == nil {
		return w.rw.Write(p)
	}
	return writeChunk(w.conn, p)
}

// writeChunk writes p to conn as one chunk of an HTTP/1.1 chunked body
// (RFC 9112, section 7.1): its size line, p, CRLF, in one write. p is an
// event or a keep-alive, a few hundred bytes: copied into one buffer, it is
// one allocation and one syscall.
func writeChunk(conn net.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty chunk would end the body
	}
	chunk := make([]byte, 0, len(p)+20) // 16 hex digits and two CRLFs at most
	chunk = strconv.AppendInt(chunk, int64(len(p)), 16)
	chunk = append(chunk, "\r\n"...)
	chunk = append(chunk, p...)
	chunk = append(chunk, "\r\n"...)
	if _, err := conn.Write(chunk); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush sends what net/http holds; a detached stream's writes are sent as
// they are made.
func (w *detachWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *detachWriter) FlushError() error {
	if w.conn != nil {
		return nil
	}
	return http.NewResponseController(w.rw).Flush()
}

// SetWriteDeadline is for http.ResponseController (KeepAlives bounds its
// writes with it).
func (w *detachWriter) SetWriteDeadline(t time.Time) error {
	if w.conn != nil {
		return w.conn.SetWriteDeadline(t)
	}
	return http.NewResponseController(w.rw).SetWriteDeadline(t)
}

// SetReadDeadline is for http.ResponseController.
func (w *detachWriter) SetReadDeadline(t time.Time) error {
	if w.conn != nil {
		return w.conn.SetReadDeadline(t)
	}
	return http.NewResponseController(w.rw).SetReadDeadline(t)
}
