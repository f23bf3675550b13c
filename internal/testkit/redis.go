package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisRequiredEnv, set to 1 (by .ci/run, after it installs Debian's
// redis-server), makes a missing redis-server fail the tests that need one
// instead of skipping them.
const RedisRequiredEnv = "REDIS_TEST_REQUIRED"

// Redis is a real redis-server on a loopback port, persistence off, for one
// test: Stop and Start kill it and bring it back on the same port.
type Redis struct {
	t    testing.TB
	bin  string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// StartRedis starts redis-server for t and stops it when t ends. Without
// redis-server on PATH the test is skipped, or fails under
// REDIS_TEST_REQUIRED=1.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RedisRequiredEnv) == "1" {
			t.Fatalf("redis-server not found and %s=1: %v", RedisRequiredEnv, err)
		}
		t.Skip("redis-server not on PATH (apt-get install redis-server; .ci/run installs it)")
	}
	r := &Redis{t: t, bin: bin, port: freePort(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server, if it is not running, and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
		"--dir", r.t.TempDir())
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(r.Addr()); err == nil {
			return
		} else if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s does not answer: %v", r.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Client is a go-redis client of the server, closed when the test ends:
// tests look at what the service keeps in Redis through it.
func (r *Redis) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr(), MaxRetries: -1})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

func ping(addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// freePort is a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
