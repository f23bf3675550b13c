package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// service is the running child process, with the soak's counts of its log.
type service struct {
	*proc.Process
	logs *logCounter
}

// startService runs bin with exactly env (plus the Go runtime's knobs, see
// proc.Options) and waits until it logs where it listens.
func startService(ctx context.Context, bin string, env []string) (*service, error) {
	logs := newLogCounter()
	p, err := proc.Start(ctx, bin, nil, proc.Options{Env: env, OnLine: logs.line})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return &service{Process: p, logs: logs}, nil
}

// Log messages the soak counts, as the service writes them (server.go).
const (
	msgBreaker       = "upstream circuit breaker changed state"
	msgRefreshFailed = "opportunity config refresh failed"
	msgFetched       = "opportunity config fetched"
)

// logCounter counts the lines of the service's log the report needs as
// proc hands them over, and keeps none: a soak's access log runs to millions
// of lines.
type logCounter struct {
	mu     sync.Mutex
	counts LogCounts
}

// LogCounts is what the service logged.
type LogCounts struct {
	Lines           int64
	ByLevel         map[string]int64 // JSON lines by "level"; "non-JSON" for the rest
	Breaker         map[string]int64 // "from→to" of breaker transitions
	RefreshFailures int64
	Refreshes       int64 // successful fetches
}

func newLogCounter() *logCounter {
	return &logCounter{counts: LogCounts{ByLevel: map[string]int64{}, Breaker: map[string]int64{}}}
}

// line counts one log line; it is proc.Options.OnLine.
func (w *logCounter) line(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
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
		From  string `json:"from"`
		To    string `json:"to"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		w.counts.ByLevel["non-JSON"]++
		return
	}
	w.counts.ByLevel[l.Level]++
	switch l.Msg {
	case msgBreaker:
		w.counts.Breaker[l.From+"→"+l.To]++
	case msgRefreshFailed:
		w.counts.RefreshFailures++
	case msgFetched:
		w.counts.Refreshes++
	}
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

// snapshot returns a copy of the counts so far.
func (w *logCounter) snapshot() LogCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts
	c.ByLevel = cloneMap(c.ByLevel)
	c.Breaker = cloneMap(c.Breaker)
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

func cloneMap[K comparable](m map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
