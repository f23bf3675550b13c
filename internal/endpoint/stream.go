package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/origin"
)

// StreamOptions configures the streams /query serves besides its requests:
// GraphQL over Server-Sent Events (a POST with Accept: text/event-stream, as
// the graphql-sse client sends in its distinct-connections mode) and
// graphql-transport-ws over WebSocket (the graphql-ws client; the older
// subscriptions-transport-ws protocol too). The transports are gqlgen's
// (transport.SSE, transport.Websocket), configured here; nothing of the
// protocols is written by hand (an open SSE stream's HTTP/1.1 chunks are,
// by live.Detacher, for the memory it saves).
type StreamOptions struct {
	// Streams bounds the open streams, in all (503 OVERLOADED) and per
	// client (429 RATE_LIMITED); required.
	Streams *live.Streams
	// Client names a request's client as the rate limit does (its API key,
	// JWT subject or address); nil counts every stream as one client's.
	Client func(r *http.Request) string
	// MaxSubscriptions bounds the subscriptions one stream carries (a
	// WebSocket multiplexes any number; MAX_STREAMS_PER_CLIENT); 0 is no
	// bound.
	MaxSubscriptions int
	// KeepAlive spaces an idle WebSocket's pings (STREAM_KEEPALIVE);
	// required.
	KeepAlive time.Duration
	// KeepAlives sends SSE streams their keep-alive comments, one
	// STREAM_KEEPALIVE apart; required.
	KeepAlives *live.KeepAlives
	// Origins are the cross-site origins a WebSocket may be opened from
	// (CORS_ALLOWED_ORIGINS), besides the service's own host: a WebSocket
	// handshake is a GET, which cross-origin protection lets through, and
	// a browser sends its cookies and cached credentials with it.
	Origins *origin.List
	// InitPayload authenticates a WebSocket by its connection_init payload
	// when its handshake carried no credential (auth.Authenticator's);
	// nil accepts every payload (AUTH_MODE=none).
	InitPayload func(ctx context.Context, payload map[string]any) (context.Context, error)
	// Shutdown is done when the service stops serving streams: every
	// stream still open is then closed (the feed has completed their
	// subscriptions first). Nil never closes them.
	Shutdown context.Context
}

// serveStream serves one stream: counted against the bounds, exempt from the
// request deadline and from the server's write timeout (a stream stays open
// for hours), closed when the client's JWT expires or the service shuts
// down, never stored.
//
// Its goroutine (net/http's connection goroutine) holds every frame from
// net/http's down to gqlgen's transport for as long as the stream is open,
// so what is only needed to admit the stream is done in admitStream, whose
// frame is gone before the transport runs: each stream's stack then fits
// in 8 KiB instead of 16 (TestStreamMemory, internal/server).
func (e *Endpoint) serveStream(w http.ResponseWriter, r *http.Request) {
	so := e.opts.Stream
	ws := live.IsWebSocket(r)
	body, release, ok := e.admitStream(w, r, ws)
	if !ok {
		return
	}
	defer release()

	// The server's WriteTimeout is for answers, not for a stream that stays
	// open; a WebSocket's handshake clears it itself.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	ctx := r.Context()
	var cancel context.CancelFunc
	if exp, ok := auth.Expires(ctx); ok {
		ctx, cancel = context.WithDeadline(ctx, exp)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	if so.Shutdown != nil {
		// No goroutine per stream: cancel runs when shutdown comes.
		stop := context.AfterFunc(so.Shutdown, cancel)
		defer stop()
	}
	// A query sent over a stream executes like any other, on its own
	// loaders; its deadline is the stream's.
	ctx = loaders.NewContext(ctx, loaders.New(e.src))
	ctx = live.WithSubscriptionLimit(ctx, so.MaxSubscriptions)
	r = r.WithContext(graphql.StartOperationTrace(ctx))
	if ws {
		e.serveWebsocket(w, r)
		return
	}
	e.serveSSE(w, r, body, cancel)
}

// serveSSE runs gqlgen's SSE transport on an admitted stream, its
// keep-alives sent by the shared KeepAlives (cancel ends the stream when
// one cannot be written).
func (e *Endpoint) serveSSE(w http.ResponseWriter, r *http.Request, body []byte, cancel context.CancelFunc) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	startSSE(w)
	// The header has gone out: net/http's connection goroutine and buffers
	// are let go (live.Detacher, when the routes run under one).
	live.Detach(w)
	w, end := e.opts.Stream.KeepAlives.Wrap(w, cancel)
	defer end()
	transport.SSE{}.Do(w, r, e.exec)
}

// startSSE sends an SSE stream's header as gqlgen's transport would send it
// at its first flush (it answers every admitted stream 200 with these
// three), and X-Accel-Buffering: no (nginx buffers responses unless told
// not to; an event must go out now). Under live.Detacher, Connection says
// close instead: the connection ends with the stream.
//
// It is sent from a goroutine of its own, while this one waits: net/http
// writes a header in frames of more than 3 KiB, which, below the
// middleware's and the transport's, would double the connection
// goroutine's stack to 16 KiB, for the whole life of the stream, since a
// stack only shrinks to a quarter of it in use. That goroutine's stack is
// freed when it ends; a stream then keeps an 8 KiB stack (TestStreamMemory,
// internal/server).
func startSSE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Accel-Buffering", "no")
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
	}()
	<-sent
}

// serveWebsocket runs gqlgen's WebSocket transport on an admitted stream;
// its configuration (a large struct) lives in this frame, not serveStream's.
func (e *Endpoint) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	e.websocket(e.opts.Stream).Do(w, r, e.exec)
}

// admitStream checks a stream's request (a WebSocket's origin, an SSE
// POST's body) and counts it against the bounds, or refuses it; release
// ends its count.
func (e *Endpoint) admitStream(w http.ResponseWriter, r *http.Request, ws bool) (body []byte, release func(), ok bool) {
	so := e.opts.Stream
	q := &request{r: r, ctx: r.Context(), media: responseMediaType(headerValue(r.Header, "Accept"))}
	if ws && !sameOriginOrAllowed(r, so.Origins) {
		e.refuse(w, q, "", apierror.CrossOriginRefused, "WebSocket from a cross-site origin refused")
		return nil, nil, false
	}
	if !ws {
		var code apierror.Code
		var msg string
		if body, code, msg = e.streamBody(w, q); code != "" {
			e.refuse(w, q, "", code, msg)
			return nil, nil, false
		}
		// Read to its end, and closed: net/http then has nothing of the
		// body to drain when the stream's header goes out, deep in the
		// transport's first flush.
		_ = r.Body.Close()
	}
	client := ""
	if so.Client != nil {
		client = so.Client(r)
	}
	release, err := so.Streams.Open(client)
	switch {
	case errors.Is(err, live.ErrTooManyClientStreams):
		w.Header().Set("Retry-After", "60")
		e.refuse(w, q, "", apierror.RateLimited, "this client holds as many open streams as MAX_STREAMS_PER_CLIENT allows; close one first")
		return nil, nil, false
	case err != nil:
		w.Header().Set("Retry-After", "5")
		e.refuse(w, q, "", apierror.Overloaded, "the service holds as many open streams as MAX_STREAMS allows; try again later")
		return nil, nil, false
	}
	return body, release, true
}

// streamBody reads an SSE request's body as every POST's is read
// (readBody: JSON, within MaxBodyBytes) and checks it is one GraphQL request
// object: gqlgen's SSE transport would log a body it cannot decode, and
// answers a batch with an error event. The body is the stream's own buffer,
// not a pooled one: the transport reads it after this returns.
func (e *Endpoint) streamBody(w http.ResponseWriter, q *request) ([]byte, apierror.Code, string) {
	q.raw = bytes.NewBuffer(make([]byte, 2, 2+bytes.MinRead)) // readBody's key prefix, unused here
	if code, msg := e.readBody(w, q); code != "" {
		return nil, code, msg
	}
	body := q.body
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		return nil, apierror.BatchingDisabled, "a stream carries one operation, not a batch"
	case len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed):
		return nil, apierror.BadRequest, "the request body is not a JSON object"
	case jsonDepth(trimmed) > e.opts.Limits.MaxJSONDepth && e.opts.Limits.MaxJSONDepth > 0:
		return nil, apierror.JSONTooDeep, "the request body nests deeper than MAX_JSON_DEPTH"
	}
	// Decoded as the transport will decode it, so that a body of the wrong
	// shape ({"query": 5}) is refused here: the stream's header has gone
	// out by the time the transport reads it.
	var p graphql.RawParams
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return nil, apierror.BadRequest, "the request body is not a GraphQL request: query and operationName are strings, variables and extensions objects"
	}
	return body, "", ""
}

// websocket is gqlgen's WebSocket transport as the service runs it.
func (e *Endpoint) websocket(so *StreamOptions) transport.Websocket {
	limit := e.opts.MaxBodyBytes // one message is one request
	return transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			// The origin was checked by sameOriginOrAllowed, against the
			// same list CORS reads.
			InsecureSkipVerify: true,
		}},
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if so.InitPayload != nil {
				var err error
				if ctx, err = so.InitPayload(ctx, payload); err != nil {
					return ctx, nil, err
				}
			}
			if exp, ok := auth.Expires(ctx); ok {
				// The connection is closed when the credential of
				// connection_init expires. Its context ends with the
				// request's at the latest, which releases the timer.
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, exp)
				context.AfterFunc(ctx, cancel)
			}
			return ctx, nil, nil
		},
		InitTimeout: 10 * time.Second,
		// graphql-transport-ws: a ping every interval, the connection
		// closed when two intervals pass without a pong; the older
		// protocol gets its keep-alive message instead.
		PingPongInterval:      so.KeepAlive,
		KeepAlivePingInterval: so.KeepAlive,
		PayloadReadLimit:      &limit,
		ErrorFunc: func(ctx context.Context, err error) {
			e.opts.Logger.DebugContext(ctx, "websocket error", "err", err)
		},
	}
}

// sameOriginOrAllowed reports whether a WebSocket handshake comes from no
// browser page (no Origin), from the service's own host, or from an allowed
// origin.
func sameOriginOrAllowed(r *http.Request, allowed *origin.List) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return allowed != nil && allowed.Allows(o)
}
