package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// epoch is where every test's clock starts; the clock (testkit.Clock) moves
// only when a test advances it.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeFetch counts its calls and returns the call's number, so a test sees a
// refetch in the value. It fails while err is set and waits on block when set.
type fakeFetch struct {
	mu    sync.Mutex
	calls int
	err   error
	block chan struct{}
	ctxs  []context.Context
}

func (f *fakeFetch) fetch(ctx context.Context) (int, error) {
	f.mu.Lock()
	f.calls++
	n, err, block := f.calls, f.err, f.block
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *fakeFetch) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeFetch) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeFetch) ctx(i int) context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctxs[i]
}

var errBoom = errors.New("upstream down")

// step is one Get after moving the clock; fail sets whether fetches fail from
// this step on.
type step struct {
	advance time.Duration
	fail    bool

	wantErr       bool
	wantValue     int
	wantStale     bool
	wantAge       time.Duration
	wantFetchedAt time.Duration // offset from epoch
	wantFetches   int64
}

func runSteps(t *testing.T, opts Options, clk *testkit.Clock, steps []step) {
	t.Helper()
	f := &fakeFetch{}
	opts.Now = clk.Now
	c := newCache(t, f.fetch, opts)
	for i, s := range steps {
		clk.Advance(s.advance)
		if s.fail {
			f.failWith(errBoom)
		} else {
			f.failWith(nil)
		}
		res, err := c.Get(context.Background())
		// A refresh Get started in the background has run (the fake fetch
		// never blocks here), so Fetches counts it and the next step sees it.
		synctest.Wait()
		if s.wantErr {
			if !errors.Is(err, errBoom) {
				t.Errorf("step %d: err = %v, want %v", i, err, errBoom)
			}
			if res != (Result[int]{}) {
				t.Errorf("step %d: got result %+v alongside the error, want the zero Result", i, res)
			}
		} else {
			if err != nil {
				t.Fatalf("step %d: Get: %v", i, err)
			}
			if res.Value != s.wantValue {
				t.Errorf("step %d: Value = %d, want %d", i, res.Value, s.wantValue)
			}
			if res.Stale != s.wantStale {
				t.Errorf("step %d: Stale = %v, want %v", i, res.Stale, s.wantStale)
			}
			if want := res.Age >= opts.TTL; res.Revalidating != want {
				t.Errorf("step %d: Revalidating = %v at age %v, want %v", i, res.Revalidating, res.Age, want)
			}
			if res.Age != s.wantAge {
				t.Errorf("step %d: Age = %v, want %v", i, res.Age, s.wantAge)
			}
			if want := epoch.Add(s.wantFetchedAt); !res.FetchedAt.Equal(want) {
				t.Errorf("step %d: FetchedAt = %v, want %v", i, res.FetchedAt, want)
			}
			if s.wantStale && !errors.Is(res.RefreshErr, errBoom) {
				t.Errorf("step %d: RefreshErr = %v, want %v", i, res.RefreshErr, errBoom)
			}
			if !s.wantStale && res.RefreshErr != nil {
				t.Errorf("step %d: RefreshErr = %v on a fresh result", i, res.RefreshErr)
			}
		}
		if got := c.Fetches(); got != s.wantFetches {
			t.Errorf("step %d: Fetches() = %d, want %d", i, got, s.wantFetches)
		}
		if got := f.Calls(); int64(got) != c.Fetches() {
			t.Errorf("step %d: fetch ran %d times, Fetches() says %d", i, got, c.Fetches())
		}
	}
}

// TestGet walks the cache through its states, one Get a step. Past the TTL a
// Get answers at once with the copy it has and refreshes in the background
// (stale-while-revalidate): the next step sees the refresh's outcome.
func TestGet(t *testing.T) {
	const ttl, maxStale = 10 * time.Second, time.Minute
	tests := []struct {
		name  string
		steps []step
	}{
		{"first Get fetches", []step{
			{wantValue: 1, wantFetches: 1},
		}},
		{"within TTL no refetch", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: time.Second, wantValue: 1, wantAge: time.Second, wantFetches: 1},
			{advance: ttl - time.Second - time.Nanosecond, wantValue: 1, wantAge: ttl - time.Nanosecond, wantFetches: 1},
		}},
		{"at TTL the copy is served and refreshed in the background", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl, wantValue: 1, wantAge: ttl, wantFetches: 2},
			{wantValue: 2, wantFetchedAt: ttl, wantFetches: 2},
		}},
		{"long after TTL, then fresh again", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: 3 * ttl, wantValue: 1, wantAge: 3 * ttl, wantFetches: 2},
			{advance: time.Second, wantValue: 2, wantAge: time.Second, wantFetchedAt: 3 * ttl, wantFetches: 2},
		}},
		{"failure with no value is not cached", []step{
			{fail: true, wantErr: true, wantFetches: 1},
			{fail: true, wantErr: true, wantFetches: 2},
			{wantValue: 3, wantFetches: 3},
		}},
		{"failure within TTL is never tried", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl - 1, fail: true, wantValue: 1, wantAge: ttl - 1, wantFetches: 1},
		}},
		{"a failed refresh makes the copy stale; retries are spaced", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl + time.Second, fail: true, wantValue: 1, wantAge: ttl + time.Second, wantFetches: 2},
			{fail: true, wantValue: 1, wantStale: true, wantAge: ttl + time.Second, wantFetches: 2},
			// RetryInterval (1s) later, the next Get tries again.
			{advance: time.Second, fail: true, wantValue: 1, wantStale: true, wantAge: ttl + 2*time.Second, wantFetches: 3},
		}},
		{"stale served up to TTL+MaxStale", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl + maxStale, fail: true, wantValue: 1, wantAge: ttl + maxStale, wantFetches: 2},
			{fail: true, wantValue: 1, wantStale: true, wantAge: ttl + maxStale, wantFetches: 2},
		}},
		{"past TTL+MaxStale a Get waits, and fails with the fetch", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl + maxStale + time.Nanosecond, fail: true, wantErr: true, wantFetches: 2},
		}},
		{"stale, then refused as it ages", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl, fail: true, wantValue: 1, wantAge: ttl, wantFetches: 2},
			{advance: maxStale + time.Nanosecond, fail: true, wantErr: true, wantFetches: 3},
		}},
		{"recovery clears stale", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl, fail: true, wantValue: 1, wantAge: ttl, wantFetches: 2},
			{advance: time.Second, wantValue: 1, wantStale: true, wantAge: ttl + time.Second, wantFetches: 3},
			{wantValue: 3, wantFetchedAt: ttl + time.Second, wantFetches: 3},
			{advance: time.Second, wantValue: 3, wantAge: time.Second, wantFetchedAt: ttl + time.Second, wantFetches: 3},
		}},
		{"recovery after an expired stale value", []step{
			{wantValue: 1, wantFetches: 1},
			{advance: ttl + maxStale + 1, fail: true, wantErr: true, wantFetches: 2},
			{wantValue: 3, wantFetchedAt: ttl + maxStale + 1, wantFetches: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runSteps(t, Options{TTL: ttl, MaxStale: maxStale}, testkit.NewClock(epoch), tt.steps)
			})
		})
	}
}

// TestOptionsAreRequired: the durations have no defaults here (they are
// internal/config's); a zero or negative one is refused.
func TestOptionsAreRequired(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"zero options", Options{}},
		{"no retry interval", Options{TTL: time.Second, MaxStale: time.Second}},
		{"negative options", Options{TTL: -time.Second, MaxStale: -time.Second, RetryInterval: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New((&fakeFetch{}).fetch, tt.opts); err == nil {
				t.Errorf("New(%+v) accepted", tt.opts)
			}
		})
	}
}

// With no clock injected the cache reads the wall clock.
func TestDefaultClock(t *testing.T) {
	f := &fakeFetch{}
	c := newCache(t, f.fetch, Options{})
	before := time.Now()
	res, err := c.Get(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if res.FetchedAt.Before(before) || res.FetchedAt.After(after) {
		t.Errorf("FetchedAt = %v, want between %v and %v", res.FetchedAt, before, after)
	}
	if res.Age < 0 || res.Age > after.Sub(before) {
		t.Errorf("Age = %v, want within [0, %v]", res.Age, after.Sub(before))
	}
}

func TestPeek(t *testing.T) {
	const ttl = 10 * time.Second
	tests := []struct {
		name      string
		fetch     bool // Get once at the start
		advance   time.Duration
		wantOK    bool
		wantStale bool
		wantAge   time.Duration
	}{
		{name: "empty cache", wantOK: false},
		{name: "empty cache, later", advance: time.Hour, wantOK: false},
		{name: "fresh", fetch: true, advance: ttl - 1, wantOK: true, wantAge: ttl - 1},
		// Past the TTL with no failed refresh the copy is not stale: it is
		// served while it is revalidated.
		{name: "at TTL", fetch: true, advance: ttl, wantOK: true, wantAge: ttl},
		{name: "at TTL + max-stale", fetch: true, advance: ttl + time.Minute, wantOK: true, wantAge: ttl + time.Minute},
		{name: "long past TTL", fetch: true, advance: 100 * time.Hour, wantOK: true, wantStale: true, wantAge: 100 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testkit.NewClock(epoch)
			f := &fakeFetch{}
			c := newCache(t, f.fetch, Options{TTL: ttl, MaxStale: time.Minute, Now: clk.Now})
			if tt.fetch {
				if _, err := c.Get(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(tt.advance)
			before := c.Fetches()
			res, ok := c.Peek()
			if ok != tt.wantOK {
				t.Fatalf("Peek ok = %v, want %v", ok, tt.wantOK)
			}
			if c.Fetches() != before || int64(f.Calls()) != before {
				t.Errorf("Peek fetched: Fetches() %d → %d", before, c.Fetches())
			}
			if !ok {
				if res != (Result[int]{}) {
					t.Errorf("Peek on an empty cache = %+v, want the zero Result", res)
				}
				return
			}
			if res.Value != 1 || res.Stale != tt.wantStale || res.Age != tt.wantAge || !res.FetchedAt.Equal(epoch) {
				t.Errorf("Peek = %+v, want Value 1, Stale %v, Age %v, FetchedAt %v", res, tt.wantStale, tt.wantAge, epoch)
			}
		})
	}
}

// Peek sees the value kept through a failed background refresh, stale.
func TestPeekAfterFailedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := testkit.NewClock(epoch)
		f := &fakeFetch{}
		c := newCache(t, f.fetch, Options{TTL: time.Second, Now: clk.Now})
		if _, err := c.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		f.failWith(errBoom)
		if res, err := c.Get(context.Background()); err != nil || res.Stale || !res.Revalidating {
			t.Fatalf("Get = %+v, %v; want the copy, revalidating", res, err)
		}
		synctest.Wait() // the refresh has failed
		res, ok := c.Peek()
		if !ok || res.Value != 1 || !res.Stale || !errors.Is(res.RefreshErr, errBoom) || res.Age != 2*time.Second {
			t.Errorf("Peek = %+v, %v; want the first value, stale, 2s old", res, ok)
		}
	})
}

// Concurrent misses share one fetch. synctest.Wait returns only once every
// goroutine is durably blocked, i.e. one inside fetch and the rest waiting on
// it, so no caller can arrive after the fetch finished.
func TestGetSharesOneFetch(t *testing.T) {
	tests := []struct {
		name    string
		callers int
		fail    bool
		warm    bool // a value exists, but past its TTL
	}{
		{name: "cold cache, 100 callers", callers: 100},
		{name: "cold cache, 2 callers", callers: 2},
		{name: "cold cache, 100 callers, fetch fails", callers: 100, fail: true},
		{name: "expired value, 100 callers", callers: 100, warm: true},
		{name: "expired value, 100 callers, fetch fails", callers: 100, warm: true, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := testkit.NewClock(epoch)
				f := &fakeFetch{}
				c := newCache(t, f.fetch, Options{TTL: time.Minute, MaxStale: time.Hour, Now: clk.Now})
				wantFetches := int64(1)
				if tt.warm {
					if _, err := c.Get(context.Background()); err != nil {
						t.Fatal(err)
					}
					clk.Advance(2 * time.Minute)
					wantFetches++
				}
				release := make(chan struct{})
				f.mu.Lock()
				f.block = release
				if tt.fail {
					f.err = errBoom
				}
				f.mu.Unlock()

				results := make([]Result[int], tt.callers)
				errs := make([]error, tt.callers)
				var wg sync.WaitGroup
				for i := range tt.callers {
					wg.Go(func() { results[i], errs[i] = c.Get(context.Background()) })
				}
				synctest.Wait()
				if got := c.Fetches(); got != wantFetches {
					t.Errorf("with %d callers waiting: Fetches() = %d, want %d", tt.callers, got, wantFetches)
				}
				close(release)
				wg.Wait()

				synctest.Wait() // a background refresh has stored its outcome
				if got := c.Fetches(); got != wantFetches {
					t.Errorf("after the fetch: Fetches() = %d, want %d", got, wantFetches)
				}
				if tt.warm {
					res, _ := c.Peek()
					if wantValue := map[bool]int{false: 2, true: 1}[tt.fail]; res.Value != wantValue || res.Stale != tt.fail {
						t.Errorf("after the background refresh: Peek = %+v, want value %d, stale %v", res, wantValue, tt.fail)
					}
				}
				for i := range tt.callers {
					switch {
					case tt.fail && !tt.warm:
						if !errors.Is(errs[i], errBoom) {
							t.Errorf("caller %d: err = %v, want %v", i, errs[i], errBoom)
						}
					case tt.warm:
						// Nobody waited: the old value, at once, while one
						// refresh ran in the background.
						if errs[i] != nil || results[i].Stale || !results[i].Revalidating || results[i].Value != 1 {
							t.Errorf("caller %d: %+v, %v; want the old value, revalidating", i, results[i], errs[i])
						}
					default:
						if errs[i] != nil || results[i].Stale || results[i].Value != int(wantFetches) {
							t.Errorf("caller %d: %+v, %v; want value %d, fresh", i, results[i], errs[i], wantFetches)
						}
					}
				}
			})
		})
	}
}

type traceKey struct{}

// A caller that leaves stops waiting at once, while the fetch it started runs
// on, detached from its cancellation, and is stored for everyone else.
func TestGetCallerLeaves(t *testing.T) {
	errGone := errors.New("client went away")
	tests := []struct {
		name      string
		ctx       func(t *testing.T) (context.Context, func()) // the leaving caller's context, and how it leaves
		withOther bool                                         // a second caller waits on the same fetch
		wantErr   error
		wantWait  time.Duration // how long the leaving caller waited, in bubble time
	}{
		{
			name: "cancelled",
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithCancel(context.Background())
				return ctx, cancel
			},
			withOther: true,
			wantErr:   context.Canceled,
		},
		{
			name: "cancelled with a cause",
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(context.Background())
				return ctx, func() { cancel(errGone) }
			},
			withOther: true,
			wantErr:   errGone,
		},
		{
			name: "deadline",
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				t.Cleanup(cancel) // leaving by cancel would test cancellation, not the deadline
				return ctx, func() {}
			},
			withOther: true,
			wantErr:   context.DeadlineExceeded,
			wantWait:  3 * time.Second,
		},
		{
			name: "only caller leaves",
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithCancel(context.Background())
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := testkit.NewClock(epoch)
				release := make(chan struct{})
				f := &fakeFetch{block: release}
				c := newCache(t, f.fetch, Options{TTL: time.Minute, Now: clk.Now})

				ctx, leave := tt.ctx(t)
				ctx = context.WithValue(ctx, traceKey{}, "trace-1")
				var (
					leaverRes Result[int]
					leaverErr error
				)
				leaverDone := make(chan struct{})
				go func() {
					defer close(leaverDone)
					leaverRes, leaverErr = c.Get(ctx)
				}()
				synctest.Wait() // the leaver's fetch is running
				if got := f.Calls(); got != 1 {
					t.Fatalf("fetch calls = %d, want 1", got)
				}

				var (
					otherRes Result[int]
					otherErr error
				)
				otherDone := make(chan struct{})
				if tt.withOther {
					go func() {
						defer close(otherDone)
						otherRes, otherErr = c.Get(context.Background())
					}()
					synctest.Wait() // the other caller waits on the same fetch
				} else {
					close(otherDone)
				}

				start := time.Now()
				leave()
				// If Get waited for the fetch, this would deadlock and synctest fail the test.
				<-leaverDone
				if waited := time.Since(start); waited != tt.wantWait {
					t.Errorf("leaving caller waited %v, want %v", waited, tt.wantWait)
				}
				if !errors.Is(leaverErr, tt.wantErr) {
					t.Errorf("leaving caller: err = %v, want %v", leaverErr, tt.wantErr)
				}
				if leaverRes != (Result[int]{}) {
					t.Errorf("leaving caller: result %+v, want the zero Result", leaverRes)
				}

				fetchCtx := f.ctx(0)
				if err := fetchCtx.Err(); err != nil {
					t.Errorf("fetch context ended with its first caller: %v", err)
				}
				if _, ok := fetchCtx.Deadline(); ok {
					t.Error("fetch context inherited the caller's deadline")
				}
				if got := fetchCtx.Value(traceKey{}); got != "trace-1" {
					t.Errorf("fetch context value = %v, want the caller's trace-1", got)
				}
				if _, ok := c.Peek(); ok {
					t.Error("a value is stored before the fetch returned")
				}

				close(release)
				<-otherDone
				synctest.Wait() // the detached fetch has stored its value
				if tt.withOther && (otherErr != nil || otherRes.Value != 1 || otherRes.Stale) {
					t.Errorf("other caller: %+v, %v; want value 1, fresh", otherRes, otherErr)
				}
				res, ok := c.Peek()
				if !ok || res.Value != 1 {
					t.Errorf("Peek = %+v, %v; want the fetched value 1 stored", res, ok)
				}
				if got := c.Fetches(); got != 1 {
					t.Errorf("Fetches() = %d, want 1", got)
				}
				// The stored value serves the next caller without a fetch.
				if res, err := c.Get(context.Background()); err != nil || res.Value != 1 || c.Fetches() != 1 {
					t.Errorf("next Get = %+v, %v with %d fetches; want value 1 from the cache", res, err, c.Fetches())
				}
			})
		})
	}
}

// A caller whose context is already done still gets a fresh value without
// waiting; on a cold cache it returns at once, and the fetch it started is kept.
func TestGetWithDoneContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := testkit.NewClock(epoch)
		f := &fakeFetch{}
		c := newCache(t, f.fetch, Options{TTL: time.Minute, Now: clk.Now})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		release := make(chan struct{})
		f.mu.Lock()
		f.block = release
		f.mu.Unlock()
		if _, err := c.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("cold Get with a done context: err = %v, want context.Canceled", err)
		}
		close(release)
		synctest.Wait()
		if res, ok := c.Peek(); !ok || res.Value != 1 {
			t.Fatalf("Peek = %+v, %v; want the value the detached fetch stored", res, ok)
		}
		if res, err := c.Get(ctx); err != nil || res.Value != 1 {
			t.Errorf("fresh Get with a done context = %+v, %v; want value 1", res, err)
		}
		if got := c.Fetches(); got != 1 {
			t.Errorf("Fetches() = %d, want 1", got)
		}
	})
}

// TestRetryIntervalSpacesRefreshesWhileStale: once a refresh has failed, a
// stale copy is served without asking the upstream again until RetryInterval
// has passed; with no copy at all, every Get tries.
func TestRetryIntervalSpacesRefreshesWhileStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls, fail atomic.Int64
		clk := testkit.NewClock(epoch)
		now, advance := clk.Now, clk.Advance
		boom := errors.New("upstream down")
		c := newCache(t, func(context.Context) (string, error) {
			calls.Add(1)
			if fail.Load() == 1 {
				return "", boom
			}
			return "v", nil
		}, Options{TTL: time.Minute, RetryInterval: 5 * time.Second, Now: now})
		ctx := context.Background()

		fail.Store(1)
		for range 3 { // no copy: every Get tries, errors are not cached
			if _, err := c.Get(ctx); !errors.Is(err, boom) {
				t.Fatalf("Get = %v, want the fetch error", err)
			}
		}
		if calls.Load() != 3 {
			t.Fatalf("calls = %d, want 3", calls.Load())
		}
		fail.Store(0)
		if _, err := c.Get(ctx); err != nil {
			t.Fatal(err)
		}
		fail.Store(1)
		advance(2 * time.Minute)
		before := calls.Load()
		if res, err := c.Get(ctx); err != nil || res.Stale || !res.Revalidating {
			t.Fatalf("first Get past the TTL = %+v, %v; want the copy, revalidating", res, err)
		}
		synctest.Wait() // the background refresh failed
		for i := range 10 {
			res, err := c.Get(ctx)
			if err != nil || !res.Stale || !errors.Is(res.RefreshErr, boom) {
				t.Fatalf("Get %d = %+v, %v; want the stale copy", i, res, err)
			}
			synctest.Wait()
		}
		if got := calls.Load() - before; got != 1 {
			t.Errorf("refreshes while stale within the interval = %d, want 1", got)
		}
		advance(5 * time.Second)
		if _, err := c.Get(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := calls.Load() - before; got != 2 {
			t.Errorf("after the interval: refreshes = %d, want 2", got)
		}
		fail.Store(0)
		advance(5 * time.Second)
		if res, err := c.Get(ctx); err != nil || !res.Stale {
			t.Errorf("the Get that starts the good refresh = %+v, %v; want the stale copy", res, err)
		}
		synctest.Wait()
		if res, err := c.Get(ctx); err != nil || res.Stale || res.Revalidating {
			t.Errorf("after recovery: %+v, %v", res, err)
		}
	})
}

// newCache is New with the options left zero set to the service's documented
// defaults (internal/config), the only defaults there are.
func newCache[T any](t *testing.T, fetch func(context.Context) (T, error), opts Options) *Cache[T] {
	t.Helper()
	cfg, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if opts.TTL == 0 {
		opts.TTL = cfg.CacheTTL
	}
	if opts.MaxStale == 0 {
		opts.MaxStale = cfg.CacheMaxStale
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = cfg.CacheRetry
	}
	c, err := New(fetch, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRevalidate: it fetches now, whatever the copy's age, joins a fetch
// already running rather than starting another, returns the fetch's error
// and keeps the copy when it fails.
func TestRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := testkit.NewClock(epoch)
		f := &fakeFetch{}
		c := newCache(t, f.fetch, Options{TTL: time.Minute, Now: clk.Now})
		if err := c.Revalidate(context.Background()); err != nil || c.Fetches() != 1 {
			t.Fatalf("Revalidate on a cold cache: %v, %d fetches", err, c.Fetches())
		}
		if err := c.Revalidate(context.Background()); err != nil || c.Fetches() != 2 {
			t.Fatalf("Revalidate of a fresh copy: %v, %d fetches; want a fetch anyway", err, c.Fetches())
		}

		release := make(chan struct{})
		f.mu.Lock()
		f.block, f.err = release, errBoom
		f.mu.Unlock()
		clk.Advance(2 * time.Minute)
		if res, ok := c.Current(context.Background()); !ok || !res.Revalidating || res.Value != 2 {
			t.Fatalf("Current past the TTL = %+v, %v", res, ok)
		}
		synctest.Wait() // the background fetch is running, blocked
		if !c.Refreshing() {
			t.Fatal("Refreshing() = false while a fetch runs")
		}
		errc := make(chan error)
		go func() { errc <- c.Revalidate(context.Background()) }()
		synctest.Wait()
		close(release)
		if err := <-errc; !errors.Is(err, errBoom) {
			t.Errorf("Revalidate = %v, want the fetch's error", err)
		}
		if c.Fetches() != 3 || c.Refreshing() {
			t.Errorf("Fetches() = %d, Refreshing() = %v; want the running fetch joined", c.Fetches(), c.Refreshing())
		}
		if res, ok := c.Peek(); !ok || res.Value != 2 || !res.Stale {
			t.Errorf("Peek after a failed revalidation = %+v, %v; want the copy kept, stale", res, ok)
		}
	})
}

// TestNewDated: a value fetched before the call (another replica's copy)
// is as old as its fetch and expires with it; no time, or one ahead of this
// clock, is now.
func TestNewDated(t *testing.T) {
	tests := []struct {
		name        string
		fetchedAgo  time.Duration // before the call; negative is ahead of the clock
		zero        bool
		wantAge     time.Duration
		wantExpired bool // past the 30 s TTL
	}{
		{name: "fetched 20 s ago", fetchedAgo: 20 * time.Second, wantAge: 20 * time.Second},
		{name: "fetched 31 s ago is due at once", fetchedAgo: 31 * time.Second, wantAge: 31 * time.Second, wantExpired: true},
		{name: "no time is now", zero: true},
		{name: "a clock ahead of ours is now", fetchedAgo: -5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testkit.NewClock(epoch)
			at := epoch.Add(-tt.fetchedAgo)
			if tt.zero {
				at = time.Time{}
			}
			c, err := NewDated(func(context.Context) (int, time.Time, error) { return 7, at, nil },
				Options{TTL: 30 * time.Second, MaxStale: time.Hour, RetryInterval: time.Second, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Get(context.Background())
			if err != nil || res.Value != 7 {
				t.Fatalf("Get = %v, %v", res, err)
			}
			if res.Age != tt.wantAge {
				t.Errorf("age %s, want %s", res.Age, tt.wantAge)
			}
			if peek, _ := c.Peek(); peek.Revalidating != tt.wantExpired {
				t.Errorf("past the TTL: %v, want %v", peek.Revalidating, tt.wantExpired)
			}
		})
	}
}

// TestDueAndChanged: Due is how long until the clock alone changes what the
// cache holds (its TTL, a failed refresh's retry, the end of MaxStale);
// Changed is closed by every fetch that ends, whatever its outcome.
func TestDueAndChanged(t *testing.T) {
	clk := testkit.NewClock(epoch)
	f := &fakeFetch{}
	c := newCache(t, f.fetch, Options{TTL: 30 * time.Second, MaxStale: time.Hour, RetryInterval: 5 * time.Second, Now: clk.Now})
	if _, ok := c.Due(); ok {
		t.Fatal("Due with nothing held")
	}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	before := c.Changed()
	if _, err := c.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !closed(before) || closed(c.Changed()) {
		t.Fatal("a fetch did not close Changed, or closed the next one too")
	}
	steps := []struct {
		name    string
		advance time.Duration
		fail    bool // revalidate first, with the upstream failing
		want    time.Duration
		wantOK  bool
	}{
		{"fresh: until the TTL", 10 * time.Second, false, 20 * time.Second, true},
		{"past the TTL, nothing failed: until MaxStale ends", 25 * time.Second, false, time.Hour - 5*time.Second, true},
		{"a failed refresh: until its retry", 0, true, 5 * time.Second, true},
		{"the retry past: until MaxStale ends", 6 * time.Second, false, time.Hour - 11*time.Second, true},
		{"past MaxStale: nothing more", time.Hour, false, 0, false},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if s.fail {
			f.failWith(errors.New("upstream down"))
			ch := c.Changed()
			if err := c.Revalidate(t.Context()); err == nil {
				t.Fatalf("%s: the refresh did not fail", s.name)
			}
			if !closed(ch) {
				t.Fatalf("%s: a failed fetch did not close Changed", s.name)
			}
		}
		got, ok := c.Due()
		if got != s.want || ok != s.wantOK {
			t.Errorf("%s: Due = %s, %v; want %s, %v", s.name, got, ok, s.want, s.wantOK)
		}
	}
}
