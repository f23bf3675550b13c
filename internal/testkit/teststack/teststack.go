// Package teststack starts the whole service for a test: server.New in front
// of the simulator over real sockets, served by httptest. It is apart from
// testkit, which every package's tests may import, because it imports the
// whole service.
package teststack

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// Config loads the service's configuration from env alone, as run does from
// the process environment: what env leaves unset takes its documented default.
func Config(t testing.TB, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Stack is the whole service as run builds it (server.New), served by
// httptest, with the real signed client talking to the simulator over a
// loopback socket. The configuration cache runs on Clock; the simulator keeps
// real time so that signatures stay within its skew window.
type Stack struct {
	Sim      *simulator.Simulator
	Upstream *httptest.Server
	Service  *server.Service
	Clock    *testkit.Clock
	Logs     *testkit.LogBuffer
	Server   *httptest.Server
	ttl      time.Duration // CACHE_TTL as the service runs it
}

// Options shape a Stack.
type Options struct {
	Dataset []byte // the simulator's; nil is the demo dataset
	// Env are configuration variables over the stack's own: the simulator's
	// address and credentials, RATE_LIMIT=0, EXECUTION_RATE=0, RESPONSE_CACHE=false,
	// INTROSPECTION=true, CACHE_MAX_STALE=1h; the rest are the defaults.
	Env map[string]string
	// Trusted, when set, is written to a manifest file and served as the
	// only documents (PERSISTED_QUERIES_ONLY).
	Trusted map[string]string
	// Configure edits the loaded configuration, for values configuration
	// refuses (a bound lifted to 0).
	Configure func(*config.Config)
	// WallClock runs the configuration cache on real time instead of Clock
	// (benchmarks, whose TTLs must pass by themselves).
	WallClock bool
	// Log receives the service's log instead of Logs (io.Discard for
	// benchmarks, whose logs would fill memory).
	Log io.Writer
	// StreamsOpen is server.Deps.StreamsOpen.
	StreamsOpen func(n int)
	// Beside, when set, makes this stack another replica beside that one:
	// the same simulator and upstream server, the same Clock (unless Clock
	// says otherwise).
	Beside *Stack
	// Clock, when set, is the configuration cache's clock: a replica whose
	// clock is not its neighbours' (clock skew between hosts).
	Clock *testkit.Clock
}

// New starts a Stack, closed when the test ends; at the end its log is
// checked for secrets.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	creds := testkit.Creds()
	recipe := signature.Default()
	s := &Stack{Clock: testkit.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)), Logs: &testkit.LogBuffer{}}
	if b := o.Beside; b != nil {
		s.Sim, s.Upstream, s.Clock = b.Sim, b.Upstream, b.Clock
		if o.Clock != nil {
			s.Clock = o.Clock
		}
	} else {
		s.Sim = simulator.New(simulator.Options{Credentials: creds, Recipe: recipe, Dataset: o.Dataset})
		s.Upstream = httptest.NewServer(s.Sim)
		t.Cleanup(s.Upstream.Close)
	}

	env := map[string]string{
		"UPSTREAM_URL":        s.Upstream.URL,
		"UPSTREAM_APP_ID":     creds.AppID,
		"UPSTREAM_APP_KEY":    creds.AppKey.Reveal(),
		"UPSTREAM_APP_SECRET": creds.AppSecret.Reveal(),
		"RATE_LIMIT":          "0",
		"EXECUTION_RATE":      "0",
		"RESPONSE_CACHE":      "false",
		"INTROSPECTION":       "true",
		"CACHE_MAX_STALE":     "1h",
		"LOG_FLUSH_INTERVAL":  "0",
	}
	if o.Trusted != nil {
		b, err := json.Marshal(o.Trusted)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "persisted.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env["PERSISTED_QUERIES_ONLY"], env["PERSISTED_QUERIES_FILE"] = "true", path
	}
	maps.Copy(env, o.Env)
	cfg := Config(t, env)
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	s.ttl = cfg.CacheTTL
	var logs io.Writer = s.Logs
	if o.Log != nil {
		logs = o.Log
	}
	logger, err := telemetry.NewLogger(logs, cfg.LogFormat)
	if err != nil {
		t.Fatal(err)
	}
	now := s.Clock.Now
	if o.WallClock {
		now = nil
	}
	s.Service, err = server.New(context.Background(), cfg, server.Deps{Logger: logger, Now: now, StreamsOpen: o.StreamsOpen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Service.Close)
	s.Server = httptest.NewServer(s.Service.Handler)
	t.Cleanup(s.Server.Close)
	t.Cleanup(func() { testkit.AssertNoSecrets(t, "logs", s.Logs.String()) })
	return s
}

// Query POSTs a GraphQL request to the stack's /query.
func (s *Stack) Query(t testing.TB, query string, vars map[string]any) testkit.Response {
	t.Helper()
	return testkit.PostQuery(t, s.Server.URL+"/query", query, vars)
}

// Expire moves the configuration's clock on by d and, when that takes the
// copy past its TTL, runs the refresh that is then due and waits for its
// outcome (a new copy, or a failure that marks the copy stale): what the first
// request after the TTL starts in the background, finished, so that the
// test's next request sees it.
func (s *Stack) Expire(t testing.TB, d time.Duration) {
	t.Helper()
	s.Clock.Advance(d)
	if res, ok := s.Service.Config.Peek(); ok && res.Age < s.ttl {
		return // still fresh: nothing is due
	}
	_ = s.Service.Config.Revalidate(context.Background()) // a failure is the test's to see
}
