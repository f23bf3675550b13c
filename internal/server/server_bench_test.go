package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// benchQueryNames are the load benchmark's queries (testdata/queries).
var benchQueryNames = []string{"dropdown", "full", "lookup", "default"}

// benchEnv is the load benchmark's service settings that differ from the
// defaults (against a real upstream introspection is off; RATE_LIMIT=0 and
// EXECUTION_RATE=0 leave the per-client limits out: one client here asks
// far more than any user would).
var benchEnv = map[string]string{"INTROSPECTION": "false", "RATE_LIMIT": "0", "EXECUTION_RATE": "0"}

// benchOptions are what a micro-benchmark varies; the rest is the service's
// defaults (internal/config) but benchEnv.
type benchOptions struct {
	respCache bool
	noFast    bool // FAST_PATH=false: gqlgen executes everything
	// cold sets CACHE_TTL and CACHE_MAX_STALE to 1ns: every request finds
	// no copy it may serve and waits for a fetch. Otherwise CACHE_TTL's
	// default (30s), as users run it.
	cold bool
	// env are settings over benchEnv.
	env map[string]string
}

// newBenchHandler is the service as run builds it (server.New), logging JSON
// to io.Discard, over a configuration fetched once from the simulator by the
// real client. With the default TTL a run of a few seconds may see one
// background refresh, as a user's service would; no request waits for it.
func newBenchHandler(b *testing.B, o benchOptions) http.Handler {
	b.Helper()
	return newBenchStack(b, o).Service.Handler
}

// newBenchStack is newBenchHandler's stack, for a benchmark that serves it
// itself (Service.Serve).
func newBenchStack(b *testing.B, o benchOptions) *teststack.Stack {
	b.Helper()
	env := maps.Clone(benchEnv)
	env["RESPONSE_CACHE"] = strconv.FormatBool(o.respCache)
	env["FAST_PATH"] = strconv.FormatBool(!o.noFast)
	maps.Copy(env, o.env)
	opts := teststack.Options{Env: env, WallClock: true, Log: io.Discard}
	if o.cold {
		// The variables take whole milliseconds at least; set the
		// durations themselves.
		opts.Configure = func(c *config.Config) { c.CacheTTL, c.CacheMaxStale = time.Nanosecond, time.Nanosecond }
	}
	s := teststack.New(b, opts)
	if _, err := s.Service.Config.Get(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
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
	variants := []struct {
		name string
		opts benchOptions
	}{
		{"respcache=off/fastpath=off", benchOptions{noFast: true}},
		{"respcache=off/fastpath=on", benchOptions{}},
		{"respcache=on", benchOptions{respCache: true}},
	}
	for _, name := range benchQueryNames {
		for _, v := range variants {
			b.Run(fmt.Sprintf("query=%s/%s", name, v.name), func(b *testing.B) {
				h := newBenchHandler(b, v.opts)
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

// BenchmarkColdQuery is a request that must fetch the configuration first
// (TTL and max-stale of 1ns: no copy may be served, so it waits, as the
// first request after start-up does): the signed upstream call to the
// simulator over loopback,
// with no latency, then execution. The simulator sends the same bytes every
// time, so the client keeps its snapshot (the common case); what decoding a
// changed configuration costs is tanmarket's BenchmarkDecode. The load
// benchmark's cold path is this plus the upstream's latency.
func BenchmarkColdQuery(b *testing.B) {
	for _, name := range []string{"dropdown", "full"} {
		b.Run("query="+name, func(b *testing.B) {
			h := newBenchHandler(b, benchOptions{respCache: true, cold: true})
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
