package live_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// source is a configuration source whose copy a test sets; Current counts
// the calls that would start a refresh.
type source struct {
	mu       sync.Mutex
	res      cache.Result[*opportunity.Snapshot]
	ok       bool
	currents int
}

func (s *source) set(snap *opportunity.Snapshot, at time.Time, stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res, s.ok = cache.Result[*opportunity.Snapshot]{Value: snap, FetchedAt: at, Stale: stale}, true
}

func (s *source) Peek() (cache.Result[*opportunity.Snapshot], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res, s.ok
}

func (s *source) Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error) {
	if res, ok := s.Current(ctx); ok {
		return res, nil
	}
	return cache.Result[*opportunity.Snapshot]{}, errors.New("no copy")
}

func (s *source) Current(context.Context) (cache.Result[*opportunity.Snapshot], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.currents++
	return s.res, s.ok
}

// snapshot holds one type per id, named as given.
func snapshot(version string, names map[int]string) *opportunity.Snapshot {
	var types []*opportunity.Type
	for id := 1; id <= 10; id++ {
		if n, ok := names[id]; ok {
			types = append(types, &opportunity.Type{TypeID: id, TypeName: n})
		}
	}
	return opportunity.NewSnapshot(types, version)
}

// receive reads one event, or fails after a (fake) second.
func receive(t *testing.T, ch <-chan *live.Change) *live.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return c
	case <-time.After(time.Second):
		t.Fatal("no event within a second")
		return nil
	}
}

func assertNone(t *testing.T, ch <-chan *live.Change) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("unexpected event %+v", c)
	default:
	}
}

// TestFeed: the current version at once; an event per version change with
// the types that changed; none for the same version; a stale flip is an
// event of the same fetch; a slow reader gets the latest; the stream closes
// when its context ends and every stream when the feed stops.
// exported is c's exported fields: what a subscriber reads.
func exported(c *live.Change) live.Change {
	return live.Change{Version: c.Version, FetchedAt: c.FetchedAt, ChangedTypeIDs: c.ChangedTypeIDs, Stale: c.Stale}
}

// TestEncodedOncePerChange: a change that goes to several subscribers is
// encoded once per key for all of them; a stream's first event, its own, is
// encoded each time asked; an encoding its caller keeps to itself is not
// kept; a change keeps at most 64 encodings.
func TestEncodedOncePerChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		src := &source{}
		src.set(snapshot("v1", map[int]string{1: "a"}), at, false)
		f := live.New(src, 250*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go f.Run(ctx)
		a, err := f.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		encodes := 0
		encode := func(text string, shared bool) func() ([]byte, bool) {
			return func() ([]byte, bool) { encodes++; return []byte(text), shared }
		}
		firstA, firstB := receive(t, a), receive(t, b)
		for _, first := range []*live.Change{firstA, firstB, firstA} {
			first.Encoded("q", encode("first", true))
		}
		if encodes != 3 {
			t.Fatalf("first events encoded %d times for 3 asks, want 3: a first event is its stream's own", encodes)
		}

		src.set(snapshot("v2", map[int]string{1: "b"}), at.Add(time.Minute), false)
		changeA, changeB := receive(t, a), receive(t, b)
		if changeA != changeB {
			t.Fatal("the subscribers got two copies of one change")
		}
		encodes = 0
		tests := []struct {
			name        string
			key         string
			encode      func() ([]byte, bool)
			want        string
			wantEncodes int
		}{
			{"the first subscriber of key q", "q", encode("q1", true), "q1", 1},
			{"the second", "q", encode("q2", true), "q1", 1},
			{"another key", "r", encode("r1", true), "r1", 2},
			{"q again", "q", encode("q3", true), "q1", 2},
			{"a caller's own encoding", "s", encode("s1", false), "s1", 3},
			{"not kept", "s", encode("s2", true), "s2", 4},
			{"then kept", "s", encode("s3", true), "s2", 4},
		}
		for _, tt := range tests {
			if got := string(changeB.Encoded(tt.key, tt.encode)); got != tt.want || encodes != tt.wantEncodes {
				t.Fatalf("%s: %q after %d encodings, want %q after %d", tt.name, got, encodes, tt.want, tt.wantEncodes)
			}
		}
		for i := range 64 { // 3 kept: 61 more fill the change's encodings
			changeA.Encoded(i, encode("n", true))
		}
		encodes = 0
		changeA.Encoded(60, encode("n", true))
		changeA.Encoded(61, encode("n", true))
		changeA.Encoded(61, encode("n", true))
		if encodes != 2 {
			t.Fatalf("%d encodings past 64 keys, want 2: key 60 kept, 61 never", encodes)
		}
	})
}

func TestFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		src := &source{}
		src.set(snapshot("v1", map[int]string{1: "a", 2: "b", 3: "c"}), at, false)
		f := live.New(src, 250*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()

		sub, stop := context.WithCancel(ctx)
		ch, err := f.Subscribe(sub)
		if err != nil {
			t.Fatal(err)
		}
		if got := receive(t, ch); !reflect.DeepEqual(exported(got), live.Change{Version: "v1", FetchedAt: "2026-12-01T09:00:00Z", ChangedTypeIDs: []int{}}) {
			t.Fatalf("first event %+v", got)
		}

		src.set(snapshot("v1", map[int]string{1: "a", 2: "b", 3: "c"}), at.Add(30*time.Second), false) // same bytes, refreshed
		time.Sleep(time.Second)
		assertNone(t, ch)

		// Type 2 renamed, 3 removed, 4 added; 1 unchanged.
		src.set(snapshot("v2", map[int]string{1: "a", 2: "B", 4: "d"}), at.Add(60*time.Second), false)
		got := receive(t, ch)
		if want := (live.Change{Version: "v2", FetchedAt: "2026-12-01T09:01:00Z", ChangedTypeIDs: []int{2, 3, 4}}); !reflect.DeepEqual(exported(got), want) {
			t.Fatalf("change event %+v, want %+v", got, want)
		}

		src.set(snapshot("v2", map[int]string{1: "a", 2: "B", 4: "d"}), at.Add(60*time.Second), true) // the refresh failed past the TTL
		if got := receive(t, ch); !got.Stale || got.Version != "v2" || got.FetchedAt != "2026-12-01T09:01:00Z" || len(got.ChangedTypeIDs) != 0 {
			t.Fatalf("stale event %+v", got)
		}

		// A second subscriber starts from the current version.
		ch2, err := f.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := receive(t, ch2); got.Version != "v2" || !got.Stale || len(got.ChangedTypeIDs) != 0 {
			t.Fatalf("late subscriber's first event %+v", got)
		}

		// A reader that does not read between two versions gets the last.
		src.set(snapshot("v3", map[int]string{1: "x"}), at.Add(90*time.Second), false)
		time.Sleep(time.Second)
		src.set(snapshot("v4", map[int]string{1: "y"}), at.Add(120*time.Second), false)
		time.Sleep(time.Second)
		if got := receive(t, ch); got.Version != "v4" {
			t.Fatalf("slow reader got %+v, want v4", got)
		}
		assertNone(t, ch)
		if f.Streams() != 2 {
			t.Fatalf("Streams = %d, want 2", f.Streams())
		}

		stop()
		synctest.Wait()
		if _, ok := <-ch; ok {
			t.Fatal("the stream is open after its context ended")
		}
		if f.Streams() != 1 {
			t.Fatalf("Streams = %d after one ended, want 1", f.Streams())
		}
		src.mu.Lock()
		currents := src.currents
		src.mu.Unlock()
		if currents == 0 {
			t.Error("the feed never asked for a refresh while streams were open")
		}

		cancel()
		<-done
		for range ch2 { // drain: it must end
		}
		if _, err := f.Subscribe(context.Background()); !errors.Is(err, live.ErrClosed) {
			t.Fatalf("Subscribe after the feed stopped: %v", err)
		}
	})
}

// TestNoEventBeforeACopy: with no copy yet, a subscriber waits, and gets
// the first version when it arrives.
func TestNoEventBeforeACopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &source{}
		f := live.New(src, 250*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go f.Run(ctx)
		ch, err := f.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		assertNone(t, ch)
		src.set(snapshot("v1", map[int]string{1: "a"}), time.Unix(0, 0), false)
		if got := receive(t, ch); got.Version != "v1" || len(got.ChangedTypeIDs) != 0 {
			t.Fatalf("first event %+v", got)
		}
	})
}

func TestStreams(t *testing.T) {
	var counts []int
	s := live.NewStreams(3, 2, func(n int) { counts = append(counts, n) })
	a1, err := s.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("a"); !errors.Is(err, live.ErrTooManyClientStreams) {
		t.Fatalf("third stream of a: %v, want ErrTooManyClientStreams", err)
	}
	if _, err := s.Open("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("c"); !errors.Is(err, live.ErrTooManyStreams) {
		t.Fatalf("fourth stream: %v, want ErrTooManyStreams", err)
	}
	a1()
	a1() // idempotent
	if s.Count() != 2 {
		t.Fatalf("Count = %d after one release, want 2", s.Count())
	}
	if _, err := s.Open("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if want := []int{1, 2, 3, 2, 3}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts reported %v, want %v", counts, want)
	}
}

// TestSubscriptionLimit: one stream carries at most its limit of
// subscriptions; an ended one gives its slot back.
func TestSubscriptionLimit(t *testing.T) {
	src := &source{}
	src.set(snapshot("v1", map[int]string{1: "a"}), time.Unix(0, 0), false)
	f := live.New(src, time.Hour)
	stream := live.WithSubscriptionLimit(context.Background(), 2)
	first, cancelFirst := context.WithCancel(stream)
	if _, err := f.Subscribe(first); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Subscribe(stream); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Subscribe(stream); !errors.Is(err, live.ErrTooManySubscriptions) {
		t.Fatalf("a third subscription: %v, want ErrTooManySubscriptions", err)
	}
	if _, err := f.Subscribe(context.Background()); err != nil {
		t.Fatalf("another stream's: %v", err)
	}
	cancelFirst()
	deadline := time.Now().Add(time.Second)
	for {
		_, err := f.Subscribe(stream)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an ended subscription did not give its slot back: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// counted is a configuration cache that counts the feed's checks (Current).
type counted struct {
	*cache.Cache[*opportunity.Snapshot]
	checks atomic.Int64
}

func (c *counted) Current(ctx context.Context) (cache.Result[*opportunity.Snapshot], bool) {
	c.checks.Add(1)
	return c.Cache.Current(ctx)
}

// TestFeedOverNotifier: over a source that says when its copy changes (the
// service's cache), the feed sleeps while the copy is fresh, refreshes it
// for its streams when its TTL passes, publishes the moment a fetch ends,
// and retries a failed refresh when its retry is due.
func TestFeedOverNotifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		version, fail, fetches := "v1", false, 0
		c, err := cache.New(func(context.Context) (*opportunity.Snapshot, error) {
			mu.Lock()
			defer mu.Unlock()
			fetches++
			if fail {
				return nil, errors.New("upstream down")
			}
			return snapshot(version, map[int]string{1: version}), nil
		}, cache.Options{TTL: 30 * time.Second, MaxStale: time.Hour, RetryInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		set := func(v string, f bool) {
			mu.Lock()
			defer mu.Unlock()
			version, fail = v, f
		}
		calls := func() int {
			mu.Lock()
			defer mu.Unlock()
			return fetches
		}
		if _, err := c.Get(t.Context()); err != nil {
			t.Fatal(err)
		}
		src := &counted{Cache: c}
		f := live.New(src, 250*time.Millisecond)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go f.Run(ctx)
		ch, err := f.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := receive(t, ch); got.Version != "v1" {
			t.Fatalf("first event %+v", got)
		}

		set("v2", false)
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if n := src.checks.Load(); n > 3 {
			t.Errorf("%d checks of a fresh copy in 29s: the feed polls (every 250ms would be 116)", n)
		}
		assertNone(t, ch)
		time.Sleep(time.Second) // the TTL passes: the feed refreshes, then publishes
		got := receive(t, ch)
		if got.Version != "v2" || calls() != 2 {
			t.Fatalf("at the TTL: %+v after %d fetches, want v2 after 2", got, calls())
		}

		set("v3", true)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := receive(t, ch); !got.Stale || got.Version != "v2" || calls() != 3 {
			t.Fatalf("a failed refresh at the TTL: %+v after %d fetches, want v2 stale after 3", got, calls())
		}
		set("v3", false)
		time.Sleep(5 * time.Second) // the retry falls due
		synctest.Wait()
		if got := receive(t, ch); got.Stale || got.Version != "v3" || calls() != 4 {
			t.Fatalf("the retry: %+v after %d fetches, want v3 fresh after 4", got, calls())
		}
	})
}
