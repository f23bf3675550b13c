// Package redis keeps what the service's replicas share in Redis, through
// go-redis: one configuration copy with a lease so that one replica refreshes
// it per TTL, its version changes published to every replica, APQ
// registrations, and the rate limits' counters. Redis trouble is never an
// outage: a command that fails or outlasts REDIS_TIMEOUT marks Redis down,
// and until a ping answers again every replica uses its own state, as it does
// without REDIS_URL.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// Options configures a Client; every field is required.
type Options struct {
	URL     string        // REDIS_URL; may hold a password, never shown
	Prefix  string        // REDIS_PREFIX: the start of every key and channel
	Timeout time.Duration // REDIS_TIMEOUT: bound on one command
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
}

// probeInterval spaces the pings that look for Redis again while it is
// down: a replica rejoins within it of Redis answering.
const probeInterval = time.Second

// Client is the connection to Redis and what the replica knows of its
// health. It is safe for concurrent use.
type Client struct {
	rdb     *goredis.Client
	prefix  string
	timeout time.Duration
	logger  *slog.Logger
	metrics *telemetry.Metrics

	down  atomic.Bool
	since atomic.Pointer[outage]

	stop    context.CancelFunc
	stopped context.Context
	wg      sync.WaitGroup
}

// outage is what readiness shows while Redis is down.
type outage struct {
	since time.Time
	op    string
}

// New connects to the Redis of opts.URL. Redis need not be up: the first
// command that fails marks it down, and the replica works alone meanwhile.
func New(opts Options) (*Client, error) {
	if opts.Logger == nil || opts.Metrics == nil || opts.Prefix == "" || opts.Timeout <= 0 {
		return nil, errors.New("redis: a logger, metrics, a prefix and a positive timeout are required")
	}
	ro, err := goredis.ParseURL(opts.URL)
	if err != nil {
		// go-redis's message may quote the URL, and with it the password.
		return nil, errors.New("REDIS_URL: not a redis:// or rediss:// URL go-redis accepts")
	}
	// Short, bounded commands and no retries: a replica that cannot reach
	// Redis within REDIS_TIMEOUT uses its own state rather than make a
	// request wait.
	ro.DialTimeout = 2 * opts.Timeout
	ro.ReadTimeout = opts.Timeout
	ro.WriteTimeout = opts.Timeout
	ro.MaxRetries = -1
	ro.DialerRetries = 1 // its default, 5 with backoff, would hold the first failing command for seconds
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true // CLIENT SETINFO is noise on servers before 7.2
	// go-redis logs each failed dial itself, unstructured, on stderr; the
	// replica logs an outage once, and counts every failure in metrics.
	goredis.SetLogger(quiet{})
	stopped, stop := context.WithCancel(context.Background())
	c := &Client{
		rdb: goredis.NewClient(ro), prefix: opts.Prefix, timeout: opts.Timeout,
		logger: opts.Logger, metrics: opts.Metrics, stop: stop, stopped: stopped,
	}
	opts.Metrics.ObserveRedis(true)
	// The address, never the URL: it may hold a password.
	opts.Logger.Info("sharing the configuration copy, APQ registrations and rate limits with other replicas through Redis",
		"addr", ro.Addr, "db", ro.DB, "prefix", opts.Prefix, "tls", ro.TLSConfig != nil)
	return c, nil
}

// quiet is go-redis's logger: silent (SetLogger stores it atomically, once
// per client made; it is go-redis's one process-wide setting).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Close stops the probe and closes the connections.
func (c *Client) Close() error {
	c.stop()
	c.wg.Wait()
	return c.rdb.Close()
}

// Up reports whether Redis answered the last command: while it does not,
// callers use their own state without trying it.
func (c *Client) Up() bool { return !c.down.Load() }

// key is the Redis key of parts, below the prefix.
func (c *Client) key(parts ...string) string {
	k := c.prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// Hash names a value that must not be in a key in clear (an appId, a
// client's id): 16 bytes of its SHA-256, in hex.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// failed records err from a command made for op. A caller that went away
// says nothing of Redis; any other error marks it down: the first is
// logged, once per outage, and a probe starts that marks it up again.
func (c *Client) failed(ctx context.Context, op string, err error) {
	if err == nil || errors.Is(err, goredis.Nil) || (ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		return
	}
	c.metrics.ObserveRedisError(op)
	if c.down.Swap(true) {
		return
	}
	c.since.Store(&outage{since: time.Now(), op: op})
	c.metrics.ObserveRedis(false)
	c.logger.Warn("redis unavailable: this replica uses its own configuration copy, APQ registrations and rate limits until it answers again",
		"operation", op, "err", err)
	c.tick(probeInterval, c.probe)
}

// probe pings Redis, and when it answers marks it up and ends the probing
// (tick's stop).
func (c *Client) probe() (stop bool) {
	ctx, cancel := context.WithTimeout(c.stopped, c.timeout)
	defer cancel()
	if c.rdb.Ping(ctx).Err() != nil {
		return false
	}
	c.since.Store(nil)
	c.down.Store(false)
	c.metrics.ObserveRedis(true)
	c.logger.Info("redis available again: this replica shares its state again")
	return true
}

// Ready is Redis's part of GET /readyz's details. Redis down does not make
// the replica unready: it serves on its own.
func (c *Client) Ready() map[string]any {
	o := c.since.Load()
	if o == nil {
		return map[string]any{"status": "up"}
	}
	return map[string]any{
		"status":        "unavailable",
		"downSeconds":   int64(time.Since(o.since).Seconds()),
		"failedCommand": o.op,
		"consequences":  "this replica uses its own configuration copy, APQ registrations and rate limits",
	}
}

// every runs fn every interval while Redis is up, until the client closes:
// the background syncs of the shared counts.
func (c *Client) every(interval time.Duration, fn func()) {
	c.tick(interval, func() bool {
		if c.Up() {
			fn()
		}
		return false
	})
}

// tick runs fn every interval in a goroutine of its own until fn says stop
// or the client closes (Close waits for it).
func (c *Client) tick(interval time.Duration, fn func() (stop bool)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.stopped.Done():
				return
			case <-t.C:
			}
			if fn() {
				return
			}
		}
	}()
}

// Ping checks that Redis answers now (start-up, tests).
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.failed(ctx, "ping", err)
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
