package live_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/live"
)

// stream is a response writer that records what reaches it, flushes
// included; fail makes its writes fail (a client gone).
type stream struct {
	mu      sync.Mutex
	header  http.Header
	written strings.Builder
	flushes int
	fail    bool
}

func newStream() *stream { return &stream{header: http.Header{}} }

func (s *stream) Header() http.Header { return s.header }
func (s *stream) WriteHeader(int)     {}
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, errors.New("broken pipe")
	}
	s.written.Write(p)
	return len(p), nil
}

func (s *stream) FlushError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	if s.fail {
		return errors.New("broken pipe")
	}
	return nil
}

func (s *stream) Flush() { _ = s.FlushError() }

func (s *stream) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written.String()
}

func (s *stream) setFail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = true
}

const ping = ": ping\n\n"

// wrap opens a stream under k that must not be cancelled.
func wrap(t *testing.T, k *live.KeepAlives) (*stream, http.ResponseWriter, func()) {
	s := newStream()
	w, end := k.Wrap(s, func() { t.Error("stream cancelled") })
	return s, w, end
}

// event writes one event as gqlgen's SSE transport does: in pieces, then a
// flush.
func event(w http.ResponseWriter, data string) {
	_, _ = w.Write([]byte("event: next\ndata: "))
	_, _ = w.Write([]byte(data))
	_, _ = w.Write([]byte("\n\n"))
	w.(http.Flusher).Flush()
}

func TestKeepAlives(t *testing.T) {
	const interval = 15 * time.Second
	start := func(t *testing.T) (*live.KeepAlives, context.CancelFunc) {
		k := live.NewKeepAlives(interval)
		ctx, stop := context.WithCancel(t.Context())
		go k.Run(ctx)
		return k, stop
	}

	t.Run("one keep-alive per interval, once the stream has started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k, stop := start(t)
			defer stop()
			s, w, end := wrap(t, k)
			defer end()
			time.Sleep(2 * interval)
			synctest.Wait()
			if got := s.text(); got != "" {
				t.Fatalf("before the header went out: %q, want nothing", got)
			}
			_, _ = w.Write([]byte(":\n\n")) // the transport's first flush
			w.(http.Flusher).Flush()
			time.Sleep(3*interval + interval/2)
			synctest.Wait()
			if n := strings.Count(s.text(), ping); n != 3 {
				t.Fatalf("in 3.5 intervals: %d keep-alives, want 3 (%q)", n, s.text())
			}
		})
	})

	t.Run("never inside an event", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k, stop := start(t)
			defer stop()
			s, w, end := wrap(t, k)
			defer end()
			event(w, "1")
			_, _ = w.Write([]byte("event: next\ndata: ")) // an event under way
			time.Sleep(2 * interval)                      // its keep-alives fall due
			synctest.Wait()
			_, _ = w.Write([]byte("2\n\n"))
			w.(http.Flusher).Flush()
			time.Sleep(interval)
			synctest.Wait()
			want := "event: next\ndata: 1\n\nevent: next\ndata: 2\n\n" + ping
			if got := s.text(); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	})

	t.Run("a keep-alive that cannot be written ends the stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k, stop := start(t)
			defer stop()
			s := newStream()
			ctx, cancel := context.WithCancel(t.Context())
			w, end := k.Wrap(s, cancel)
			defer end()
			event(w, "1")
			s.setFail()
			time.Sleep(interval + time.Second)
			synctest.Wait()
			if ctx.Err() == nil {
				t.Fatal("the stream is still open after a failed keep-alive")
			}
		})
	})

	t.Run("none after the stream ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k, stop := start(t)
			defer stop()
			s, w, end := wrap(t, k)
			event(w, "1")
			end()
			time.Sleep(3 * interval)
			synctest.Wait()
			if got := s.text(); got != "event: next\ndata: 1\n\n" {
				t.Fatalf("got %q after the stream ended, want its event only", got)
			}
		})
	})

	t.Run("streams spread over the interval, one keep-alive each", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k, stop := start(t)
			defer stop()
			streams := make([]*stream, 45)
			for i := range streams {
				// Opened over three seconds: three slots of the fifteen.
				if i%15 == 0 && i > 0 {
					time.Sleep(time.Second)
				}
				streams[i] = newStream()
				w, end := k.Wrap(streams[i], func() { t.Error("stream cancelled") })
				defer end()
				event(w, "1")
			}
			time.Sleep(interval + 3*time.Second)
			synctest.Wait()
			for i, s := range streams {
				if n := strings.Count(s.text(), ping); n != 1 {
					t.Fatalf("stream %d: %d keep-alives in one interval after it opened, want 1", i, n)
				}
			}
		})
	})

	t.Run("a short interval is one slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			k := live.NewKeepAlives(300 * time.Millisecond)
			ctx, stop := context.WithCancel(t.Context())
			defer stop()
			go k.Run(ctx)
			s, w, end := wrap(t, k)
			defer end()
			event(w, "1")
			time.Sleep(time.Second)
			synctest.Wait()
			if n := strings.Count(s.text(), ping); n != 3 {
				t.Fatalf("in 1s at 300ms: %d keep-alives, want 3", n)
			}
		})
	})
}
