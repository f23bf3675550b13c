package redis

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/httprate"
	goredis "github.com/redis/go-redis/v9"
)

// counterSync is how often a replica sends its request counts to Redis and
// reads back every replica's: a client's budget is one budget, give or take
// what the other replicas admit within it.
const counterSync = 100 * time.Millisecond

// counter is RATE_LIMIT's counter for every replica at once: httprate's
// sliding window, its counts kept in Redis under httprate's hashed keys.
//
// Written here rather than taken from httprate-redis, which does the same
// with two round trips to Redis inside every request (a GET of the counts,
// then a transaction incrementing them). In the bench's replicas scenario
// (RATE_LIMIT counting every request; a short run), that cost a replica
// 40–60 % of its cached throughput: RATE_LIMIT counts stored answers too,
// the service's cheapest and most frequent. This counter answers from memory
// and syncs in the background every counterSync, one pipeline for every
// key, so a request waits for no round trip but a client's first on this
// replica in a window (which reads the client's counts); the price is that
// replicas see each other's counts up to counterSync late.
type counter struct {
	c      *Client
	prefix string
	// local counts while Redis is down: httprate's own in-memory counter.
	local httprate.LimitCounter

	mu     sync.Mutex
	window time.Duration
	// pending are increments not yet sent, by Redis key; remote the counts
	// last read from Redis, every replica's (this one's sent increments
	// included); seen when each key was last asked for, so that keys no
	// request needs any more are dropped.
	// Keys are httprate's hashes of the client and window
	// (httprate.LimitCounterKey); the Redis key is made from one only when
	// it is sent, so that counting a request builds no string.
	pending  map[uint64]int
	inflight map[uint64]int // increments being sent: counted until remote has them
	remote   map[uint64]int
	seen     map[uint64]time.Time
	started  bool
}

// RateCounter is RATE_LIMIT's counter for every replica at once (counter).
func (c *Client) RateCounter(window time.Duration) httprate.LimitCounter {
	return &counter{
		c: c, prefix: c.key("ratelimit"), window: window,
		local:   httprate.NewLocalLimitCounter(window),
		pending: map[uint64]int{}, remote: map[uint64]int{}, seen: map[uint64]time.Time{},
	}
}

// Config is httprate's: the window, given once when the limiter is made.
func (k *counter) Config(requestLimit int, windowLength time.Duration) {
	k.mu.Lock()
	k.window = windowLength
	if !k.started {
		k.started = true
		k.c.every(counterSync, k.flush)
	}
	k.mu.Unlock()
	k.local.Config(requestLimit, windowLength)
}

func (k *counter) redisKey(h uint64) string {
	return k.prefix + ":" + strconv.FormatUint(h, 10)
}

// Increment counts one request of key in the window.
func (k *counter) Increment(key string, currentWindow time.Time) error {
	return k.IncrementBy(key, currentWindow, 1)
}

// IncrementBy counts amount requests of key in the window.
func (k *counter) IncrementBy(key string, currentWindow time.Time, amount int) error {
	if !k.c.Up() {
		return k.local.IncrementBy(key, currentWindow, amount)
	}
	rk := httprate.LimitCounterKey(key, currentWindow)
	k.mu.Lock()
	k.pending[rk] += amount
	k.seen[rk] = time.Now()
	k.mu.Unlock()
	return nil
}

// Get returns key's counts in the current and previous windows: every
// replica's as last read, and this one's not yet sent.
func (k *counter) Get(key string, currentWindow, previousWindow time.Time) (int, int, error) {
	if !k.c.Up() {
		return k.local.Get(key, currentWindow, previousWindow)
	}
	cur, prev := httprate.LimitCounterKey(key, currentWindow), httprate.LimitCounterKey(key, previousWindow)
	k.mu.Lock()
	if _, known := k.remote[cur]; !known {
		// The client's first request here in this window: its counts on
		// the other replicas are read now, one round trip (without the
		// lock), and synced in the background from then on.
		k.mu.Unlock()
		k.read(cur, prev)
		k.mu.Lock()
	}
	defer k.mu.Unlock()
	now := time.Now()
	k.seen[cur], k.seen[prev] = now, now
	return k.remote[cur] + k.inflight[cur] + k.pending[cur], k.remote[prev] + k.inflight[prev] + k.pending[prev], nil
}

// read reads keys' counts from Redis into remote; a failure marks Redis down
// and leaves them unknown.
func (k *counter) read(keys ...uint64) {
	ctx, cancel := context.WithTimeout(k.c.stopped, k.c.timeout)
	defer cancel()
	names := make([]string, len(keys))
	for i, h := range keys {
		names[i] = k.redisKey(h)
	}
	vals, err := k.c.rdb.MGet(ctx, names...).Result()
	if err != nil {
		k.c.failed(ctx, "rate_limit", err)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, v := range vals {
		n := 0
		if str, ok := v.(string); ok {
			n, _ = strconv.Atoi(str)
		}
		if _, ok := k.remote[keys[i]]; !ok {
			k.remote[keys[i]] = n
		}
	}
}

// flush is one sync, every counterSync: INCRBY and EXPIRE for each key with increments, GET
// for every key asked for within two windows, in one pipeline. On failure
// the increments are counted again next time, and Redis is marked down.
func (k *counter) flush() {
	k.mu.Lock()
	pending := k.pending
	k.pending, k.inflight = make(map[uint64]int, len(pending)), pending
	keys := make([]uint64, 0, len(k.seen))
	horizon := time.Now().Add(-2 * k.window)
	for rk, at := range k.seen {
		if at.Before(horizon) {
			delete(k.seen, rk)
			delete(k.remote, rk)
			continue
		}
		keys = append(keys, rk)
	}
	window := k.window
	k.mu.Unlock()
	if len(keys) == 0 {
		return // nothing asked for in two windows: nothing pending either
	}

	ctx, cancel := context.WithTimeout(k.c.stopped, k.c.timeout)
	defer cancel()
	gets := make([]*goredis.StringCmd, len(keys))
	_, err := k.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for h, n := range pending {
			rk := k.redisKey(h)
			p.IncrBy(ctx, rk, int64(n))
			// Two windows are read (current and previous); a third keeps
			// a key alive while the sliding window still reaches it.
			p.Expire(ctx, rk, 3*window)
		}
		for i, h := range keys {
			gets[i] = p.Get(ctx, k.redisKey(h))
		}
		return nil
	})
	if err != nil && !isNil(err) {
		k.mu.Lock()
		for rk, n := range pending {
			k.pending[rk] += n
		}
		k.inflight = nil
		k.mu.Unlock()
		k.c.failed(ctx, "rate_limit", err)
		return
	}
	k.mu.Lock()
	for i, rk := range keys {
		n, _ := gets[i].Int() // a key no replica has counted yet is redis.Nil: 0
		k.remote[rk] = n
	}
	k.inflight = nil
	k.mu.Unlock()
}

// isNil reports whether a pipeline's error is only a GET of an absent key.
func isNil(err error) bool { return err == goredis.Nil }
