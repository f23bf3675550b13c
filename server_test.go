package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// creds are the root tests' upstream credentials: testkit's known secrets,
// so that testkit.AssertNoSecrets finds them in a log or an answer, under an
// app id of these tests' own, which reaches the simulator only through run's
// configuration.
func creds() signature.Credentials {
	c := testkit.Creds()
	c.AppID = "app-run"
	return c
}

// upstreamEnv is the configuration that points run at an upstream at url
// that knows creds.
func upstreamEnv(url string) map[string]string {
	c := creds()
	return map[string]string{
		"UPSTREAM_URL":        url,
		"UPSTREAM_APP_ID":     c.AppID,
		"UPSTREAM_APP_KEY":    c.AppKey.Reveal(),
		"UPSTREAM_APP_SECRET": c.AppSecret.Reveal(),
	}
}

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
		testkit.AssertNoSecrets(t, "logs", s.logs.String())
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if addr, ok := listeningAddr(s.logs.String()); ok {
			base, err := proc.LoopbackBase(addr)
			if err != nil {
				t.Fatal(err)
			}
			s.base = base
			return s
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

// listeningAddr is where logs say run listens, read by the tools' one parser
// of the listening line, in JSON or text. Only whole lines are read: the last
// one may still be being written, and half an address is another port.
func listeningAddr(logs string) (string, bool) {
	whole := logs[:strings.LastIndexByte(logs, '\n')+1]
	for line := range strings.Lines(whole) {
		if addr, ok := proc.ListeningAddr([]byte(strings.TrimSuffix(line, "\n"))); ok {
			return addr, true
		}
	}
	return "", false
}

// post sends query to /query and returns the status and body; PostQuery
// fails the test if the body holds a secret of creds.
func (s *service) post(t *testing.T, query string) (int, string) {
	t.Helper()
	r := testkit.PostQuery(t, s.base+"/query", query, nil)
	return r.Status, string(r.Body)
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
	resp, page := testkit.Get(t, s.base+"/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "graphiql") {
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
// non-default recipe so that the signing knobs are exercised end to end, and
// the configuration that points run at it.
func upstream(t *testing.T) (*simulator.Simulator, map[string]string) {
	t.Helper()
	recipe, err := signature.NewRecipe(signature.HMACSHA256, "{appId}&{timestamp}&{appKey}", signature.Seconds)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Options{Credentials: creds(), Recipe: recipe})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env := upstreamEnv(srv.URL)
	env["UPSTREAM_SIGN_ALGORITHM"] = "hmac-sha256"
	env["UPSTREAM_SIGN_TEMPLATE"] = "{appId}&{timestamp}&{appKey}"
	env["UPSTREAM_TIMESTAMP_UNIT"] = "s"
	return sim, env
}

// recordingUpstream is a simulator on the default recipe that records the
// header name of every request it answers, the configuration that points run
// at it, and seen, which returns the values recorded so far.
func recordingUpstream(t *testing.T, name string) (sim *simulator.Simulator, env map[string]string, seen func() []string) {
	t.Helper()
	var (
		mu     sync.Mutex
		values []string
	)
	sim = simulator.New(simulator.Options{Credentials: creds(), Recipe: signature.Default()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		values = append(values, r.Header.Get(name))
		mu.Unlock()
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	seen = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(values)
	}
	return sim, upstreamEnv(srv.URL), seen
}

func TestRunAgainstAConfiguredUpstream(t *testing.T) {
	sim, env := upstream(t)
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
	_, env := upstream(t)
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
	sim, env := upstream(t)
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
		if resp, _ := testkit.Get(t, s.base+"/readyz", nil); resp.StatusCode == http.StatusOK {
			return
		}
	}
	t.Fatal("/readyz never turned 200")
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	key, secret := creds().AppKey.Reveal(), creds().AppSecret.Reveal()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"port", map[string]string{"PORT": "eighty"}, "PORT"},
		{"ttl", map[string]string{"CACHE_TTL": "-1s"}, "CACHE_TTL"},
		{"algorithm", map[string]string{"UPSTREAM_SIGN_ALGORITHM": "crc32"}, "UPSTREAM_SIGN_ALGORITHM"},
		{"missing secret", map[string]string{"UPSTREAM_URL": "https://open.example.com", "UPSTREAM_APP_ID": "a", "UPSTREAM_APP_KEY": key}, "UPSTREAM_APP_SECRET"},
		{"bad url", map[string]string{"UPSTREAM_URL": "ftp://x:" + secret + "@host", "UPSTREAM_APP_ID": "a", "UPSTREAM_APP_KEY": key, "UPSTREAM_APP_SECRET": secret}, "UPSTREAM_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := run(context.Background(), []string{"oppconfig-graphql"}, func(k string) string { return tt.env[k] }, io.Discard, &logs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
			testkit.AssertNoSecrets(t, "error", err.Error())
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

// TestRunSetsAHeapFloor checks that run raises GOGC for its small live heap
// (internal/gcfloor) unless GC_HEAP_FLOOR is 0 or the operator set GOGC.
func TestRunSetsAHeapFloor(t *testing.T) {
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	tests := []struct {
		name   string
		env    map[string]string
		raised bool
	}{
		{"by default", map[string]string{}, true},
		{"GC_HEAP_FLOOR=0", map[string]string{"GC_HEAP_FLOOR": "0"}, false},
		{"GOGC set", map[string]string{"GOGC": "100"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := debug.SetGCPercent(100)
			t.Cleanup(func() { debug.SetGCPercent(old) })
			s := start(t, tt.env)
			if status, body := s.post(t, "{ opportunityTypes { id } }"); status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			// The floor tunes after each collection, on a goroutine of its
			// own: collect until it has, or for long enough that it would have.
			var p uint64
			for range 50 {
				runtime.GC()
				runtime.Gosched()
				if p = gogc(); p > 100 {
					break
				}
			}
			if raised := p > 100; raised != tt.raised {
				t.Errorf("GOGC after 50 collections = %d, want raised above 100: %v", p, tt.raised)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	sim, env := upstream(t)
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
