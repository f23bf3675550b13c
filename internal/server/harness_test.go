package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
)

// Known secret values: tests fail if any of them shows up in a response or log.
var testCreds = signature.Credentials{
	AppID:     "app-under-test",
	AppKey:    signature.NewSecret("KEY-d41d8cd98f00b204"),
	AppSecret: signature.NewSecret("SECRET-e9800998ecf8427e"),
}

// clock is a settable time source shared by the cache (and nothing else: the
// simulator keeps real time so that signatures stay within its skew window).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Cap is the buffer's capacity: what the kept log holds on the heap.
func (b *syncBuffer) Cap() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Cap()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stack is the whole service wired as run wires it: the real signed client
// talks to the simulator over a loopback socket, and the handler is served by
// httptest.
type stack struct {
	sim      *simulator.Simulator
	upstream *httptest.Server
	cache    *cache.Cache[*opportunity.Snapshot]
	clock    *clock
	logs     *syncBuffer
	server   *httptest.Server
}

type stackOptions struct {
	dataset          []byte                 // nil: the demo dataset
	clientCreds      *signature.Credentials // nil: the simulator's own
	clientTimeout    time.Duration
	limits           limits.Limits
	maxBatch         int
	introspectionOff bool
	trusted          persisted.Manifest
	responses        *respcache.Cache
	corsOrigins      []string
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	if o.limits == (limits.Limits{}) {
		o.limits = limits.Defaults()
	}
	s := &stack{clock: &clock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	recipe := signature.Default()
	s.sim = simulator.New(simulator.Options{Credentials: testCreds, Recipe: recipe, Dataset: o.dataset})
	upstream := httptest.NewServer(s.sim)
	t.Cleanup(upstream.Close)
	s.upstream = upstream

	creds := testCreds
	if o.clientCreds != nil {
		creds = *o.clientCreds
	}
	timeout := o.clientTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	client, err := tanmarket.NewClient(upstream.URL, creds, recipe, upstream.Client(), tanmarket.Options{AttemptTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	s.cache = cache.New(client.OpportunityConfig, cache.Options{TTL: 30 * time.Second, MaxStale: time.Hour, Now: s.clock.Now})
	logger := slog.New(slog.NewJSONHandler(s.logs, nil))
	gql := graph.NewHandler(logger, graph.Options{
		Introspection:    !o.introspectionOff,
		Limits:           o.limits,
		MaxBatch:         o.maxBatch,
		APQCacheSize:     100,
		TrustedDocuments: o.trusted,
		HTTPCache:        &graph.HTTPCache{TTL: 30 * time.Second},
		ResponseCache:    o.responses,
		Current: func() (string, time.Duration, bool) {
			res, ok := s.cache.Peek()
			if !ok || res.Stale {
				return "", 0, false
			}
			return res.Value.Version(), res.Age, true
		},
	})
	h := server.NewHandler(server.Deps{
		Logger:      logger,
		GraphQL:     gql,
		Stored:      gql.Stored,
		Source:      s.cache,
		Loaders:     loaders.Options{Wait: time.Millisecond},
		CORSOrigins: o.corsOrigins,
		Playground:  playground.Handler(playground.Options{Title: "test", Endpoint: "/query"}),
		Explorer:    explorer.Handler("/query"),
		SchemaSDL:   graph.SDL(),
		Readiness: func() (bool, map[string]any) {
			_, ok := s.cache.Peek()
			return ok, map[string]any{"ready": ok}
		},
	})
	s.server = httptest.NewServer(h)
	t.Cleanup(s.server.Close)
	t.Cleanup(func() { assertNoSecrets(t, "logs", s.logs.String()) })
	return s
}

// gqlResponse is a GraphQL response with data left raw for the caller to decode.
type gqlResponse struct {
	Status     int
	Body       []byte
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// query POSTs a GraphQL request and decodes the answer; every body is checked
// for secrets.
func (s *stack) query(t testing.TB, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return postQuery(t, s.server.URL+"/query", query, vars)
}

func postQuery(t testing.TB, url, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /query: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := gqlResponse{Status: resp.StatusCode, Body: raw}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	assertNoSecrets(t, "response", string(raw))
	return out
}

func assertNoSecrets(t testing.TB, where, text string) {
	t.Helper()
	for _, secret := range []string{testCreds.AppKey.Reveal(), testCreds.AppSecret.Reveal()} {
		if bytes.Contains([]byte(text), []byte(secret)) {
			t.Errorf("%s contain a secret: %s", where, text)
		}
	}
}

// decode unmarshals the response's data into v, failing on GraphQL errors.
func (r gqlResponse) decode(t *testing.T, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Body)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, r.Body)
	}
}
