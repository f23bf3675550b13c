// Package endpoint is the whole GraphQL-over-HTTP endpoint, /query, as one
// http.Handler: stored answers (304s and the response cache), the request
// deadline, the request's own loaders, GET and POST decoding with their
// bounds, execution by gqlgen's executor, and the caching headers. It is this
// service's counterpart of gqlgen's transport package; everything that orders
// these steps is in ServeHTTP, so no caller can put them in the wrong order.
package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	jsonv2 "github.com/go-json-experiment/json"
	"go.opentelemetry.io/otel/trace"
	"resenje.org/singleflight"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// Source is the configuration the endpoint serves: Get fetches when needed
// (what execution reads, once per request), Current tells without waiting
// whether a copy may be served now, starting its background refresh when one
// is due (what stored answers are checked against).
type Source interface {
	loaders.Source
	Current(ctx context.Context) (cache.Result[*opportunity.Snapshot], bool)
}

// Observer is told of every operation the endpoint answers: its name ("" when
// anonymous or unknown), outcome and duration; and of requests that wait for
// another's execution. telemetry.Metrics is one.
type Observer interface {
	ObserveOperation(ctx context.Context, name, outcome string, d time.Duration)
	// ObserveWaiting is told +1 when a request starts waiting for a shared
	// execution and -1 when it stops; shared tells, at the end, whether it
	// took another request's answer rather than running its own.
	ObserveWaiting(delta int, shared bool)
}

// Outcomes reported to the Observer.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"        // executed; the response has errors
	OutcomeRejected    = "rejected"     // refused before execution
	OutcomeNotModified = "not_modified" // a GET answered 304 from its ETag
)

// Options configures the endpoint. The values come from internal/config,
// whose defaults are the only ones: a zero where a bound is required is an
// error, not a hidden default.
type Options struct {
	MaxBodyBytes int64 // MAX_REQUEST_BYTES: larger bodies get 413
	MaxBatch     int   // MAX_BATCH: operations in one batched POST; 0 refuses batches
	// Limits are the bounds checked before parsing (MaxQueryBytes,
	// MaxJSONDepth) and the token limit the response key's lexer keeps to;
	// the rest are the executor's.
	Limits         limits.Limits
	RequestTimeout time.Duration // REQUEST_TIMEOUT: 0 means no deadline

	// CacheTTL is the configuration's TTL: GET answers may be kept for
	// what is left of it (Cache-Control max-age).
	CacheTTL time.Duration
	// Private marks answers private (no shared caches): set it when
	// clients authenticate, or a CDN would serve one client's answer to
	// anyone.
	Private bool
	// SchemaTag is part of every ETag, so that a new schema does not match
	// validators of the old one (graph.SchemaTag).
	SchemaTag string
	// Responses keeps encoded answers per configuration version; nil
	// executes every operation.
	Responses *respcache.Cache
	// ExactDocuments keys answers by the document's exact text, not its
	// tokens: with trusted documents only the listed text may be answered,
	// and another spelling is another, unlisted document.
	ExactDocuments bool

	// NameClient, when set, names the client of each request the endpoint
	// executes in its context (ratelimit.Limiter.NameClient), for the
	// executor's per-client execution limit; answers from stored bytes
	// never call it.
	NameClient func(ctx context.Context, r *http.Request) context.Context

	// Stream serves subscriptions' streams (SSE and WebSocket, stream.go);
	// nil serves none.
	Stream *StreamOptions

	Observer Observer // nil: nobody is told
	// Tracer starts a span per operation; nil starts none (the service
	// passes nil when no exporter records spans).
	Tracer trace.Tracer
	// Logger records panics in executions the endpoint runs off a request's
	// own goroutine (shared executions, answers made ahead); nil discards.
	Logger *slog.Logger
}

// Endpoint is the /query handler. It is safe for concurrent use.
type Endpoint struct {
	exec       graphql.GraphExecutor
	src        Source
	opts       Options
	validators *validators
	observer   Observer
	tracer     trace.Tracer   // nil: no spans
	bodies     sync.Pool      // of *bytes.Buffer: request bodies and raw answer keys
	strict     jsonv2.Options // decodeCommon's (strictV2)
	decoded    decodedBodies  // what bodies seen lately decoded to
	// lengths are Content-Length values made before (contentLength).
	lengths [64]atomic.Pointer[lengthHeader]
	// flights coalesces executions: identical requests for one
	// configuration version share one execution (see serveShared).
	flights singleflight.Group[string, *answer]
}

// New returns the endpoint serving exec's schema over src's configuration.
func New(exec graphql.GraphExecutor, src Source, opts Options) (*Endpoint, error) {
	var problems []error
	if exec == nil || src == nil {
		problems = append(problems, errors.New("an executor and a configuration source are required"))
	}
	if opts.MaxBodyBytes <= 0 {
		problems = append(problems, fmt.Errorf("largest request body %d must be positive", opts.MaxBodyBytes))
	}
	if opts.MaxBatch < 0 || opts.RequestTimeout < 0 {
		problems = append(problems, errors.New("batch size and request timeout must not be negative"))
	}
	if opts.CacheTTL <= 0 {
		problems = append(problems, fmt.Errorf("configuration TTL %s must be positive", opts.CacheTTL))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("graphql endpoint: %w", errors.Join(problems...))
	}
	e := &Endpoint{
		exec:       exec,
		src:        src,
		opts:       opts,
		validators: &validators{ttl: opts.CacheTTL, private: opts.Private, schemaTag: opts.SchemaTag},
		observer:   opts.Observer,
		tracer:     opts.Tracer,
		strict:     strictV2(opts.Limits.MaxJSONDepth),
	}
	e.bodies.New = func() any { return new(bytes.Buffer) }
	if e.observer == nil {
		e.observer = nobody{}
	}
	if e.opts.Logger == nil {
		e.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

type nobody struct{}

func (nobody) ObserveOperation(context.Context, string, string, time.Duration) {}
func (nobody) ObserveWaiting(int, bool)                                        {}

// request is what the endpoint knows of one request as it goes: each thing is
// learnt once and read by every later step.
type request struct {
	r *http.Request
	// ctx is the request's context: r's, then, for an execution, with its
	// deadline, loaders and operation trace. Kept here rather than in a
	// copy of r (r.WithContext), which cost every executed request a
	// 304-byte Request, allocated and copied.
	ctx   context.Context
	media string // the response media type, from Accept
	// version and age are the configuration held when the request arrived,
	// if it may be served (version "" otherwise): fresh, past its TTL while
	// it is revalidated, or stale (the refresh failed: stale is then set,
	// and a stored answer is served with the stale marker and no-store).
	// Stored answers are checked against it.
	version string
	age     time.Duration
	stale   bool
	query   url.Values // a GET's parameters, parsed on first use
	// raw is the request's own bytes (method, media type, then the POST
	// body or the GET query string): the response cache's first key. Made
	// when answers are kept, and for every POST, whose body it holds.
	raw  *bytes.Buffer
	body []byte // a POST's body, read once
	// start is when the request arrived, for the duration of an answer
	// taken from another request's execution.
	start time.Time
	// ahead marks an execution nobody asked for yet (makeAhead): it is
	// not counted as a client's operation.
	ahead bool
}

// params returns a GET's query parameters, parsed once.
func (q *request) params() url.Values {
	if q.query == nil {
		q.query = q.r.URL.Query()
	}
	return q.query
}

// ServeHTTP answers one request, in this order (a stream, an SSE POST or a
// WebSocket handshake, is served by serveStream instead):
//
//  1. only GET and POST; a POST must be JSON within MaxBodyBytes (415, 413);
//  2. with a copy of the configuration that may be served (fresh, past its
//     TTL while a background refresh runs, or stale while the upstream
//     fails): a GET whose If-None-Match is current gets 304 (not from a
//     stale copy), and a request whose exact bytes were answered before gets
//     the stored answer (marked stale when the copy is), before any decoding
//     or parsing;
//  3. otherwise the request gets its deadline and its own loaders, is
//     decoded (400s) and, when answers are kept and no copy could be served
//     on arrival, learns the snapshot it will read (waiting for the fetch)
//     and is checked again against the stored answers for that version, by
//     its bytes and by its normalised key; then it is executed, once for
//     every identical request arriving together (serveShared), and a clean
//     answer is stored under both keys.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.opts.Stream != nil && live.IsStream(r) {
		e.serveStream(w, r)
		return
	}
	e.serveRequest(w, r)
}

// serveRequest is ServeHTTP for everything but a stream. It is a function of
// its own so that ServeHTTP's frame stays a few words: a stream's goroutine
// holds every frame above gqlgen's transport for the stream's life, and
// serveRequest's (the request learnt before execution, on the stack) is
// most of a kilobyte (TestStreamMemory, internal/server).
func (e *Endpoint) serveRequest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// What is learnt before execution stays on the stack: a stored answer
	// makes no request of its own; one that executes is copied (below).
	arrived := request{r: r, ctx: r.Context(), media: responseMediaType(headerValue(r.Header, "Accept"))}
	a := &arrived
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		e.refuse(w, a, "", apierror.MethodNotAllowed, "GraphQL requests are GET or POST")
		return
	}
	if res, ok := e.src.Current(a.ctx); ok {
		a.version, a.age, a.stale = res.Value.Version(), res.Age, res.Stale
	}
	if e.opts.Responses != nil || r.Method == http.MethodPost {
		a.raw = e.bodies.Get().(*bytes.Buffer)
		a.raw.Reset()
		defer e.putBuffer(a.raw)
		a.raw.WriteByte(r.Method[0])
		a.raw.WriteByte(mediaKind(a.media))
	}
	if r.Method == http.MethodPost {
		if code, msg := e.readBody(w, a); code != "" {
			e.refuse(w, a, "", code, msg)
			return
		}
	} else if a.raw != nil {
		a.raw.WriteString(r.URL.RawQuery)
	}
	if a.version != "" && e.answerStored(w, a, start) {
		return
	}

	q := new(request)
	*q = arrived
	if e.opts.Responses == nil {
		q.raw = nil // nothing will be stored under the request's bytes
	}
	ctx := q.ctx
	if e.opts.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.RequestTimeout)
		defer cancel()
	}
	// Fresh loaders per request: nothing loaded for one request is seen by
	// another, and every resolver of this one reads the same snapshot.
	ctx = loaders.NewContext(ctx, loaders.New(e.src))
	if e.opts.NameClient != nil {
		ctx = e.opts.NameClient(ctx, r)
	}
	q.ctx = graphql.StartOperationTrace(ctx)
	q.start = start
	e.serve(w, q)
}

func (e *Endpoint) putBuffer(b *bytes.Buffer) {
	// A rare 1 MiB body should not pin 1 MiB per pooled buffer.
	if b.Cap() <= maxPooledBody {
		e.bodies.Put(b)
	}
}

// maxPooledBody bounds the request buffers kept for reuse.
const maxPooledBody = 64 << 10

// refuse answers a request turned away before execution, with no data entry.
func (e *Endpoint) refuse(w http.ResponseWriter, q *request, operation string, code apierror.Code, message string) {
	e.observer.ObserveOperation(q.ctx, operation, OutcomeRejected, 0)
	apierror.Write(w, q.media, code, message)
}
