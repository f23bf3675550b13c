// Package cache keeps one process-wide copy of a slowly changing value: fresh for
// a TTL, then served at once while one background refresh brings the next copy
// (RFC 5861 stale-while-revalidate), and served stale while refreshes fail
// (stale-if-error), both for up to MaxStale past the TTL. With no copy, or one
// older than that, callers wait for one shared fetch (singleflight).
package cache

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Options tunes a Cache. The durations are required (positive): their
// defaults are the service's configuration's (CACHE_TTL, CACHE_MAX_STALE,
// CACHE_REFRESH_RETRY), not this package's.
type Options struct {
	TTL time.Duration // how long a fetched value is fresh
	// MaxStale bounds stale-while-revalidate and stale-if-error: how long past
	// its TTL a value may still be served while it is refreshed or while
	// refreshes fail.
	MaxStale time.Duration
	// RetryInterval spaces refreshes while a stale copy is being served: after
	// a failed refresh, requests get the stale copy at once and the next
	// refresh waits this long, so a failing upstream sees at most one refresh
	// per interval rather than one per request. With no copy at all every
	// request tries (an error is never served from the cache).
	RetryInterval time.Duration
	Now           func() time.Time // injectable clock for tests
}

// Result is what Get returns: the value and how old it is.
type Result[T any] struct {
	Value     T
	FetchedAt time.Time
	Age       time.Duration
	// Stale is true when the value is past its TTL and a refresh has failed
	// since it was fetched; RefreshErr is that failure. A value past its TTL
	// whose refresh is still running is not stale: nothing has gone wrong.
	Stale      bool
	RefreshErr error
	// Refreshed is true when this call waited for a fetch (a cache miss).
	Refreshed bool
	// Revalidating is true when the value is past its TTL and was served
	// without waiting while a refresh runs in the background.
	Revalidating bool
}

type entry[T any] struct {
	value     T
	fetchedAt time.Time
}

type failure struct {
	at  time.Time
	err error
}

// Cache is safe for concurrent use. A value is swapped in whole, with one atomic
// store, so readers never see a half-applied refresh.
type Cache[T any] struct {
	fetch         func(context.Context) (T, time.Time, error)
	ttl           time.Duration
	maxStale      time.Duration
	retryInterval time.Duration
	now           func() time.Time

	cur    atomic.Pointer[entry[T]]
	failed atomic.Pointer[failure] // the last refresh failure, cleared by a success
	flight singleflight.Group
	calls  atomic.Int64 // fetches started
	done   atomic.Int64 // fetches finished
	// changed is closed, and replaced, when a fetch ends (Changed).
	changed atomic.Pointer[chan struct{}]
}

// New returns a cache around fetch. fetch must bound its own run time: it runs
// detached from any one caller's cancellation, because other callers share it.
func New[T any](fetch func(context.Context) (T, error), opts Options) (*Cache[T], error) {
	return NewDated(func(ctx context.Context) (T, time.Time, error) {
		v, err := fetch(ctx)
		return v, time.Time{}, err
	}, opts)
}

// NewDated is New around a fetch that also says when its value was fetched,
// which may be before the call: a copy another replica fetched and shared
// (internal/redis) is as old as that fetch, and expires when it does, on
// every replica at once. A zero time means now.
func NewDated[T any](fetch func(context.Context) (T, time.Time, error), opts Options) (*Cache[T], error) {
	if opts.TTL <= 0 || opts.MaxStale <= 0 || opts.RetryInterval <= 0 {
		return nil, fmt.Errorf("cache options: TTL (%s), max stale (%s) and retry interval (%s) must be positive",
			opts.TTL, opts.MaxStale, opts.RetryInterval)
	}
	c := &Cache[T]{fetch: fetch, ttl: opts.TTL, maxStale: opts.MaxStale, retryInterval: opts.RetryInterval, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	changed := make(chan struct{})
	c.changed.Store(&changed)
	return c, nil
}

// Get returns the cached value while fresh. Past its TTL, within MaxStale, it
// returns the value at once and starts a refresh in the background (one at a
// time; after a failed one, not before RetryInterval has passed), marked Stale
// once a refresh has failed. With no value, or one past TTL + MaxStale, it
// waits for a fetch shared with every concurrent caller, and returns its error
// if it fails: errors are not cached.
func (c *Cache[T]) Get(ctx context.Context) (Result[T], error) {
	if res, ok := c.Current(ctx); ok {
		return res, nil
	}
	var res singleflight.Result
	select {
	case res = <-c.refresh(ctx):
	case <-ctx.Done():
		return Result[T]{}, fmt.Errorf("wait for refresh: %w", context.Cause(ctx))
	}
	if res.Err != nil {
		return Result[T]{}, res.Err
	}
	e := res.Val.(*entry[T])
	return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: c.now().Sub(e.fetchedAt), Refreshed: true}, nil
}

// Current is Get without the wait: the value, if one may be served now
// (fresh, or past its TTL within MaxStale, starting the background refresh
// that is due), and false when a caller would have to wait for a fetch.
// Requests answered from what was built from the value (stored answers) call
// it, so that they too keep the value revalidated.
func (c *Cache[T]) Current(ctx context.Context) (Result[T], bool) {
	res, ok := c.Peek()
	if !ok || res.Age > c.ttl+c.maxStale {
		return Result[T]{}, false
	}
	if res.Revalidating {
		if f := c.failed.Load(); f == nil || c.now().Sub(f.at) >= c.retryInterval {
			_ = c.refresh(ctx) // in the background: the outcome is stored, the channel buffered
		}
	}
	return res, true
}

// Revalidate fetches now, or joins the fetch running, and waits for it: what
// the background refresh due past the TTL does, waited for. It returns the
// fetch's error; the copy held is kept either way.
func (c *Cache[T]) Revalidate(ctx context.Context) error {
	select {
	case res := <-c.refresh(ctx):
		return res.Err
	case <-ctx.Done():
		return fmt.Errorf("wait for refresh: %w", context.Cause(ctx))
	}
}

// refresh starts the fetch, or joins the one running, and returns where its
// result arrives. The fetch is detached from ctx's cancellation: the first
// caller leaving must not fail the others waiting on the same call; its
// values (trace ids) are kept.
func (c *Cache[T]) refresh(ctx context.Context) <-chan singleflight.Result {
	return c.flight.DoChan("refresh", func() (any, error) {
		c.calls.Add(1)
		defer c.done.Add(1)
		v, at, err := c.fetch(context.WithoutCancel(ctx))
		defer c.notify()
		if err != nil {
			c.failed.Store(&failure{at: c.now(), err: err})
			return nil, err
		}
		if now := c.now(); at.IsZero() || at.After(now) {
			at = now // a neighbour's clock ahead of ours must not make a copy fresh for longer
		}
		e := &entry[T]{value: v, fetchedAt: at}
		c.cur.Store(e)
		c.failed.Store(nil)
		return e, nil
	})
}

// Peek returns the current value without refreshing, and whether there is one.
// Stale is as Get would say it: past the TTL with a failed refresh, and, as
// Get would not serve it at all, past TTL + MaxStale.
func (c *Cache[T]) Peek() (Result[T], bool) {
	e := c.cur.Load()
	if e == nil {
		return Result[T]{}, false
	}
	age := c.now().Sub(e.fetchedAt)
	res := Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: age}
	if age >= c.ttl {
		res.Revalidating = true
		if f := c.failed.Load(); f != nil {
			res.Stale, res.RefreshErr = true, f.err
		}
		if age > c.ttl+c.maxStale {
			res.Stale = true
		}
	}
	return res, true
}

// Changed returns a channel closed when the next fetch ends, whatever its
// outcome (a new value, the same one again, a failure): what Peek says may
// have changed. Take it before reading the value, so that a fetch ending in
// between is not missed.
func (c *Cache[T]) Changed() <-chan struct{} { return *c.changed.Load() }

// notify closes the channel Changed returned, for a new one.
func (c *Cache[T]) notify() {
	next := make(chan struct{})
	close(*c.changed.Swap(&next))
}

// Due says how long from now the value held changes by the clock alone:
// its TTL passes (Current then starts a refresh), the retry after a failed
// refresh falls due, or it passes TTL + MaxStale (no longer served). False
// when no value is held, or none may be served any more; in between, a
// fetch ending (Changed) is what changes it.
func (c *Cache[T]) Due() (time.Duration, bool) {
	e := c.cur.Load()
	if e == nil {
		return 0, false
	}
	now := c.now()
	age := now.Sub(e.fetchedAt)
	if age < c.ttl {
		return c.ttl - age, true
	}
	left := c.ttl + c.maxStale - age
	if left < 0 {
		return 0, false
	}
	if f := c.failed.Load(); f != nil {
		if retry := c.retryInterval - now.Sub(f.at); retry > 0 && retry < left {
			return retry, true
		}
	}
	return left, true
}

// Refreshing reports whether a fetch is running.
func (c *Cache[T]) Refreshing() bool { return c.calls.Load() != c.done.Load() }

// Fetches counts refresh calls made so far (successful or not).
func (c *Cache[T]) Fetches() int64 { return c.calls.Load() }
