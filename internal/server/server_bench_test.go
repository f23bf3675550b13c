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
// defaults (against a real upstream introspection is off; RATE_LIMIT=0
// leaves the limiter out, as Deps.RateLimit nil does here).
var benchEnv = map[string]string{"INTROSPECTION": "false", "RATE_LIMIT": "0"}

// newBenchHandler is the service as run builds it (server.New), with the
// defaults of internal/config but benchEnv, logging JSON to io.Discard, over a
// configuration fetched once from the simulator by the real client and kept
// fresh for an hour, so every request is on a warm cache.
func newBenchHandler(b *testing.B, respCache bool, loaderWait time.Duration) http.Handler {
	return newBenchHandlerTTL(b, respCache, loaderWait, time.Hour)
}

// newBenchHandlerTTL is newBenchHandler with the configuration cache's TTL.
func newBenchHandlerTTL(b *testing.B, respCache bool, loaderWait, ttl time.Duration) http.Handler {
	b.Helper()
	env := maps.Clone(benchEnv)
	env["RESPONSE_CACHE"] = strconv.FormatBool(respCache)
	if loaderWait > 0 {
		env["LOADER_WAIT"] = loaderWait.String()
	}
	s := teststack.New(b, teststack.Options{
		Env:       env,
		WallClock: true,
		Log:       io.Discard,
		// CACHE_TTL takes no value under a millisecond's precision of
		// intent; set the TTL itself (1ns: every request refreshes).
		Configure: func(c *config.Config) { c.CacheTTL = ttl },
	})
	if _, err := s.Service.Config.Get(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s.Service.Handler
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
