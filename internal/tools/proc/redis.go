package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis is a real redis-server on a loopback port with persistence off, as
// the tests and the bench's replicas run it: Stop and Start kill it and
// bring it back on the same port.
type Redis struct {
	bin, dir, cpus string
	port           int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// ErrNoRedis is NewRedis's error when redis-server is not on PATH.
var ErrNoRedis = errors.New("redis-server not on PATH (Debian: apt-get install redis-server; .ci/redis.sh installs it)")

// NewRedis prepares a server on a free loopback port, its files (none are
// written with persistence off) in dir, pinned to cpus ("" for none);
// Start starts it.
func NewRedis(dir, cpus string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedis
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return &Redis{bin: bin, dir: dir, cpus: cpus, port: port}, nil
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://%s/0", r.Addr()) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server unless it runs, and waits until it answers PING.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--dir", r.dir}
	cmd := exec.Command(r.bin, args...)
	if r.cpus != "" {
		cmd = exec.Command("taskset", append([]string{"-c", r.cpus, r.bin}, args...)...)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.cmd = cmd
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil || time.Now().After(deadline):
			return fmt.Errorf("redis-server on %s does not answer: %w", r.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pause stops the server's process (SIGSTOP) without closing its
// connections: a Redis that hangs, which only timeouts reveal. Resume
// continues it.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server dies too
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}
