package redis_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/redis"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// These tests run against a real redis-server (testkit.StartRedis). The
// upstream here is a counting fake that answers with the simulator's real
// wire body, decoded by tanmarket.Decode as a fetched one would be; the
// service's own tests (internal/server) put the real signed client and the
// simulator behind it.

const prefix = "t:"

// upstream answers with body after delay, counting calls; fail makes it
// answer an unavailable error instead.
type upstream struct {
	body  []byte
	delay time.Duration
	fail  atomic.Bool
	calls atomic.Int64
}

func (u *upstream) Fetch(ctx context.Context) (*tanmarket.Answer, error) {
	u.calls.Add(1)
	select {
	case <-time.After(u.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if u.fail.Load() {
		return nil, &tanmarket.Error{Kind: tanmarket.KindUnavailable, Message: "unexpected HTTP status 503 Service Unavailable"}
	}
	snap, err := tanmarket.Decode(u.body)
	if err != nil {
		return nil, err
	}
	return &tanmarket.Answer{Snapshot: snap, Body: u.body}, nil
}

func demoBody(t *testing.T) []byte {
	t.Helper()
	return []byte(`{"code":0,"message":"ok","data":` + string(simulator.DemoDataset()) + `}`)
}

func newClient(t *testing.T, url string) (*redis.Client, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	c, err := redis.New(redis.Options{URL: url, Prefix: prefix, Timeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: telemetry.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, logs
}

// waitUp waits, at most 5 s, for c's probe to find Redis answering again
// (it pings every second).
func waitUp(t *testing.T, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Up() {
		if time.Now().After(deadline) {
			t.Fatal("Redis answers again but the client never saw it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newShared(t *testing.T, c *redis.Client, up redis.Upstream, now func() time.Time) *redis.SharedConfig {
	t.Helper()
	s, err := c.NewConfig(up, redis.ConfigOptions{Tenant: redis.Hash("app"), TTL: 30 * time.Second, MaxStale: time.Hour,
		RetryInterval: time.Second, Lease: 5 * time.Second, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: telemetry.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOneFetchForAllReplicas: three replicas asking at once, cold, make
// one upstream call; the others wait for it and get the same version and
// fetch time. Once the TTL passes, again one call between them.
func TestOneFetchForAllReplicas(t *testing.T) {
	rs := testkit.StartRedis(t)
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	up := &upstream{body: demoBody(t), delay: 100 * time.Millisecond}
	var replicas []*redis.SharedConfig
	for range 3 {
		c, _ := newClient(t, rs.URL())
		replicas = append(replicas, newShared(t, c, up, clock.Now))
	}
	fetchAll := func() []time.Time {
		var wg sync.WaitGroup
		at := make([]time.Time, len(replicas))
		versions := make([]string, len(replicas))
		for i, r := range replicas {
			wg.Go(func() {
				snap, when, err := r.OpportunityConfigAt(context.Background())
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
					return
				}
				at[i], versions[i] = when, snap.Version()
			})
		}
		wg.Wait()
		for i := range versions {
			if versions[i] != versions[0] || !at[i].Equal(at[0]) {
				t.Errorf("replica %d has version %s fetched at %s; replica 0 %s at %s", i, versions[i], at[i], versions[0], at[0])
			}
		}
		return at
	}
	first := fetchAll()
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("cold: %d upstream calls for three replicas, want 1", got)
	}
	clock.Advance(10 * time.Second) // fresh: read, no call
	fetchAll()
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("fresh: %d upstream calls, want still 1", got)
	}
	clock.Advance(25 * time.Second) // past the TTL
	again := fetchAll()
	if got := up.calls.Load(); got != 2 {
		t.Fatalf("past the TTL: %d upstream calls, want 2", got)
	}
	if !again[0].After(first[0]) {
		t.Errorf("refreshed copy fetched at %s, not after the first (%s)", again[0], first[0])
	}
}

// TestFailureIsShared: a failed refresh is every replica's failure for
// RETRY_INTERVAL, not one more upstream call each.
func TestFailureIsShared(t *testing.T) {
	rs := testkit.StartRedis(t)
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	up := &upstream{body: demoBody(t)}
	up.fail.Store(true)
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	a, b := newShared(t, c1, up, clock.Now), newShared(t, c2, up, clock.Now)
	if _, err := a.OpportunityConfig(context.Background()); !errors.Is(err, tanmarket.ErrUnavailable) {
		t.Fatalf("first: %v, want unavailable", err)
	}
	_, err := b.OpportunityConfig(context.Background())
	if !errors.Is(err, tanmarket.ErrUnavailable) || !strings.Contains(err.Error(), "shared refresh failed") {
		t.Fatalf("second replica: %v, want the shared failure", err)
	}
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("%d upstream calls, want 1", got)
	}
	clock.Advance(2 * time.Second)
	up.fail.Store(false)
	if _, err := b.OpportunityConfig(context.Background()); err != nil {
		t.Fatalf("after the retry interval: %v", err)
	}
	if got := up.calls.Load(); got != 2 {
		t.Fatalf("%d upstream calls, want 2", got)
	}
}

// TestRedisDown: with Redis gone a replica calls the upstream itself, logs
// it once, says so in readiness, and shares again once Redis is back.
func TestRedisDown(t *testing.T) {
	rs := testkit.StartRedis(t)
	up := &upstream{body: demoBody(t)}
	c, logs := newClient(t, rs.URL())
	s := newShared(t, c, up, nil)
	if _, err := s.OpportunityConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	for i := range 3 {
		start := time.Now()
		if _, err := s.OpportunityConfig(context.Background()); err != nil {
			t.Fatalf("call %d with Redis down: %v", i, err)
		}
		if d := time.Since(start); i > 0 && d > 100*time.Millisecond {
			t.Errorf("call %d with Redis known down took %s: it should not try Redis", i, d)
		}
	}
	if c.Up() {
		t.Error("Up() with Redis down")
	}
	if got := c.Ready()["status"]; got != "unavailable" {
		t.Errorf("readiness status %v, want unavailable", got)
	}
	if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d log lines for one outage, want 1:\n%s", n, logs)
	}
	rs.Start()
	waitUp(t, c)
	if got := c.Ready()["status"]; got != "up" {
		t.Errorf("readiness status %v after Redis returned, want up", got)
	}
	if !strings.Contains(logs.String(), "redis available again") {
		t.Errorf("no log line when Redis returned:\n%s", logs)
	}
}

// TestVersionsArePublished: a replica that fetches a new version tells the
// others at once.
func TestVersionsArePublished(t *testing.T) {
	rs := testkit.StartRedis(t)
	up := &upstream{body: demoBody(t)}
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	fetcher, listener := newShared(t, c1, up, nil), newShared(t, c2, up, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan string, 1)
	go listener.Versions(ctx, func(v string) { heard <- v })
	time.Sleep(200 * time.Millisecond) // the SUBSCRIBE reaches Redis
	snap, err := fetcher.OpportunityConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-heard:
		if v != snap.Version() {
			t.Errorf("heard %s, fetched %s", v, snap.Version())
		}
	case <-time.After(time.Second):
		t.Fatal("no version heard within 1 s")
	}
}

// TestAPQAcrossReplicas: a document registered on one replica is found on
// another; with Redis down each keeps its own.
func TestAPQAcrossReplicas(t *testing.T) {
	rs := testkit.StartRedis(t)
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	a, err := c1.NewAPQ(10)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c2.NewAPQ(10)
	ctx := context.Background()
	a.Add(ctx, "hash1", "{ a }")
	if doc, ok := b.Get(ctx, "hash1"); !ok || doc != "{ a }" {
		t.Fatalf("replica 2 Get = %q, %v", doc, ok)
	}
	if _, ok := b.Get(ctx, "unknown"); ok {
		t.Fatal("an unknown hash was found")
	}
	if !c2.Up() {
		t.Fatal("a miss marked Redis down")
	}
	rs.Stop()
	b.Add(ctx, "hash2", "{ b }")
	if doc, ok := b.Get(ctx, "hash2"); !ok || doc != "{ b }" {
		t.Fatalf("with Redis down, replica 2's own registration: %q, %v", doc, ok)
	}
}

// TestLedgerIsOneBudget: executions on one replica drain the client's
// bucket on the other within a sync; another client's is untouched.
func TestLedgerIsOneBudget(t *testing.T) {
	rs := testkit.StartRedis(t)
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	// 60 whole configurations a minute, 3 at once, on each replica.
	a, err := ratelimit.NewExecutions(60, 3, nil, c1.NewLedger())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ratelimit.NewExecutions(60, 3, nil, c2.NewLedger())
	web := ratelimit.WithClient(context.Background(), "client:web")
	for i := range 3 {
		if _, ok := a.Admit(web, limits.WholeUnits); !ok {
			t.Fatalf("execution %d on replica 1 refused", i+1)
		}
	}
	if _, ok := b.Admit(ratelimit.WithClient(context.Background(), "client:other"), limits.WholeUnits); !ok {
		t.Fatal("another client refused")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		// Each try that is admitted spends too: the client may get one more
		// on replica 2 before the sync, never a whole burst.
		d, ok := b.Admit(web, limits.WholeUnits)
		if !ok {
			if d <= 0 {
				t.Errorf("refused with retry after %s", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica 2 still admits the client 2 s after replica 1 spent its burst")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCallLimiterIsShared: two replicas calling as fast as they may stay
// within one budget of calls per second together.
func TestCallLimiterIsShared(t *testing.T) {
	rs := testkit.StartRedis(t)
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	tenant := redis.Hash("app")
	limiters := []*redis.CallLimiter{c1.NewCallLimiter(tenant, 5), c2.NewCallLimiter(tenant, 5)}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var calls atomic.Int64
	var wg sync.WaitGroup
	for _, l := range limiters {
		for range 4 {
			wg.Go(func() {
				for l.Wait(ctx) == nil {
					calls.Add(1)
				}
			})
		}
	}
	wg.Wait()
	// A burst of 5, then 5 a second: about 12 in 1.5 s, for both together;
	// each alone would allow as many again.
	if got := calls.Load(); got < 8 || got > 14 {
		t.Errorf("%d calls in 1.5 s through two replicas, want about 12 (5 + 5/s)", got)
	}
}

// TestKeys: everything this service keeps starts with the prefix, and no
// client id or appId is in a key in clear.
func TestKeys(t *testing.T) {
	rs := testkit.StartRedis(t)
	c, _ := newClient(t, rs.URL())
	ctx := context.Background()
	s := newShared(t, c, &upstream{body: demoBody(t)}, nil)
	if _, err := s.OpportunityConfig(ctx); err != nil {
		t.Fatal(err)
	}
	apq, _ := c.NewAPQ(1)
	apq.Add(ctx, "h", "{ a }")
	x, _ := ratelimit.NewExecutions(60, 3, nil, c.NewLedger())
	_, _ = x.Admit(ratelimit.WithClient(ctx, "client:secret-client-name"), limits.WholeUnits)
	_ = c.NewCallLimiter(redis.Hash("app"), 5).Wait(ctx)
	var keys []string
	for deadline := time.Now().Add(2 * time.Second); len(keys) < 4 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if keys, err = rs.Client().Keys(ctx, "*").Result(); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys) < 4 {
		t.Fatalf("keys %q: want the copy, an APQ document, the upstream's budget and a client's spending", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q does not start with %q", k, prefix)
		}
		if strings.Contains(k, "secret-client-name") || strings.Contains(k, "app:") {
			t.Errorf("key %q names a client or app in clear", k)
		}
	}
}

// TestRedisHangs: a Redis that accepts but never answers costs a command
// REDIS_TIMEOUT once, then nothing while it is known down; the replica
// serves alone and rejoins when Redis answers again.
func TestRedisHangs(t *testing.T) {
	rs := testkit.StartRedis(t)
	up := &upstream{body: demoBody(t)}
	c, _ := newClient(t, rs.URL())
	s := newShared(t, c, up, nil)
	apq, _ := c.NewAPQ(10)
	ctx := context.Background()
	if _, err := s.OpportunityConfig(ctx); err != nil {
		t.Fatal(err)
	}
	rs.Pause()
	defer rs.Resume()
	start := time.Now()
	if _, err := s.OpportunityConfig(ctx); err != nil {
		t.Fatalf("with Redis hung: %v", err)
	}
	// The copy is fresh in Redis, but Redis does not answer: one command's
	// timeout (200 ms here), then the upstream.
	if d := time.Since(start); d > time.Second {
		t.Errorf("the first call with Redis hung took %s, want about one REDIS_TIMEOUT", d)
	}
	if c.Up() {
		t.Fatal("Up() with Redis hung")
	}
	start = time.Now()
	if _, ok := apq.Get(ctx, "unknown"); ok {
		t.Error("a hash was found")
	}
	if _, err := s.OpportunityConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("calls with Redis known down took %s: they should not try it", d)
	}
	rs.Resume()
	waitUp(t, c)
}

// TestRateCounterIsShared: requests counted on one replica are in the
// other's counts after a sync, with no round trip in the request; with
// Redis down each counts alone.
func TestRateCounterIsShared(t *testing.T) {
	rs := testkit.StartRedis(t)
	c1, _ := newClient(t, rs.URL())
	c2, _ := newClient(t, rs.URL())
	a, b := c1.RateCounter(time.Minute), c2.RateCounter(time.Minute)
	a.Config(100, time.Minute)
	b.Config(100, time.Minute)
	now := time.Now().UTC().Truncate(time.Minute)
	prev := now.Add(-time.Minute)
	for range 3 {
		if err := a.Increment("ip:203.0.113.7", now); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.IncrementBy("ip:203.0.113.7", prev, 2)
	if cur, _, _ := a.Get("ip:203.0.113.7", now, prev); cur != 3 {
		t.Fatalf("replica 1 counts %d of its own 3 at once", cur)
	}
	_, _, _ = b.Get("ip:203.0.113.7", now, prev) // replica 2 asks: it syncs the key from now on
	deadline := time.Now().Add(2 * time.Second)
	for {
		cur, p, err := b.Get("ip:203.0.113.7", now, prev)
		if err != nil {
			t.Fatal(err)
		}
		if cur == 3 && p == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 counts %d in the window (want replica 1's 3) and %d before (want its own 2)", cur, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cur, p, _ := a.Get("ip:203.0.113.7", now, prev); cur != 3 {
		t.Errorf("replica 1 counts %d, %d", cur, p)
	}
	rs.Stop()
	for !c1.Up() == false {
		_ = a.Increment("ip:203.0.113.7", now) // the next sync finds Redis gone
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.Increment("ip:203.0.113.8", now); err != nil {
		t.Fatalf("with Redis down: %v", err)
	}
	if cur, _, err := a.Get("ip:203.0.113.8", now, prev); err != nil || cur != 1 {
		t.Errorf("with Redis down, replica 1 counts %d (%v), want its own 1", cur, err)
	}
}

// TestDeadReplicasLease: a lease left by a replica that died mid-refresh
// holds the others back only until it expires.
func TestDeadReplicasLease(t *testing.T) {
	rs := testkit.StartRedis(t)
	c, _ := newClient(t, rs.URL())
	up := &upstream{body: demoBody(t)}
	s := newShared(t, c, up, nil)
	// newShared's tenant and lease key, as a dead replica would have left them.
	if err := rs.Client().Set(context.Background(), prefix+redis.Hash("app")+":config:lease", "dead-replica", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.OpportunityConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("took %s with a dead replica's 300 ms lease, want about 300 ms", d)
	}
	if got := up.calls.Load(); got != 1 {
		t.Errorf("%d upstream calls, want 1", got)
	}
}
