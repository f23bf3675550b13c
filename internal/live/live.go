// Package live tells subscribers when the configuration changes: one Feed
// watches the configuration source and sends each open stream an event when
// the version it serves, or whether that copy is stale, changes; Streams
// bounds how many streams are open, in all and per client. The transports
// (GraphQL over SSE and over WebSocket) are gqlgen's, mounted by
// internal/endpoint; the subscription resolver reads Feed.Subscribe.
package live

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// Change is one event of Subscription.opportunityConfigChanged.
type Change struct {
	Version string
	// FetchedAt is when the service fetched this version, RFC 3339 (UTC).
	FetchedAt string
	// ChangedTypeIDs are the types added, removed or changed since the
	// previous event, in ascending id order; empty (never nil) on a
	// stream's first event and when only Stale changed.
	ChangedTypeIDs []int
	Stale          bool

	// encoded holds the change's encodings for the subscribers it goes to
	// (Encoded); nil on a stream's first event, which is its own.
	encoded *encodings
}

// encodings are one change's encodings, one per key (a subscription's
// selection), at most maxEncodings of them.
type encodings struct {
	mu   sync.Mutex
	keys []any
	vals [][]byte
}

// maxEncodings bounds the encodings a change keeps: one per distinct
// subscription document its subscribers sent (the explorer's, the
// playground's, an app's few), each the size of one event. A change with
// subscribers of more documents encodes the rest once per subscriber, as
// every change did before.
const maxEncodings = 64

// Encoded returns encode's bytes for key, made once for every subscriber of
// the change that asks with the same key: a change that goes to 10 000
// streams is encoded once per subscription document, not 10 000 times. An
// encoding that encode reports as its caller's alone (false: it carries that
// subscriber's errors) is returned to it and not kept. key must be
// comparable.
func (c *Change) Encoded(key any, encode func() ([]byte, bool)) []byte {
	e := c.encoded
	if e == nil {
		b, _ := encode()
		return b
	}
	if b, ok := e.lookup(key); ok {
		return b
	}
	b, shared := encode()
	if !shared {
		return b
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if kept, ok := e.find(key); ok {
		return kept // made meanwhile by another subscriber: the same bytes
	}
	if len(e.keys) < maxEncodings {
		e.keys, e.vals = append(e.keys, key), append(e.vals, b)
	}
	return b
}

func (e *encodings) lookup(key any) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.find(key)
}

// find is lookup with e.mu held.
func (e *encodings) find(key any) ([]byte, bool) {
	for i, k := range e.keys {
		if k == key {
			return e.vals[i], true
		}
	}
	return nil, false
}

// Source is the configuration as internal/configsource holds it.
type Source interface {
	// Peek returns the copy held, without fetching.
	Peek() (cache.Result[*opportunity.Snapshot], bool)
	// Current returns the copy held, starting the background refresh that
	// is due past the TTL.
	Current(ctx context.Context) (cache.Result[*opportunity.Snapshot], bool)
	// Get returns the copy held, fetching one when there is none.
	Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error)
}

// Notifier is a Source that says when its copy may change
// (configsource.Source, cache.Cache): a feed over one sleeps until then
// instead of checking every interval.
type Notifier interface {
	// Changed returns a channel closed when the next fetch ends.
	Changed() <-chan struct{}
	// Due says how long from now the copy changes by the clock alone
	// (a refresh falls due, or it may no longer be served).
	Due() (time.Duration, bool)
}

// Feed broadcasts configuration changes to subscribers. It is safe for
// concurrent use.
type Feed struct {
	src      Source
	interval time.Duration
	// kick wakes Run when the first stream opens: a copy past its TTL is
	// then refreshed for it, as a query would.
	kick chan struct{}

	mu      sync.Mutex
	current *Change
	types   map[int][32]byte // the current version's type fingerprints
	subs    map[*subscriber]struct{}
	closed  bool
}

// subscriber is one stream: a channel of capacity one that always holds the
// latest event not yet read (a slow reader skips intermediate versions, never
// blocks the feed).
type subscriber struct {
	ch chan *Change
	// slots is the stream's count of subscriptions (WithSubscriptionLimit),
	// given back when the subscription ends; nil when unbounded.
	slots   *slots
	removed atomic.Bool // its slot given back (once: close or its context)
}

// slots bounds the subscriptions one stream carries: a graphql-transport-ws
// connection multiplexes any number of them, each an entry in the feed.
type slots struct {
	max  int32
	used atomic.Int32
}

type slotsKey struct{}

// WithSubscriptionLimit returns ctx bounding the subscriptions made under it
// (one stream's) to max; Subscribe refuses more with
// ErrTooManySubscriptions. A stream counted by Streams is one slot there
// whatever it carries, so the transport sets this on each stream.
func WithSubscriptionLimit(ctx context.Context, max int) context.Context {
	if max <= 0 {
		return ctx
	}
	return context.WithValue(ctx, slotsKey{}, &slots{max: int32(max)})
}

// ErrTooManySubscriptions is Subscribe's refusal past a stream's
// WithSubscriptionLimit.
var ErrTooManySubscriptions = errors.New("live: too many subscriptions on this stream")

// ErrClosed is returned by Subscribe once the feed has stopped (shutdown).
var ErrClosed = errors.New("live: the feed is closed")

// New returns a feed over src that checks it every interval (a quarter of a
// second is plenty: a change reaches subscribers within the interval of the
// refresh that brought it).
func New(src Source, interval time.Duration) *Feed {
	return &Feed{src: src, interval: interval, kick: make(chan struct{}, 1), subs: map[*subscriber]struct{}{}}
}

// Run watches the source until ctx is done, then closes every stream (each
// transport then ends its stream with a complete message). While a stream is
// open it keeps the configuration refreshed as requests would (Current starts
// the refresh due past the TTL), so that a change is seen within a TTL even
// when no query arrives.
//
// Over a Notifier it wakes only when something may have changed: a fetch
// ended (it publishes at once), the copy's TTL or retry falls due, a first
// stream opened, or, at the latest, every idleCheck: each wake-up of an idle
// process costs a few hundred microseconds on this kind of machine, and a
// check every 250 ms was four a second for a service with nothing to do
// (internal/tools/streams, BENCHMARKS.md).
func (f *Feed) Run(ctx context.Context) {
	n, notifies := f.src.(Notifier)
	t := time.NewTimer(f.interval)
	defer t.Stop()
	defer f.close()
	for {
		var changed <-chan struct{}
		wait := f.interval
		if notifies {
			changed = n.Changed() // before the check: a fetch ending during it wakes the wait
			wait = idleCheck
		}
		f.check(ctx)
		if notifies {
			if due, ok := n.Due(); ok && due < wait {
				wait = max(due, minCheck)
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-f.kick:
		case <-t.C:
		}
	}
}

// idleCheck is the longest a feed over a Notifier sleeps, and minCheck the
// shortest (a copy just past its TTL, whose refresh has started).
const (
	idleCheck = time.Minute
	minCheck  = 10 * time.Millisecond
)

// check publishes the copy held, refreshing it first when it is due and
// someone listens.
func (f *Feed) check(ctx context.Context) {
	var res cache.Result[*opportunity.Snapshot]
	var ok bool
	if f.Streams() > 0 {
		if res, ok = f.src.Current(ctx); !ok {
			// No copy to serve (start-up, or past max-stale): fetch one,
			// as a query would. The upstream's budget bounds the wait.
			var err error
			res, err = f.src.Get(ctx)
			ok = err == nil
		}
	} else {
		res, ok = f.src.Peek()
	}
	if ok {
		f.Publish(res.Value, res.FetchedAt, res.Stale)
	}
}

// Publish sends every stream an event if the version or its staleness
// differs from the last event's; a refresh that brought the same bytes (the
// same version) sends nothing. Run calls it; tests may too.
func (f *Feed) Publish(snap *opportunity.Snapshot, fetchedAt time.Time, stale bool) {
	if snap == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	cur := f.current
	if cur != nil && cur.Version == snap.Version() && cur.Stale == stale {
		return
	}
	next := &Change{Version: snap.Version(), FetchedAt: fetchedAt.UTC().Format(time.RFC3339), Stale: stale, ChangedTypeIDs: []int{}, encoded: &encodings{}}
	if cur != nil && cur.Version == snap.Version() {
		next.FetchedAt = cur.FetchedAt // only staleness changed: the same fetch
	} else {
		types := fingerprints(snap)
		if cur != nil {
			next.ChangedTypeIDs = changed(f.types, types)
		}
		f.types = types
	}
	f.current = next
	for s := range f.subs {
		s.send(next)
	}
}

// send puts c in the subscriber's slot, replacing an event not yet read.
// Only Publish sends, under the feed's lock, so the slot cannot fill between
// the drain and the send.
func (s *subscriber) send(c *Change) {
	select {
	case s.ch <- c:
	default:
		select {
		case <-s.ch:
		default:
		}
		s.ch <- c
	}
}

// Subscribe opens a stream: the current event at once (when a copy is held),
// then one per change, until ctx is done (the channel is then closed) or the
// feed closes. A stream's first event lists no changed types.
func (f *Feed) Subscribe(ctx context.Context) (<-chan *Change, error) {
	s, err := f.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	// No goroutine per stream while it is open: the removal runs when ctx
	// ends.
	context.AfterFunc(ctx, func() { f.remove(s) })
	return s.ch, nil
}

// subscribe adds a subscriber with its first event. Apart from Subscribe so
// that its frame is gone from the stream's stack before AfterFunc, the
// deepest call a stream makes on its way in (internal/server's
// TestStreamMemory).
func (f *Feed) subscribe(ctx context.Context) (*subscriber, error) {
	s := &subscriber{ch: make(chan *Change, 1)}
	if sl, ok := ctx.Value(slotsKey{}).(*slots); ok {
		if sl.used.Add(1) > sl.max {
			sl.used.Add(-1)
			return nil, ErrTooManySubscriptions
		}
		s.slots = sl
	}
	subscribed := false
	defer func() {
		if !subscribed && s.slots != nil {
			s.slots.used.Add(-1) // refused below: the slot is not taken
		}
	}()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	if f.current == nil {
		// No event yet: a copy may be held already (Run has not ticked).
		f.mu.Unlock()
		if res, ok := f.src.Peek(); ok {
			f.Publish(res.Value, res.FetchedAt, res.Stale)
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, ErrClosed
		}
	}
	if f.current != nil {
		cur := f.current
		s.ch <- &Change{Version: cur.Version, FetchedAt: cur.FetchedAt, ChangedTypeIDs: []int{}, Stale: cur.Stale}
	}
	f.subs[s] = struct{}{}
	subscribed = true
	first := len(f.subs) == 1
	f.mu.Unlock()
	if first {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	return s, nil
}

// remove ends one stream.
func (f *Feed) remove(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.ch)
	}
	if s.slots != nil && s.removed.CompareAndSwap(false, true) {
		s.slots.used.Add(-1)
	}
}

// close ends every stream and refuses new ones.
func (f *Feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		delete(f.subs, s)
		close(s.ch)
		if s.slots != nil && s.removed.CompareAndSwap(false, true) {
			s.slots.used.Add(-1)
		}
	}
}

// Streams counts the open streams.
func (f *Feed) Streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// fingerprints hashes each type's content, so that two versions can be
// compared type by type. Only run when the version changes (a few times a
// day): it encodes the whole configuration once.
func fingerprints(snap *opportunity.Snapshot) map[int][32]byte {
	out := make(map[int][32]byte, len(snap.Types()))
	for _, t := range snap.Types() {
		b, err := json.Marshal(t) // exported fields only: the tree, without back-pointers
		if err != nil {
			continue // cannot happen for decoded data; a type left out reads as changed
		}
		if _, dup := out[t.TypeID]; !dup {
			out[t.TypeID] = sha256.Sum256(b)
		}
	}
	return out
}

// changed lists the ids whose fingerprint differs, or that only one side has.
func changed(before, after map[int][32]byte) []int {
	out := []int{}
	for id, fp := range after {
		if old, ok := before[id]; !ok || old != fp {
			out = append(out, id)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// IsWebSocket tells a WebSocket handshake (RFC 6455 §4.1).
func IsWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// IsStream tells a request that opens a stream: a WebSocket handshake, or a
// POST that accepts text/event-stream (GraphQL over SSE). Streams are counted
// by Streams, not by the request rate limit.
func IsStream(r *http.Request) bool {
	return IsWebSocket(r) || IsSSE(r)
}

// IsSSE tells a request that opens a GraphQL-over-SSE stream if it is
// admitted: a POST that accepts text/event-stream.
func IsSSE(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
