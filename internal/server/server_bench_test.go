package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// benchQueryNames are the load benchmark's queries (testdata/queries).
var benchQueryNames = []string{"dropdown", "full", "lookup", "default"}

// benchEnv is the load benchmark's service settings that differ from the
// defaults (against a real upstream introspection is off; RATE_LIMIT=0
// leaves the limiter out, as Deps.RateLimit nil does here).
var benchEnv = map[string]string{"INTROSPECTION": "false", "RATE_LIMIT": "0"}

// newBenchHandler wires the handler as run does in server.go, with the
// defaults of internal/config: access log (JSON, to io.Discard), metrics,
// tracing (no exporter), HTTP cache, response cache when respCache, loaders,
// over a configuration fetched once from the simulator by the real client and
// kept fresh for an hour, so every request is on a warm cache.
func newBenchHandler(b *testing.B, respCache bool, loaderWait time.Duration) http.Handler {
	return newBenchHandlerTTL(b, respCache, loaderWait, time.Hour)
}

// newBenchHandlerTTL is newBenchHandler with the configuration cache's TTL.
func newBenchHandlerTTL(b *testing.B, respCache bool, loaderWait, ttl time.Duration) http.Handler {
	b.Helper()
	cfg, err := config.Load(func(name string) string { return benchEnv[name] })
	if err != nil {
		b.Fatal(err)
	}
	if loaderWait > 0 {
		cfg.LoaderWait = loaderWait
	}
	recipe := signature.Default()
	sim := simulator.New(simulator.Options{Credentials: testCreds, Recipe: recipe})
	upstream := httptest.NewServer(sim)
	b.Cleanup(upstream.Close)
	client, err := tanmarket.NewClient(upstream.URL, testCreds, recipe, upstream.Client(), tanmarket.Options{})
	if err != nil {
		b.Fatal(err)
	}
	configCache := cache.New(client.OpportunityConfig, cache.Options{TTL: ttl})
	if _, err := configCache.Get(b.Context()); err != nil {
		b.Fatal(err)
	}
	logger, err := telemetry.NewLogger(io.Discard, cfg.LogFormat)
	if err != nil {
		b.Fatal(err)
	}
	metrics := telemetry.NewMetrics()
	tracing, err := telemetry.NewTracing(b.Context(), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	var responses *respcache.Cache
	if respCache {
		responses = respcache.New(cfg.ResponseCacheBytes)
	}
	gql := graph.NewHandler(logger, graph.Options{
		APQCacheSize:  cfg.APQCacheSize,
		HTTPCache:     &graph.HTTPCache{TTL: cfg.CacheTTL},
		ResponseCache: responses,
		Current: func() (string, time.Duration, bool) {
			res, ok := configCache.Peek()
			if !ok || res.Stale {
				return "", 0, false
			}
			return res.Value.Version(), res.Age, true
		},
		Introspection: cfg.Introspection,
		Limits:        cfg.Limits,
		MaxBodyBytes:  cfg.MaxRequestBytes,
		MaxBatch:      cfg.MaxBatch,
		Tracer:        tracing.Tracer(),
		Observe: func(ctx context.Context, operation, outcome string, d time.Duration) {
			metrics.ObserveOperation(operation, outcome, d)
			telemetry.SetOperationName(ctx, operation)
		},
	})
	return server.NewHandler(server.Deps{
		Logger:         logger,
		Metrics:        metrics,
		Tracing:        tracing,
		SchemaSDL:      graph.SDL(),
		Readiness:      func() (bool, map[string]any) { return true, nil },
		RequestTimeout: cfg.RequestTimeout,
		GraphQL:        gql,
		Stored:         gql.Stored,
		Source:         loaders.Source(configCache),
		Loaders:        loaders.Options{Wait: cfg.LoaderWait, OnBatch: metrics.ObserveBatch},
	})
}

// benchBody reads testdata/queries/NAME.graphql as a POST body.
func benchBody(b *testing.B, name string) string {
	b.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "testdata", "queries", name+".graphql"))
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(map[string]string{"query": string(doc)})
	if err != nil {
		b.Fatal(err)
	}
	return string(body)
}

// serveBench sends one POST through h and returns the recorder.
func serveBench(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkQuery is one benchmark query through the whole handler: parse and
// validate (gqlgen's query cache keeps the parsed document, as in the
// service), execute and encode, or, with the response cache on, the stored
// answer. No network: an httptest recorder. Profile the service with
//
//	go test -run '^$' -bench 'Query/query=full/respcache=off' -cpuprofile cpu.out ./internal/server
func BenchmarkQuery(b *testing.B) {
	for _, name := range benchQueryNames {
		for _, respCache := range []bool{false, true} {
			b.Run(fmt.Sprintf("query=%s/respcache=%s", name, onOff(respCache)), func(b *testing.B) {
				h := newBenchHandler(b, respCache, 0)
				body := benchBody(b, name)
				first := serveBench(h, body)
				if first.Code != http.StatusOK || !strings.HasPrefix(first.Body.String(), `{"data":`) || strings.Contains(first.Body.String(), `"errors"`) {
					b.Fatalf("HTTP %d: %.300s", first.Code, first.Body)
				}
				b.SetBytes(int64(first.Body.Len()))
				b.ReportAllocs()
				for b.Loop() {
					if rec := serveBench(h, body); rec.Code != http.StatusOK {
						b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// BenchmarkColdQuery is a request that refreshes the configuration first
// (a TTL of 1ns): the signed upstream call to the simulator over loopback,
// with no latency, then execution. The simulator sends the same bytes every
// time, so the client keeps its snapshot (the common case); what decoding a
// changed configuration costs is tanmarket's BenchmarkDecode. The load
// benchmark's cold path is this plus the upstream's latency.
func BenchmarkColdQuery(b *testing.B) {
	for _, name := range []string{"dropdown", "full"} {
		b.Run("query="+name, func(b *testing.B) {
			h := newBenchHandlerTTL(b, true, 0, time.Nanosecond)
			body := benchBody(b, name)
			b.ReportAllocs()
			for b.Loop() {
				if rec := serveBench(h, body); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body)
				}
			}
		})
	}
}
