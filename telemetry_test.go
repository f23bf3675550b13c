package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

func TestMetrics(t *testing.T) {
	// FAST_PATH=false: the dataloaders' metrics are of gqlgen's execution,
	// which the fast path does not use.
	s := start(t, map[string]string{"RATE_LIMIT": "0", "FAST_PATH": "false"})
	waitReady(t, s)
	for _, q := range []string{
		`query Dropdown { opportunityTypes { typeId } }`,
		`query Dropdown { opportunityTypes { typeId } }`, // counted again, from the response cache
		`query Lookup { a: opportunityType(typeId: 1001) { requiredOppTypeFields: allStages { requiredOppTypeFields { field { id } } } } }`,
		`{ opportunityTypes { nope } }`,
	} {
		s.post(t, q)
	}
	// Operation names are bounded: 150 invented names cannot make 150 series.
	for i := range 150 {
		s.post(t, "query Invented"+strconv.Itoa(i)+" { __typename }")
	}
	resp, body := testkit.Get(t, s.base+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`graphql_operations_total{operation="Dropdown",outcome="ok"} 2`,
		`graphql_operations_total{operation="anonymous",outcome="rejected"} 1`,
		`graphql_operations_total{operation="other",outcome="ok"}`,
		`graphql_operation_duration_seconds_bucket{operation="Lookup"`,
		`upstream_refreshes_total{outcome="ok"} 1`,
		`upstream_http_requests_total{code="200"} 1`,
		`upstream_http_request_duration_seconds_count{code="200"} 1`,
		`config_cache_requests_total{result="hit"}`,
		`http_requests_in_flight 1`,
		`upstream_breaker_state{state="closed"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := strings.Count(body, "graphql_operations_total{"); n > 110 {
		t.Errorf("%d operation series: names are not bounded", n)
	}
}

func TestRequestIDsAndAccessLog(t *testing.T) {
	s := start(t, map[string]string{"LOG_FORMAT": "json"})
	tests := []struct {
		name, give string
		kept       bool
	}{
		{"incoming id kept", "req-7f3a9c", true},
		{"odd characters replaced", `x"} {"level":"ERROR"`, false},
		{"overlong id replaced", strings.Repeat("a", 200), false},
		{"none given", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.give != "" {
				header["X-Request-Id"] = []string{tt.give}
			}
			resp, _ := testkit.DoHeader(t, http.MethodPost, s.base+"/query", "application/json",
				strings.NewReader(`{"query":"query Named { opportunityTypes { typeId } }"}`), header)
			id := resp.Header.Get("X-Request-Id")
			if (id == tt.give) != tt.kept || id == "" {
				t.Fatalf("response X-Request-Id %q (sent %q)", id, tt.give)
			}
			found := false
			sc := bufio.NewScanner(strings.NewReader(s.logsWith(t, `"request_id":"`+id+`"`)))
			for sc.Scan() {
				var line map[string]any
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("log line is not JSON: %s", sc.Text())
				}
				if line["request_id"] == id && line["msg"] == "request" {
					found = true
					if line["operation"] != "Named" || line["status"] != float64(200) || line["duration_ms"] == nil || line["path"] != "/query" {
						t.Errorf("access line %v lacks operation, status, path or duration", line)
					}
				}
			}
			if !found {
				t.Errorf("no access line with request_id %q:\n%s", id, s.logs)
			}
		})
	}
}

func TestTextLogs(t *testing.T) {
	s := start(t, map[string]string{"LOG_FORMAT": "text"})
	s.post(t, `{ __typename }`)
	waitReady(t, s)
	if logs := s.logsWith(t, "msg=request"); !strings.Contains(logs, "level=INFO msg=request") || !strings.Contains(logs, "request_id=") {
		t.Errorf("LOG_FORMAT=text: %s", s.logs)
	}
}

// TestTracing exports over OTLP/HTTP to a fake collector and checks that a
// request's trace reaches the upstream (traceparent) and the collector gets
// the server, GraphQL and upstream spans of it.
func TestTracing(t *testing.T) {
	var (
		mu       sync.Mutex
		spans    []string
		traceIDs = map[string]bool{}
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					spans = append(spans, sp.Name)
					traceIDs[hex.EncodeToString(sp.TraceId)] = true
				}
			}
		}
		mu.Unlock()
	}))
	defer collector.Close()

	_, env, traceparents := recordingUpstream(t, "traceparent")
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
	env["CACHE_TTL"] = "1ms" // so that the traced request makes its own upstream call
	s := start(t, env)
	waitReady(t, s)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testkit.PostJSON(t, s.base+"/query", `{"query":"query Traced { opportunityTypes { typeId } }"}`,
		map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	// The request was answered from the copy held; the refresh it started
	// runs in the background, in its trace.
	awaitTrace(t, traceparents, traceID)
	s.stop() // flushes the batch exporter
	<-s.result
	s.result <- nil

	mu.Lock()
	defer mu.Unlock()
	propagated := false
	upstreams := traceparents()
	for _, tp := range upstreams {
		propagated = propagated || strings.Contains(tp, traceID)
	}
	if !propagated {
		t.Errorf("no upstream request carried trace %s: %q", traceID, upstreams)
	}
	if !traceIDs[traceID] {
		t.Errorf("collector got no span of trace %s; traces %v", traceID, traceIDs)
	}
	for _, want := range []string{"POST /query", "query Traced", "tanmarket POST /api/v3/opportunity/config/get"} {
		found := false
		for _, name := range spans {
			found = found || name == want
		}
		if !found {
			t.Errorf("no span %q among %q", want, spans)
		}
	}
}

// TestTraceparentReachesUpstreamWithoutExporter: with tracing off (no OTLP
// endpoint), an incoming trace context is still carried to the upstream.
func TestTraceparentReachesUpstreamWithoutExporter(t *testing.T) {
	_, env, traceparents := recordingUpstream(t, "traceparent")
	env["CACHE_TTL"] = "1ms"
	s := start(t, env)
	waitReady(t, s)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	testkit.PostJSON(t, s.base+"/query", `{"query":"{ opportunityTypes { typeId } }"}`,
		map[string]string{"traceparent": "00-" + traceID + "-b7ad6b7169203331-01"})
	awaitTrace(t, traceparents, traceID)
}

// awaitTrace waits for the background refresh a request started to reach the
// upstream with the request's trace id, and fails after 5s.
func awaitTrace(t *testing.T, traceparents func() []string, traceID string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, tp := range traceparents() {
			if strings.Contains(tp, traceID) {
				return
			}
		}
	}
	t.Errorf("no upstream request carried trace %s: %q", traceID, traceparents())
}
