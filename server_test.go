package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

const (
	appKey    = "ak-RUNTEST-5f1b"
	appSecret = "as-RUNTEST-9c2e"
)

var textListening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// service is run() started on port 0 in the background.
type service struct {
	base   string
	logs   *testkit.LogBuffer
	stop   context.CancelFunc
	result chan error
}

func start(t *testing.T, env map[string]string) *service {
	t.Helper()
	env["PORT"] = "0"
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{logs: &testkit.LogBuffer{}, stop: cancel, result: make(chan error, 1)}
	go func() {
		s.result <- run(ctx, []string{"oppconfig-graphql"}, func(k string) string { return env[k] }, io.Discard, s.logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.result
		for _, secret := range []string{appKey, appSecret} {
			if strings.Contains(s.logs.String(), secret) {
				t.Errorf("logs contain a secret:\n%s", s.logs)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if m := textListening.FindStringSubmatch(line); m != nil { // LOG_FORMAT=text
				entry.Msg, entry.Addr = "listening", m[1]
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" || entry.Addr != "" {
				u, err := url.Parse(entry.Addr)
				if err != nil {
					t.Fatal(err)
				}
				s.base = "http://127.0.0.1:" + u.Port()
				return s
			}
		}
		select {
		case err := <-s.result:
			t.Fatalf("run returned before listening: %v\n%s", err, s.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line within 10s:\n%s", s.logs)
	return nil
}

func (s *service) post(t *testing.T, query string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	resp, err := http.Post(s.base+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, secret := range []string{appKey, appSecret} {
		if strings.Contains(string(b), secret) {
			t.Errorf("response contains a secret: %s", b)
		}
	}
	return resp.StatusCode, string(b)
}

func TestRunServesDemoDataByDefault(t *testing.T) {
	s := start(t, map[string]string{})
	status, body := s.post(t, `{ defaultOpportunityType { typeName stages { name } } }`)
	if status != http.StatusOK || !strings.Contains(body, "标准销售商机") || !strings.Contains(body, "初步接洽") {
		t.Fatalf("%d %s", status, body)
	}
	if !strings.Contains(s.logs.String(), "simulator") {
		t.Errorf("demo mode is not announced in the logs:\n%s", s.logs)
	}
	// A newcomer's first screen says where to look, in addresses a browser
	// opens, and that the data is demo data.
	u, _ := url.Parse(s.base)
	for _, want := range []string{"http://localhost:" + u.Port() + "/ for the GraphQL playground", "http://localhost:" + u.Port() + "/explorer", "demo data"} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("start-up lines lack %q:\n%s", want, s.logs)
		}
	}
	if strings.Contains(s.logs.String(), "[::]") || strings.Contains(s.logs.String(), "0.0.0.0") {
		t.Errorf("start-up lines show an address a browser cannot open:\n%s", s.logs)
	}
	resp, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("graphiql")) {
		t.Errorf("playground: %d", resp.StatusCode)
	}

	s.stop()
	select {
	case err := <-s.result:
		s.result <- err // for the cleanup
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

// upstream is a simulator standing in for the real tanmarket endpoint, with a
// non-default recipe so that the signing knobs are exercised end to end.
func upstream(t *testing.T) (*simulator.Simulator, string, map[string]string) {
	t.Helper()
	recipe, err := signature.NewRecipe(signature.HMACSHA256, "{appId}&{timestamp}&{appKey}", signature.Seconds)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Options{
		Credentials: signature.Credentials{AppID: "app-run", AppKey: signature.NewSecret(appKey), AppSecret: signature.NewSecret(appSecret)},
		Recipe:      recipe,
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL, map[string]string{
		"UPSTREAM_URL":            srv.URL,
		"UPSTREAM_APP_ID":         "app-run",
		"UPSTREAM_APP_KEY":        appKey,
		"UPSTREAM_APP_SECRET":     appSecret,
		"UPSTREAM_SIGN_ALGORITHM": "hmac-sha256",
		"UPSTREAM_SIGN_TEMPLATE":  "{appId}&{timestamp}&{appKey}",
		"UPSTREAM_TIMESTAMP_UNIT": "s",
	}
}

func TestRunAgainstAConfiguredUpstream(t *testing.T) {
	sim, _, env := upstream(t)
	s := start(t, env)
	for range 3 {
		status, body := s.post(t, `{ opportunityTypes { typeId } }`)
		if status != http.StatusOK || !strings.Contains(body, `"typeId":1001`) {
			t.Fatalf("%d %s", status, body)
		}
	}
	if n := sim.Calls(); n != 1 {
		t.Errorf("upstream calls = %d, want 1 (cached for CACHE_TTL)", n)
	}
	if strings.Contains(s.logs.String(), "demo data") {
		t.Error("a configured upstream must not start the simulator")
	}
	// Introspection is off by default against a real upstream.
	if _, body := s.post(t, `{ __schema { queryType { name } } }`); !strings.Contains(body, "errors") {
		t.Errorf("introspection served against a real upstream: %s", body)
	}
}

func TestRunWithAWrongSecretReportsRejection(t *testing.T) {
	_, _, env := upstream(t)
	env["UPSTREAM_APP_SECRET"] = "as-RUNTEST-wrong"
	s := start(t, env)
	status, body := s.post(t, `{ opportunityTypes { typeId } }`)
	if status != http.StatusOK || !strings.Contains(body, `"code":"UPSTREAM_REJECTED"`) || !strings.Contains(body, `"upstreamCode":40004`) {
		t.Fatalf("%d %s", status, body)
	}
	if !strings.Contains(s.logs.String(), "refresh failed") {
		t.Errorf("the failed refresh is not logged:\n%s", s.logs)
	}
	if strings.Contains(s.logs.String(), "as-RUNTEST-wrong") || strings.Contains(body, "as-RUNTEST-wrong") {
		t.Error("the configured (wrong) secret leaked")
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	sim, _, env := upstream(t)
	env["CACHE_TTL"] = "1ms" // so that the request below makes its own upstream call
	s := start(t, env)
	waitReady(t, s) // the start-up warm-up fetch is done
	sim.SetLatency(500 * time.Millisecond)
	warm := sim.Calls()

	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Post(s.base+"/query", "application/json", strings.NewReader(`{"query":"{ opportunityTypes { typeId } }"}`))
		if err != nil {
			done <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- answer{status: resp.StatusCode, body: string(b)}
	}()
	// Wait until the request is in the upstream, then ask to stop.
	for sim.Calls() == warm {
		time.Sleep(5 * time.Millisecond)
	}
	s.stop()
	a := <-done
	if a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, "1001") {
		t.Fatalf("in-flight request was not drained: %d %s %v", a.status, a.body, a.err)
	}
	if err := <-s.result; err != nil {
		t.Fatalf("run: %v", err)
	}
	s.result <- nil
}

// logsWith waits for a log line containing substr (log lines are buffered for
// up to LOG_FLUSH_INTERVAL, 100ms by default) and returns the logs.
func (s *service) logsWith(t *testing.T, substr string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if logs := s.logs.String(); strings.Contains(logs, substr) {
			return logs
		}
	}
	t.Fatalf("no log line with %q within 5s:\n%s", substr, s.logs)
	return ""
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, s *service) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
	}
	t.Fatal("/readyz never turned 200")
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"PORT": "eighty"}, "PORT"},
		{"ttl", map[string]string{"CACHE_TTL": "-1s"}, "CACHE_TTL"},
		{"algorithm", map[string]string{"UPSTREAM_SIGN_ALGORITHM": "crc32"}, "UPSTREAM_SIGN_ALGORITHM"},
		{"missing secret", map[string]string{"UPSTREAM_URL": "https://open.example.com", "UPSTREAM_APP_ID": "a", "UPSTREAM_APP_KEY": appKey}, "UPSTREAM_APP_SECRET"},
		{"bad url", map[string]string{"UPSTREAM_URL": "ftp://x:" + appSecret + "@host", "UPSTREAM_APP_ID": "a", "UPSTREAM_APP_KEY": appKey, "UPSTREAM_APP_SECRET": appSecret}, "UPSTREAM_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := run(context.Background(), []string{"oppconfig-graphql"}, func(k string) string { return tt.env[k] }, io.Discard, &logs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), appSecret) || strings.Contains(err.Error(), appKey) {
				t.Errorf("error shows a secret: %v", err)
			}
			if strings.Contains(logs.String(), "listening") {
				t.Error("started listening despite bad configuration")
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"oppconfig-graphql", "-h"}, func(string) string { return "" }, &out, io.Discard)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	for _, name := range []string{"PORT", "UPSTREAM_URL", "UPSTREAM_APP_SECRET", "UPSTREAM_SIGN_TEMPLATE", "CACHE_TTL", "CACHE_MAX_STALE"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("help does not mention %s:\n%s", name, out.String())
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	sim, _, env := upstream(t)
	sim.SetFault(simulator.FaultServerError) // the start-up fetch fails
	env["UPSTREAM_RETRIES"] = "0"
	s := start(t, env)

	resp, body := testkit.Get(t, s.base+"/healthz", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, body = testkit.Get(t, s.base+"/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "reason") {
		t.Errorf("/readyz with no configuration: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/readyz Cache-Control %q", resp.Header.Get("Cache-Control"))
	}

	sim.SetFault(simulator.FaultNone)
	s.post(t, `{ opportunityTypes { typeId } }`) // fetches
	resp, body = testkit.Get(t, s.base+"/readyz", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"configVersion"`) || !strings.Contains(body, `"ready"`) {
		t.Errorf("/readyz with a configuration: %d %s", resp.StatusCode, body)
	}
}
