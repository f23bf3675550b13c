// Package cache keeps one process-wide copy of a slowly changing value: fresh for
// a TTL, refreshed by one shared call however many callers miss at once
// (singleflight), and served stale when a refresh fails (RFC 5861 stale-if-error).
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
	// MaxStale bounds stale-if-error: how long past its TTL a value may still be
	// served while refreshes fail.
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
	// Stale is true when the value is past its TTL and the refresh failed;
	// RefreshErr is that failure.
	Stale      bool
	RefreshErr error
	// Refreshed is true when this call waited for a refresh (a cache miss).
	Refreshed bool
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
	fetch         func(context.Context) (T, error)
	ttl           time.Duration
	maxStale      time.Duration
	retryInterval time.Duration
	now           func() time.Time

	cur    atomic.Pointer[entry[T]]
	failed atomic.Pointer[failure] // the last refresh failure, cleared by a success
	flight singleflight.Group
	calls  atomic.Int64
}

// New returns a cache around fetch. fetch must bound its own run time: it runs
// detached from any one caller's cancellation, because other callers share it.
func New[T any](fetch func(context.Context) (T, error), opts Options) (*Cache[T], error) {
	if opts.TTL <= 0 || opts.MaxStale <= 0 || opts.RetryInterval <= 0 {
		return nil, fmt.Errorf("cache options: TTL (%s), max stale (%s) and retry interval (%s) must be positive",
			opts.TTL, opts.MaxStale, opts.RetryInterval)
	}
	c := &Cache[T]{fetch: fetch, ttl: opts.TTL, maxStale: opts.MaxStale, retryInterval: opts.RetryInterval, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Get returns the cached value while fresh; otherwise it refreshes (sharing the
// call with concurrent callers) and returns the new value, or the old one marked
// stale when the refresh fails and the old one is within MaxStale. Errors are not
// cached: with no value, the next Get after a failure tries again; with a stale
// value, it tries again after RetryInterval.
func (c *Cache[T]) Get(ctx context.Context) (Result[T], error) {
	if e := c.cur.Load(); e != nil {
		now := c.now()
		age := now.Sub(e.fetchedAt)
		if age < c.ttl {
			return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: age}, nil
		}
		if f := c.failed.Load(); f != nil && now.Sub(f.at) < c.retryInterval && age <= c.ttl+c.maxStale {
			return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: age, Stale: true, RefreshErr: f.err}, nil
		}
	}

	ch := c.flight.DoChan("refresh", func() (any, error) {
		// Detached from ctx: the first caller leaving must not fail the others
		// waiting on the same call. Values (trace ids) are kept.
		c.calls.Add(1)
		v, err := c.fetch(context.WithoutCancel(ctx))
		if err != nil {
			c.failed.Store(&failure{at: c.now(), err: err})
			return nil, err
		}
		e := &entry[T]{value: v, fetchedAt: c.now()}
		c.cur.Store(e)
		c.failed.Store(nil)
		return e, nil
	})

	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return Result[T]{}, fmt.Errorf("wait for refresh: %w", context.Cause(ctx))
	}
	if res.Err == nil {
		e := res.Val.(*entry[T])
		return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: c.now().Sub(e.fetchedAt), Refreshed: true}, nil
	}
	if e := c.cur.Load(); e != nil {
		if age := c.now().Sub(e.fetchedAt); age <= c.ttl+c.maxStale {
			return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: age, Stale: true, RefreshErr: res.Err, Refreshed: true}, nil
		}
	}
	return Result[T]{}, res.Err
}

// Peek returns the current value without refreshing, and whether there is one.
func (c *Cache[T]) Peek() (Result[T], bool) {
	e := c.cur.Load()
	if e == nil {
		return Result[T]{}, false
	}
	age := c.now().Sub(e.fetchedAt)
	return Result[T]{Value: e.value, FetchedAt: e.fetchedAt, Age: age, Stale: age >= c.ttl}, true
}

// Fetches counts refresh calls made so far (successful or not).
func (c *Cache[T]) Fetches() int64 { return c.calls.Load() }
