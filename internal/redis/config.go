package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// Upstream fetches the configuration with the body it came in;
// *tanmarket.Client is one.
type Upstream interface {
	Fetch(ctx context.Context) (*tanmarket.Answer, error)
}

// ConfigOptions configures a SharedConfig; every field but Now is required.
type ConfigOptions struct {
	// Tenant names the copy among others in the same Redis: Hash of the
	// appId and upstream URL, so that two accounts never share one.
	Tenant string
	TTL    time.Duration // CACHE_TTL: how long the shared copy is fresh
	// MaxStale is CACHE_MAX_STALE: the shared copy expires from Redis at
	// TTL + MaxStale, the oldest copy any replica would serve.
	MaxStale time.Duration
	// RetryInterval is CACHE_REFRESH_RETRY: after a failed shared refresh,
	// no replica calls the upstream again before it has passed.
	RetryInterval time.Duration
	// Lease bounds one refresh (UPSTREAM_BUDGET and a margin): a replica
	// that dies while refreshing holds the others back no longer.
	Lease   time.Duration
	Now     func() time.Time // nil: time.Now; tests move it with the cache's
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
}

// SharedConfig is the configuration copy all replicas share: a
// configsource.DatedFetcher. When the local copy is due, it reads the shared
// one; when that is due too, one replica takes the lease and calls the
// upstream for all, and the others wait for its result. Redis down, it calls
// the upstream itself.
type SharedConfig struct {
	c        *Client
	up       Upstream
	opts     ConfigOptions
	now      func() time.Time
	copyKey  string
	leaseKey string
	channel  string
	// last is the snapshot decoded last, so that a replica decodes each
	// version once, not once per TTL.
	last atomic.Pointer[opportunity.Snapshot]
}

// Fields of the copy's hash.
const (
	fieldBody      = "body"      // the upstream's answer, as tanmarket.Decode reads it
	fieldVersion   = "version"   // its snapshot's version
	fieldFetchedAt = "fetchedAt" // Unix milliseconds of the fetch, by the fetching replica's clock
	fieldFailedAt  = "failedAt"  // Unix milliseconds of the last failed refresh, if any since
	fieldFailure   = "failure"   // what failed (tanmarket's scrubbed message)
	fieldKind      = "kind"      // tanmarket.Kind of the failure
)

// waitPoll spaces the checks of a replica waiting for another's refresh:
// a refresh takes tens of milliseconds to seconds, and a check is one
// round trip.
const waitPoll = 25 * time.Millisecond

// NewConfig returns the shared copy in front of up.
func (c *Client) NewConfig(up Upstream, opts ConfigOptions) (*SharedConfig, error) {
	if up == nil || opts.Tenant == "" || opts.TTL <= 0 || opts.MaxStale <= 0 || opts.RetryInterval <= 0 || opts.Lease <= 0 || opts.Logger == nil || opts.Metrics == nil {
		return nil, errors.New("shared configuration: an upstream, a tenant, positive durations, a logger and metrics are required")
	}
	s := &SharedConfig{
		c: c, up: up, opts: opts, now: opts.Now,
		copyKey:  c.key(opts.Tenant, "config"),
		leaseKey: c.key(opts.Tenant, "config", "lease"),
		channel:  c.key(opts.Tenant, "config", "versions"),
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// OpportunityConfig is OpportunityConfigAt without the time.
func (s *SharedConfig) OpportunityConfig(ctx context.Context) (*opportunity.Snapshot, error) {
	snap, _, err := s.OpportunityConfigAt(ctx)
	return snap, err
}

// shared is the copy's hash as read.
type shared struct {
	version   string
	fetchedAt time.Time // zero: no copy
	failedAt  time.Time // zero: no failure since the copy
	failure   string
	kind      tanmarket.Kind
}

// OpportunityConfigAt returns the shared copy and when it was fetched. It is
// the configuration cache's fetch, called when this replica's copy is due,
// once at a time; it bounds its own run by the lease, twice over (waiting
// for another replica's lease, then its own).
func (s *SharedConfig) OpportunityConfigAt(ctx context.Context) (*opportunity.Snapshot, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.opts.Lease+s.c.timeout)
	defer cancel()
	waited := false
	for {
		if !s.c.Up() {
			return s.alone(ctx)
		}
		cur, err := s.read(ctx)
		if err != nil {
			s.c.failed(ctx, "config", err)
			return s.alone(ctx)
		}
		now := s.now()
		if !cur.fetchedAt.IsZero() && now.Sub(cur.fetchedAt) < s.opts.TTL {
			snap, err := s.decode(ctx, cur)
			if err != nil {
				// A copy no replica could decode is no copy: fetch anew;
				// so with Redis gone between two commands.
				if s.c.Up() {
					s.opts.Logger.WarnContext(ctx, "shared configuration copy unreadable; fetching", "err", err)
				}
				return s.alone(ctx)
			}
			s.observe(waited, "read")
			return snap, cur.fetchedAt, nil
		}
		if !cur.failedAt.IsZero() && now.Sub(cur.failedAt) < s.opts.RetryInterval {
			// Another replica's refresh failed a moment ago: its failure is
			// this one's, and the upstream is spared one call per replica.
			s.opts.Metrics.ObserveSharedConfig("failed")
			return nil, time.Time{}, &tanmarket.Error{Kind: cur.kind, Message: "shared refresh failed: " + cur.failure}
		}
		token := newToken()
		ok, err := s.c.rdb.SetNX(ctx, s.leaseKey, token, s.opts.Lease).Result()
		if err != nil {
			s.c.failed(ctx, "lease", err)
			return s.alone(ctx)
		}
		if ok {
			return s.fetch(ctx, token, cur)
		}
		waited = true
		if err := s.wait(ctx, cur); err != nil {
			if ctx.Err() != nil {
				return nil, time.Time{}, &tanmarket.Error{Kind: tanmarket.KindUnavailable, Message: "waited for another replica's refresh past its lease", Err: ctx.Err()}
			}
			s.c.failed(ctx, "lease", err)
			return s.alone(ctx)
		}
	}
}

// observe counts a refresh by how it ended; a copy read after waiting for
// another replica's fetch is "waited".
func (s *SharedConfig) observe(waited bool, result string) {
	if waited {
		result = "waited"
	}
	s.opts.Metrics.ObserveSharedConfig(result)
}

// read reads the copy's hash.
func (s *SharedConfig) read(ctx context.Context) (shared, error) {
	// Not the body: a replica reads it only for a version it has not
	// decoded (decode), not every TTL.
	v, err := s.c.rdb.HMGet(ctx, s.copyKey, fieldVersion, fieldFetchedAt, fieldFailedAt, fieldFailure, fieldKind).Result()
	if err != nil {
		return shared{}, err
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	cur := shared{version: str(0), failure: str(3)}
	if ms, err := strconv.ParseInt(str(1), 10, 64); err == nil && cur.version != "" {
		cur.fetchedAt = time.UnixMilli(ms)
	}
	if ms, err := strconv.ParseInt(str(2), 10, 64); err == nil {
		cur.failedAt = time.UnixMilli(ms)
	}
	if k, err := strconv.Atoi(str(4)); err == nil {
		cur.kind = tanmarket.Kind(k)
	}
	return cur, nil
}

// decode returns the snapshot of cur's version: the one decoded last, or
// the copy's body, read and decoded once per version. A failed read marks
// Redis down.
func (s *SharedConfig) decode(ctx context.Context, cur shared) (*opportunity.Snapshot, error) {
	if last := s.last.Load(); last != nil && last.Version() == cur.version {
		return last, nil
	}
	body, err := s.c.rdb.HGet(ctx, s.copyKey, fieldBody).Bytes()
	if err != nil {
		s.c.failed(ctx, "config", err)
		return nil, fmt.Errorf("read shared copy: %w", err)
	}
	snap, err := tanmarket.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode shared copy: %w", err)
	}
	if snap.Version() != cur.version {
		return nil, fmt.Errorf("decode shared copy: version %s, the copy says %s", snap.Version(), cur.version)
	}
	s.last.Store(snap)
	return snap, nil
}

// fetch calls the upstream for every replica under the lease, stores what it
// brings (or its failure) and publishes a new version.
func (s *SharedConfig) fetch(ctx context.Context, token string, prev shared) (*opportunity.Snapshot, time.Time, error) {
	defer s.release(token)
	answer, err := s.up.Fetch(ctx)
	now := s.now()
	if err != nil {
		kind := tanmarket.KindUnavailable
		if e, ok := errors.AsType[*tanmarket.Error](err); ok {
			kind = e.Kind
		}
		// tanmarket's messages are scrubbed of credentials; the copy is kept.
		_, werr := s.c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, s.copyKey, fieldFailedAt, now.UnixMilli(), fieldFailure, err.Error(), fieldKind, int(kind))
			// A failure with no copy yet makes the hash: it expires too,
			// and a copy's own expiry is not moved by its failures.
			p.ExpireNX(ctx, s.copyKey, s.opts.TTL+s.opts.MaxStale)
			return nil
		})
		if werr != nil {
			s.c.failed(ctx, "config", werr)
		}
		s.opts.Metrics.ObserveSharedConfig("fetched")
		return nil, time.Time{}, err
	}
	snap := answer.Snapshot
	s.last.Store(snap)
	_, werr := s.c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, s.copyKey, fieldBody, answer.Body, fieldVersion, snap.Version(), fieldFetchedAt, now.UnixMilli())
		p.HDel(ctx, s.copyKey, fieldFailedAt, fieldFailure, fieldKind)
		p.PExpire(ctx, s.copyKey, s.opts.TTL+s.opts.MaxStale)
		return nil
	})
	if werr != nil {
		// Served here all the same; the others fetch for themselves.
		s.c.failed(ctx, "config", werr)
	} else if snap.Version() != prev.version {
		if perr := s.c.rdb.Publish(ctx, s.channel, snap.Version()).Err(); perr != nil {
			s.c.failed(ctx, "publish", perr)
		}
	}
	s.opts.Metrics.ObserveSharedConfig("fetched")
	return snap, now, nil
}

// releaseLease deletes the lease only if it is still this replica's: one
// that outlived its lease must not free another replica's.
var releaseLease = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// release gives the lease back, so that a failed refresh does not hold the
// others for the rest of it; on its own it expires anyway.
func (s *SharedConfig) release(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	if err := releaseLease.Run(ctx, s.c.rdb, []string{s.leaseKey}, token).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		s.c.failed(ctx, "lease", err)
	}
}

// wait returns when the refresh of another replica has ended: the copy's
// fetch or failure time moved, or its lease is gone (ended or expired).
func (s *SharedConfig) wait(ctx context.Context, prev shared) error {
	t := time.NewTicker(waitPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		var times *goredis.SliceCmd
		var lease *goredis.IntCmd
		_, err := s.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			times = p.HMGet(ctx, s.copyKey, fieldFetchedAt, fieldFailedAt)
			lease = p.Exists(ctx, s.leaseKey)
			return nil
		})
		if err != nil {
			return err
		}
		v := times.Val()
		if lease.Val() == 0 || millis(v[0]) != unixMilli(prev.fetchedAt) || millis(v[1]) != unixMilli(prev.failedAt) {
			return nil
		}
	}
}

// millis reads an HMGET value of Unix milliseconds; 0 when absent.
func millis(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// alone calls the upstream for this replica only, as without Redis.
func (s *SharedConfig) alone(ctx context.Context) (*opportunity.Snapshot, time.Time, error) {
	s.opts.Metrics.ObserveSharedConfig("alone")
	answer, err := s.up.Fetch(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	s.last.Store(answer.Snapshot)
	return answer.Snapshot, time.Time{}, nil
}

// Versions calls changed with each version another replica (or this one)
// publishes, until ctx ends: the replica then revalidates its copy, so that
// its subscribers hear of a change within a second of the replica that
// fetched it. go-redis resubscribes by itself after Redis comes back.
func (s *SharedConfig) Versions(ctx context.Context, changed func(version string)) {
	ps := s.c.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			changed(m.Payload)
		}
	}
}

// newToken is a lease's owner: random, so no two refreshes share one.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
