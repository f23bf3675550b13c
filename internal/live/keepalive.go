package live

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// KeepAlives sends every open SSE stream a keep-alive comment (": ping")
// once per interval, from one goroutine, a slot of the streams at a time.
//
// gqlgen's SSE transport can send them itself (KeepAlivePingInterval), from
// a goroutine and a ticker per stream; this replaces that, for two measured
// reasons (internal/tools/streams, 10 000 idle streams, BENCHMARKS.md):
//
//   - CPU: each ticker wakes the idle process on its own, and a wake-up
//     costs this machine several hundred microseconds; a keep-alive sent
//     with hundreds of others in one wake-up costs what its write costs.
//     10 000 idle streams at 15 s took 3.5 % of a core with gqlgen's, 1.8–
//     2.2 % with this and the feed's and the log's own wake-ups gone.
//   - Memory: the goroutine, its stack and its ticker, 2–4 KiB per stream.
//
// The protocol stays gqlgen's: the transport writes every event, and a
// keep-alive is only ever written between two of them (Wrap).
type KeepAlives struct {
	tick time.Duration
	// deadline bounds a keep-alive's write: a client that has not read
	// for so long that eight bytes cannot be sent within it is gone, and
	// its stream is ended.
	deadline time.Duration

	mu    sync.Mutex
	slots []map[*keptAlive]struct{}
	next  int // the slot the next tick pings
}

// keepAliveTick is about how often KeepAlives wakes: once a second, so that
// 10 000 streams at 15 s cost 15 wake-ups per interval, not 10 000, while
// each stream's keep-alives stay one interval apart.
const keepAliveTick = time.Second

// NewKeepAlives paces keep-alives one interval apart on each stream
// (STREAM_KEEPALIVE; positive).
func NewKeepAlives(interval time.Duration) *KeepAlives {
	n := int((interval + keepAliveTick/2) / keepAliveTick)
	if n < 1 {
		n = 1
	}
	k := &KeepAlives{tick: interval / time.Duration(n), deadline: 5 * time.Second, slots: make([]map[*keptAlive]struct{}, n)}
	for i := range k.slots {
		k.slots[i] = map[*keptAlive]struct{}{}
	}
	return k
}

// Run sends the keep-alives until ctx is done.
func (k *KeepAlives) Run(ctx context.Context) {
	t := time.NewTicker(k.tick)
	defer t.Stop()
	var batch []*keptAlive
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			batch = k.ping(batch[:0])
		}
	}
}

// ping sends the keep-alives of the slot whose turn it is, listed in batch
// (Run's, reused), and returns batch.
func (k *KeepAlives) ping(batch []*keptAlive) []*keptAlive {
	k.mu.Lock()
	for s := range k.slots[k.next] {
		batch = append(batch, s)
	}
	k.next = (k.next + 1) % len(k.slots)
	k.mu.Unlock()
	for i, s := range batch {
		s.ping(k.deadline)
		batch[i] = nil // an ended stream is not kept until the next round
	}
	return batch
}

// Wrap returns w for gqlgen's SSE transport (run without keep-alives of its
// own) and adds its stream to the keep-alives; end, called when the
// transport has returned, takes it out. A keep-alive that cannot be written
// calls cancel, which must end the stream.
//
// The writer holds a lock from the transport's first write of an event to
// its flush, which gqlgen makes at the end of every event; a keep-alive
// takes the lock only when it is free, so it never lands inside an event
// and never waits for one (a stream writing an event is not idle).
func (k *KeepAlives) Wrap(w http.ResponseWriter, cancel context.CancelFunc) (_ http.ResponseWriter, end func()) {
	s := &keptAlive{ResponseWriter: w, cancel: cancel}
	k.mu.Lock()
	// The slot pinged last in the cycle: the first keep-alive comes about
	// one interval after the stream opens.
	s.slot = (k.next + len(k.slots) - 1) % len(k.slots)
	k.slots[s.slot][s] = struct{}{}
	k.mu.Unlock()
	return s, func() {
		k.mu.Lock()
		delete(k.slots[s.slot], s)
		k.mu.Unlock()
		if !s.owned {
			s.mu.Lock()
		}
		s.done, s.owned = true, false
		s.mu.Unlock()
	}
}

// keptAlive is a stream's writer under KeepAlives.
type keptAlive struct {
	http.ResponseWriter
	cancel context.CancelFunc
	slot   int // guarded by KeepAlives.mu

	// mu is held by the transport from a write to the flush that ends
	// it, and by a keep-alive while it writes.
	mu sync.Mutex
	// owned: the transport holds mu. Only the transport's goroutine
	// reads or writes it (gqlgen writes a stream from one goroutine when
	// it sends no keep-alives itself).
	owned bool
	// started: the header has gone out (the transport has flushed once);
	// done: the transport has returned. Both guarded by mu.
	started, done bool
}

func (s *keptAlive) Write(p []byte) (int, error) {
	if !s.owned {
		s.mu.Lock()
		s.owned = true
	}
	return s.ResponseWriter.Write(p)
}

func (s *keptAlive) Flush() {
	if !s.owned {
		s.mu.Lock()
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	s.started, s.owned = true, false
	s.mu.Unlock()
}

// Unwrap is the writer it wraps, for http.ResponseController.
func (s *keptAlive) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ping writes one keep-alive unless the stream is writing an event, has not
// started or has ended; a write that fails (or cannot finish within
// deadline) ends the stream.
func (s *keptAlive) ping(deadline time.Duration) {
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	if !s.started || s.done {
		return
	}
	rc := http.NewResponseController(s.ResponseWriter)
	_ = rc.SetWriteDeadline(time.Now().Add(deadline))
	_, err := io.WriteString(s.ResponseWriter, ": ping\n\n")
	if err == nil {
		err = rc.Flush()
	}
	_ = rc.SetWriteDeadline(time.Time{})
	if err != nil {
		s.cancel()
	}
}
