package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/proc"
)

// service is the running child process.
type service struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	logs   *logWatch
	exited chan struct{} // closed when Wait returned; err is set by then
	err    error         // Wait's
}

// startupTimeout bounds the wait for the "listening" log line.
const startupTimeout = 30 * time.Second

// startService runs bin with exactly env (plus runtimeEnv) and waits until it
// logs where it listens.
func startService(ctx context.Context, bin string, env []string) (*service, error) {
	for _, name := range proc.RuntimeEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append([]string{name + "=" + v}, env...)
		}
	}
	s := &service{logs: newLogWatch(), exited: make(chan struct{})}
	s.cmd = exec.Command(bin)
	s.cmd.Env = env
	// Wait returns only once the logs are read to the end: exec copies from
	// the pipe to this writer and Wait waits for the copy.
	s.cmd.Stderr = s.logs
	s.cmd.Stdout = s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start service: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()

	timer := time.NewTimer(startupTimeout)
	defer timer.Stop()
	select {
	case addr := <-s.logs.listening:
		base, err := proc.LoopbackBase(addr)
		if err != nil {
			s.kill()
			return nil, err
		}
		s.base = base
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("service exited before listening (%v); its last log lines:\n%s", s.err, s.logs.snapshot().tailText())
	case <-timer.C:
		s.kill()
		return nil, fmt.Errorf("service did not log \"listening\" within %s; its last log lines:\n%s", startupTimeout, s.logs.snapshot().tailText())
	case <-ctx.Done():
		s.kill()
		return nil, context.Cause(ctx)
	}
}

func (s *service) pid() int { return s.cmd.Process.Pid }

// StopResult is how the service ended.
type StopResult struct {
	ExitCode int           // -1 when killed or not exited
	Took     time.Duration // from SIGTERM to exit
	TimedOut bool          // still running stopTimeout after SIGTERM, then killed
	Err      string        // the signal or start of Wait's error, when not a clean exit
}

// OK reports whether the service exited 0 in time.
func (r StopResult) OK() bool { return !r.TimedOut && r.ExitCode == 0 && r.Err == "" }

// stop sends SIGTERM and waits up to timeout for the exit, then kills.
func (s *service) stop(timeout time.Duration) StopResult {
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.kill()
		return StopResult{ExitCode: -1, Err: "SIGTERM: " + err.Error()}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-s.exited:
	case <-timer.C:
		s.kill()
		return StopResult{ExitCode: -1, Took: time.Since(start), TimedOut: true}
	}
	res := StopResult{ExitCode: s.cmd.ProcessState.ExitCode(), Took: time.Since(start)}
	var exitErr *exec.ExitError
	if s.err != nil && !errors.As(s.err, &exitErr) {
		res.Err = s.err.Error()
	} else if res.ExitCode == -1 {
		res.Err = s.cmd.ProcessState.String() // "signal: killed"
	}
	return res
}

// kill ends the service if it still runs and waits for it; safe to repeat.
func (s *service) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Log messages the soak counts, as the service writes them (server.go).
const (
	msgListening     = "listening"
	msgBreaker       = "upstream circuit breaker changed state"
	msgRefreshFailed = "opportunity config refresh failed"
	msgFetched       = "opportunity config fetched"
	msgRequest       = "request" // the access log: one line per request
)

// tailLines is how many of the last non-access-log lines are kept for error
// messages.
const tailLines = 20

// maxPartialLine bounds a line still waiting for its newline (1 MiB).
const maxPartialLine = 1 << 20

// logWatch is the io.Writer the service's stderr goes to. It counts the lines
// the report needs as they pass and keeps none but a short tail: a soak's
// access log runs to millions of lines.
type logWatch struct {
	listening chan string // gets the "listening" address once

	mu      sync.Mutex
	partial []byte
	counts  LogCounts
}

// LogCounts is what the service logged.
type LogCounts struct {
	Lines           int64
	ByLevel         map[string]int64 // JSON lines by "level"; "non-JSON" for the rest
	Breaker         map[string]int64 // "from→to" of breaker transitions
	RefreshFailures int64
	Refreshes       int64 // successful fetches
	tail            []string
}

func newLogWatch() *logWatch {
	return &logWatch{
		listening: make(chan string, 1),
		counts:    LogCounts{ByLevel: map[string]int64{}, Breaker: map[string]int64{}},
	}
}

// Write implements io.Writer.
func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	rest := w.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.line(rest[:i])
		rest = rest[i+1:]
	}
	if len(rest) > maxPartialLine {
		w.line(rest)
		rest = nil
	}
	w.partial = append(w.partial[:0], rest...)
	return len(p), nil
}

// line counts one log line. w.mu is held.
func (w *logWatch) line(b []byte) {
	w.counts.Lines++
	// The access log is nearly every line: count its level without decoding.
	// slog's JSON handler writes time, level and msg first, in that order.
	if i := bytes.Index(b, []byte(`,"msg":"request",`)); i >= 0 {
		if level, ok := accessLevel(b[:i]); ok {
			w.counts.ByLevel[level]++
			return
		}
	}
	var l struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Addr  string `json:"addr"`
		From  string `json:"from"`
		To    string `json:"to"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		w.counts.ByLevel["non-JSON"]++
		w.keep(b)
		return
	}
	w.counts.ByLevel[l.Level]++
	switch l.Msg {
	case msgRequest:
		return // not kept: they would crowd out the lines that explain a failure
	case msgListening:
		select {
		case w.listening <- l.Addr:
		default:
		}
	case msgBreaker:
		w.counts.Breaker[l.From+"→"+l.To]++
	case msgRefreshFailed:
		w.counts.RefreshFailures++
	case msgFetched:
		w.counts.Refreshes++
	}
	w.keep(b)
}

// accessLevel finds the level in the start of an access-log line.
func accessLevel(head []byte) (string, bool) {
	const key = `"level":"`
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return "", false
	}
	level, _, ok := bytes.Cut(head[i+len(key):], []byte(`"`))
	return string(level), ok
}

func (w *logWatch) keep(b []byte) {
	if len(w.counts.tail) == tailLines {
		w.counts.tail = w.counts.tail[1:]
	}
	w.counts.tail = append(w.counts.tail, string(b))
}

// snapshot returns a copy of the counts so far.
func (w *logWatch) snapshot() LogCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts
	c.ByLevel = cloneMap(c.ByLevel)
	c.Breaker = cloneMap(c.Breaker)
	c.tail = append([]string(nil), c.tail...)
	return c
}

// since returns c minus an earlier snapshot.
func (c LogCounts) since(earlier LogCounts) LogCounts {
	c.Lines -= earlier.Lines
	c.RefreshFailures -= earlier.RefreshFailures
	c.Refreshes -= earlier.Refreshes
	for k, v := range earlier.ByLevel {
		c.ByLevel[k] -= v
	}
	for k, v := range earlier.Breaker {
		c.Breaker[k] -= v
	}
	return c
}

func (c LogCounts) tailText() string { return strings.Join(c.tail, "\n") }

func cloneMap[K comparable](m map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
