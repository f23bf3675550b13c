package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestIntrospectionDisabled: with INTROSPECTION off, __schema and __type
// are refused as a validation error, INTROSPECTION_DISABLED, with the status
// the GraphQL-over-HTTP specification gives a document that fails
// validation, no data entry, and no log line but the access line;
// __typename still works.
func TestIntrospectionDisabled(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"INTROSPECTION": "false"}})
	const graphQLResponse = "application/graphql-response+json"
	tests := []struct {
		name, method, query, accept string
		wantStatus                  int
		wantType                    string
		wantCode                    string // "": answered with data
	}{
		{"__schema", http.MethodPost, `{ __schema { queryType { name } } }`, "application/json", 200, "application/json", "INTROSPECTION_DISABLED"},
		{"__schema, GraphQL response type", http.MethodPost, `{ __schema { queryType { name } } }`, graphQLResponse, 400, graphQLResponse, "INTROSPECTION_DISABLED"},
		{"__type", http.MethodPost, `{ __type(name: "Stage") { name } }`, "application/json", 200, "application/json", "INTROSPECTION_DISABLED"},
		{"__type by GET", http.MethodGet, `{ __type(name: "Stage") { name } }`, graphQLResponse, 400, graphQLResponse, "INTROSPECTION_DISABLED"},
		{"in a fragment", http.MethodPost, `query { ...F } fragment F on Query { __schema { types { name } } }`, "application/json", 200, "application/json", "INTROSPECTION_DISABLED"},
		{"aliased, beside data", http.MethodPost, `{ opportunityTypes { typeId } s: __schema { queryType { name } } }`, "application/json", 200, "application/json", "INTROSPECTION_DISABLED"},
		{"GraphiQL's introspection query", http.MethodPost, `query IntrospectionQuery { __schema { queryType { name } types { name kind fields { name } } } }`, "application/json", 200, "application/json", "INTROSPECTION_DISABLED"},
		{"__typename", http.MethodPost, `{ __typename }`, graphQLResponse, 200, graphQLResponse, ""},
		{"__typename in a list", http.MethodPost, `{ opportunityTypes { __typename typeId } }`, "application/json", 200, "application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			headers := map[string]string{"Accept": tt.accept}
			if tt.method == http.MethodGet {
				resp, body = testkit.Get(t, s.Server.URL+"/query?"+url.Values{"query": {tt.query}}.Encode(), headers)
			} else {
				resp, body = testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(tt.query, nil), headers)
			}
			if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType) {
				t.Errorf("%d %s, want %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, tt.wantType, body)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if tt.wantCode == "" {
				if _, ok := got["errors"]; ok || len(got["data"]) == 0 {
					t.Errorf("want data and no errors: %s", body)
				}
				return
			}
			var errs []testkit.Error
			_ = json.Unmarshal(got["errors"], &errs)
			if len(errs) != 1 || errs[0].Extensions["code"] != tt.wantCode || !strings.Contains(errs[0].Message, "introspection is disabled") {
				t.Errorf("want one %s error: %s", tt.wantCode, body)
			}
			if _, ok := got["data"]; ok {
				t.Errorf("a refused document has a data entry: %s", body)
			}
		})
	}
	for line := range strings.SplitSeq(s.Logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("refused introspection logged above INFO: %s", line)
		}
	}
}

// TestPagesFollowTheirSwitches: against a real upstream the playground, the
// explorer and the SDL are off unless asked for; the SDL follows
// INTROSPECTION; /metrics leaves the main listener when METRICS_ADDR is set.
func TestPagesFollowTheirSwitches(t *testing.T) {
	paths := []string{"/", "/explorer", "/graphql/schema.graphql", "/metrics"}
	tests := []struct {
		name string
		env  map[string]string // over teststack's, whose INTROSPECTION=true is unset here unless given
		want []int             // status of each of paths
	}{
		{"defaults with UPSTREAM_URL", nil, []int{404, 404, 404, 200}},
		{"all asked for", map[string]string{"PLAYGROUND": "true", "EXPLORER": "true", "INTROSPECTION": "true"}, []int{200, 200, 200, 200}},
		{"explorer only", map[string]string{"EXPLORER": "true"}, []int{404, 200, 404, 200}},
		{"introspection only", map[string]string{"INTROSPECTION": "true"}, []int{404, 404, 200, 200}},
		{"metrics on a listener of its own", map[string]string{"METRICS_ADDR": "127.0.0.1:0"}, []int{404, 404, 404, 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"INTROSPECTION": ""}
			for k, v := range tt.env {
				env[k] = v
			}
			s := teststack.New(t, teststack.Options{Env: env})
			for i, path := range paths {
				if resp, _ := testkit.Get(t, s.Server.URL+path, nil); resp.StatusCode != tt.want[i] {
					t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, tt.want[i])
				}
			}
		})
	}
}

// TestWildcardOriginsWorkEndToEnd: an origin CORS_ALLOWED_ORIGINS allows by
// a wildcard passes the preflight and its POST is answered; one it does not
// allow gets neither. CORS and the cross-origin check share one matcher.
func TestWildcardOriginsWorkEndToEnd(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.example.com, https://app.example.org"}})
	tests := []struct {
		origin  string
		allowed bool
	}{
		{"https://app.example.com", true},
		{"https://a.b.example.com", true},
		{"https://app.example.org", true},
		{"https://example.com", false},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"https://app.example.com.evil.test", false},
		{"https://evilexample.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			resp, _ := testkit.Do(t, http.MethodOptions, s.Server.URL+"/query", "", nil, map[string]string{
				"Origin":                         tt.origin,
				"Access-Control-Request-Method":  "POST",
				"Access-Control-Request-Headers": "content-type, authorization",
			})
			if got := resp.Header.Get("Access-Control-Allow-Origin") == tt.origin; got != tt.allowed {
				t.Errorf("preflight allowed = %v, want %v (headers %v)", got, tt.allowed, resp.Header)
			}
			// The POST as a browser sends it after the preflight.
			resp, body := testkit.PostJSON(t, s.Server.URL+"/query", `{"query":"{ __typename }"}`,
				map[string]string{"Origin": tt.origin, "Sec-Fetch-Site": "cross-site"})
			if tt.allowed {
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != tt.origin {
					t.Errorf("POST = %d, Access-Control-Allow-Origin %q; want 200 for %s: %s",
						resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tt.origin, body)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("POST = %d, want 403: %s", resp.StatusCode, body)
			}
			testkit.AssertRefusal(t, resp, body, string(apierror.CrossOriginRefused))
		})
	}
}

// TestMetricsListener: with METRICS_ADDR, /metrics is served there, without
// credentials, and not on the main listener even with them; cancelling the
// service stops both listeners within SHUTDOWN_TIMEOUT, a connection left
// half-way through its request included.
func TestMetricsListener(t *testing.T) {
	creds := testkit.Creds()
	upstream := httptest.NewServer(simulator.New(simulator.Options{Credentials: creds, Recipe: signature.Default()}))
	t.Cleanup(upstream.Close)
	const shutdown = 500 * time.Millisecond
	cfg := teststack.Config(t, map[string]string{
		"UPSTREAM_URL":               upstream.URL,
		"UPSTREAM_APP_ID":            creds.AppID,
		"UPSTREAM_APP_KEY":           creds.AppKey.Reveal(),
		"UPSTREAM_APP_SECRET":        creds.AppSecret.Reveal(),
		"AUTH_MODE":                  "apikey",
		"AUTH_API_KEYS":              "web:" + accessKey,
		"METRICS_ADDR":               "127.0.0.1:0",
		"SHUTDOWN_TIMEOUT":           shutdown.String(),
		"SERVER_READ_HEADER_TIMEOUT": "1m", // the half-sent request must outlive the drain
		"LOG_FLUSH_INTERVAL":         "0",
	})
	logs := &testkit.LogBuffer{}
	logger, err := telemetry.NewLogger(logs, "json")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := server.New(t.Context(), cfg, server.Deps{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln) }()

	metricsURL := waitForListeningLine(t, logs)
	main := "http://" + ln.Addr().String()
	tests := []struct {
		name, url string
		header    map[string]string
		want      int
	}{
		{"metrics listener, no credential", metricsURL, nil, http.StatusOK},
		{"metrics listener, another path", strings.TrimSuffix(metricsURL, "/metrics") + "/query", nil, http.StatusNotFound},
		{"main listener, credential", main + "/metrics", map[string]string{"X-API-Key": accessKey}, http.StatusNotFound},
		{"main listener, no credential", main + "/metrics", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := testkit.Get(t, tt.url, tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d", tt.url, resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusOK && !strings.Contains(body, "go_goroutines ") {
				t.Errorf("not the metrics: %.200s", body)
			}
		})
	}

	// A request that never finishes its headers holds the metrics
	// listener's drain until SHUTDOWN_TIMEOUT, and no longer.
	u, _ := url.Parse(metricsURL)
	stuck, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if _, err := io.WriteString(stuck, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// Connections are accepted in the order they were made: once a later
	// one is answered, the server holds the stuck one.
	if resp, _ := testkit.Get(t, metricsURL, map[string]string{"Connection": "close"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape after the stuck connection: %d", resp.StatusCode)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if took := time.Since(start); took > shutdown+2*time.Second {
			t.Errorf("Serve returned %s after cancel, SHUTDOWN_TIMEOUT is %s", took, shutdown)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v, want the drain cut short by SHUTDOWN_TIMEOUT", err)
		}
	case <-time.After(shutdown + 10*time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	// Both listeners are closed, and so is the connection left hanging.
	for _, addr := range []string{u.Host, ln.Addr().String()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Serve returned", addr)
		}
	}
	_ = stuck.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := stuck.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !closedByPeer(err) {
		t.Errorf("the half-sent request's connection is still open after Serve returned: %v", err)
	}
}

// waitForListeningLine returns the metrics URL of the service's "listening"
// line, once it is logged.
func waitForListeningLine(t *testing.T, logs *testkit.LogBuffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var l struct {
				Msg     string `json:"msg"`
				Metrics string `json:"metrics"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.Metrics != "" {
				return l.Metrics
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no listening line with a metrics address:\n%s", logs)
	return ""
}

// closedByPeer reports whether err is a read error other than a timeout: a
// reset, which a closed connection with unread bytes gives instead of EOF.
func closedByPeer(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}
