package testkit

import (
	"errors"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// RedisRequiredEnv, set to 1 (by .ci/run, after .ci/redis.sh installs
// Debian's redis-server), makes a missing redis-server fail the tests that
// need one instead of skipping them.
const RedisRequiredEnv = "REDIS_TEST_REQUIRED"

// Redis is a real redis-server on a loopback port, persistence off, for one
// test: Stop and Start kill it and bring it back on the same port.
type Redis struct {
	*proc.Redis
	t testing.TB
}

// StartRedis starts redis-server for t and stops it when t ends. Without
// redis-server on PATH the test is skipped, or fails under
// REDIS_TEST_REQUIRED=1.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := proc.NewRedis(t.TempDir(), "")
	if errors.Is(err, proc.ErrNoRedis) && os.Getenv(RedisRequiredEnv) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rs := &Redis{Redis: r, t: t}
	rs.Start()
	t.Cleanup(r.Stop)
	return rs
}

// Start starts the server again after Stop.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.Redis.Start(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
}

// Client is a go-redis client of the server, closed when the test ends:
// tests look at what the service keeps in Redis through it.
func (r *Redis) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr(), MaxRetries: -1})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}
