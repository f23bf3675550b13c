package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// testNow is the simulator's clock in most tests, so that timestamps are exact.
func testNow() time.Time { return time.Date(2024, 6, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*60*60)) }

// start serves sim on a real port and closes it at the end of the test. Close
// waits for every handler to return, so a handler that leaked (blocked forever)
// would hang the test rather than pass.
func start(t *testing.T, opts simulator.Options) (*simulator.Simulator, string) {
	t.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func defaultOptions() simulator.Options {
	return simulator.Options{Credentials: testkit.Creds(), Recipe: signature.Default(), Now: testNow}
}

// signed returns the four headers a client sends, spelled as the vendor
// documents them (the map is set directly, like the real client does).
func signed(c signature.Credentials, r signature.Recipe, now time.Time) http.Header {
	ts, sign := r.Sign(c, now)
	return http.Header{
		"appId":     {c.AppID},
		"appKey":    {c.AppKey.Reveal()},
		"timestamp": {ts},
		"sign":      {sign},
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// envelope decodes the body, failing the test when it is not an envelope.
func (r *response) envelope(t *testing.T) wire.Envelope {
	t.Helper()
	var env wire.Envelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	if env.Code == nil {
		t.Fatalf("body has no code: %s", r.body)
	}
	return env
}

func do(ctx context.Context, method, url string, h http.Header) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader("{}"))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// mustDo sends a request that must get an answer.
func mustDo(t *testing.T, method, url string, h http.Header) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := do(ctx, method, url, h)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sameJSON reports whether a and b decode to equal values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %.60s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %.60s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestAuthentication(t *testing.T) {
	creds := testkit.Creds()
	now := testNow()
	// setTS replaces the timestamp and signs it correctly, so that only the
	// timestamp can be wrong.
	setTS := func(r signature.Recipe, ts string) func(http.Header) {
		return func(h http.Header) {
			h["timestamp"] = []string{ts}
			h["sign"] = []string{r.SignTimestamp(creds, ts)}
		}
	}
	ms := signature.Default()
	secs, err := signature.NewRecipe(signature.MD5, signature.DefaultTemplate, signature.Seconds)
	if err != nil {
		t.Fatal(err)
	}
	sha, err := signature.NewRecipe(signature.SHA256, signature.DefaultTemplate, signature.Milliseconds)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		recipe   signature.Recipe // of both the simulator and the caller
		edit     func(h http.Header)
		wantCode int
		wantMsg  string // a substring of the message; "" skips the check
	}{
		{name: "good", recipe: ms, edit: func(http.Header) {}, wantCode: 0, wantMsg: "success"},
		{name: "sign in upper case", recipe: ms, edit: func(h http.Header) { h["sign"][0] = strings.ToUpper(h["sign"][0]) }, wantCode: 0},
		{name: "timestamp 4 minutes old", recipe: ms, edit: setTS(ms, ms.Timestamp(now.Add(-4*time.Minute))), wantCode: 0},
		{name: "timestamp 4 minutes ahead", recipe: ms, edit: setTS(ms, ms.Timestamp(now.Add(4*time.Minute))), wantCode: 0},
		{name: "seconds recipe", recipe: secs, edit: func(http.Header) {}, wantCode: 0},
		{name: "header names in any case", recipe: ms, edit: func(h http.Header) {
			h["APPID"], h["appId"] = h["appId"], nil
			h["Sign"], h["sign"] = h["sign"], nil
		}, wantCode: 0},

		{name: "missing appId", recipe: ms, edit: func(h http.Header) { delete(h, "appId") }, wantCode: simulator.CodeMissingHeader, wantMsg: "缺少请求头 appId"},
		{name: "missing appKey", recipe: ms, edit: func(h http.Header) { delete(h, "appKey") }, wantCode: simulator.CodeMissingHeader, wantMsg: "缺少请求头 appKey"},
		{name: "missing timestamp", recipe: ms, edit: func(h http.Header) { delete(h, "timestamp") }, wantCode: simulator.CodeMissingHeader, wantMsg: "缺少请求头 timestamp"},
		{name: "missing sign", recipe: ms, edit: func(h http.Header) { delete(h, "sign") }, wantCode: simulator.CodeMissingHeader, wantMsg: "缺少请求头 sign"},
		{name: "empty appId, as in the vendor's curl sample", recipe: ms, edit: func(h http.Header) { h["appId"] = []string{""} }, wantCode: simulator.CodeMissingHeader, wantMsg: "appId"},

		{name: "unknown appId", recipe: ms, edit: func(h http.Header) { h["appId"] = []string{creds.AppID + "-other"} }, wantCode: simulator.CodeUnknownApp},
		{name: "wrong appKey", recipe: ms, edit: func(h http.Header) { h["appKey"] = []string{"ak-wrong-key"} }, wantCode: simulator.CodeUnknownApp},
		{name: "appKey prefix", recipe: ms, edit: func(h http.Header) { h["appKey"] = []string{creds.AppKey.Reveal()[:7]} }, wantCode: simulator.CodeUnknownApp},

		{name: "timestamp not an integer", recipe: ms, edit: setTS(ms, "1717207200000.5"), wantCode: simulator.CodeBadTimestamp},
		{name: "timestamp is a date", recipe: ms, edit: setTS(ms, "2024-06-01T10:00:00+08:00"), wantCode: simulator.CodeBadTimestamp},
		{name: "timestamp 6 minutes old", recipe: ms, edit: setTS(ms, ms.Timestamp(now.Add(-6*time.Minute))), wantCode: simulator.CodeBadTimestamp},
		{name: "timestamp 6 minutes ahead", recipe: ms, edit: setTS(ms, ms.Timestamp(now.Add(6*time.Minute))), wantCode: simulator.CodeBadTimestamp},
		{name: "seconds sent to a milliseconds recipe", recipe: ms, edit: setTS(ms, secs.Timestamp(now)), wantCode: simulator.CodeBadTimestamp},
		{name: "milliseconds sent to a seconds recipe", recipe: secs, edit: setTS(secs, ms.Timestamp(now)), wantCode: simulator.CodeBadTimestamp},
		{name: "timestamp overflows", recipe: ms, edit: setTS(ms, "9223372036854775807"), wantCode: simulator.CodeBadTimestamp},

		{name: "signed with another secret", recipe: ms, edit: func(h http.Header) {
			other := creds
			other.AppSecret = signature.NewSecret("as-not-the-secret")
			h["sign"] = []string{ms.SignTimestamp(other, h["timestamp"][0])}
		}, wantCode: simulator.CodeBadSignature, wantMsg: "签名错误"},
		{name: "sign of another timestamp", recipe: ms, edit: func(h http.Header) {
			h["sign"] = []string{ms.SignTimestamp(creds, ms.Timestamp(now.Add(-time.Second)))}
		}, wantCode: simulator.CodeBadSignature, wantMsg: "签名错误"},
		{name: "sign by another recipe", recipe: ms, edit: func(h http.Header) {
			h["sign"] = []string{sha.SignTimestamp(creds, h["timestamp"][0])}
		}, wantCode: simulator.CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := defaultOptions()
			opts.Recipe = tt.recipe
			_, url := start(t, opts)
			h := signed(creds, tt.recipe, now)
			tt.edit(h)

			resp := mustDo(t, http.MethodPost, url+simulator.Path, h)
			if resp.status != http.StatusOK {
				t.Fatalf("status = %d, want 200 (the vendor rejects with a code, not a status)", resp.status)
			}
			if got, want := resp.header.Get("Content-Type"), "application/json;charset=UTF-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			env := resp.envelope(t)
			if *env.Code != tt.wantCode {
				t.Fatalf("code = %d (%s), want %d", *env.Code, env.Message, tt.wantCode)
			}
			if !strings.Contains(env.Message, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", env.Message, tt.wantMsg)
			}
			for _, secret := range []string{creds.AppKey.Reveal(), creds.AppSecret.Reveal(), "ak-wrong-key"} {
				if bytes.Contains(resp.body, []byte(secret)) {
					t.Errorf("body echoes the credential %q: %s", secret, resp.body)
				}
			}
			if tt.wantCode != 0 {
				if string(env.Data) != "null" {
					t.Errorf("data = %.60s, want null", env.Data)
				}
				return
			}
			if !sameJSON(t, env.Data, simulator.DemoDataset()) {
				t.Errorf("data is not the demo dataset: %.200s", env.Data)
			}
		})
	}
}

func TestMaxSkewOption(t *testing.T) {
	tests := []struct {
		name     string
		maxSkew  time.Duration
		age      time.Duration
		wantCode int
	}{
		{name: "default allows 5 minutes", maxSkew: 0, age: 5 * time.Minute, wantCode: 0},
		{name: "default refuses 5 minutes and a millisecond", maxSkew: 0, age: 5*time.Minute + time.Millisecond, wantCode: simulator.CodeBadTimestamp},
		{name: "30s allows 30s", maxSkew: 30 * time.Second, age: 30 * time.Second, wantCode: 0},
		{name: "30s refuses 31s", maxSkew: 30 * time.Second, age: 31 * time.Second, wantCode: simulator.CodeBadTimestamp},
		{name: "30s refuses 31s ahead", maxSkew: 30 * time.Second, age: -31 * time.Second, wantCode: simulator.CodeBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := defaultOptions()
			opts.MaxSkew = tt.maxSkew
			_, url := start(t, opts)
			resp := mustDo(t, http.MethodPost, url+simulator.Path, signed(testkit.Creds(), opts.Recipe, testNow().Add(-tt.age)))
			if env := resp.envelope(t); *env.Code != tt.wantCode {
				t.Errorf("code = %d (%s), want %d", *env.Code, env.Message, tt.wantCode)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantAllow  string
	}{
		{name: "GET the endpoint", method: http.MethodGet, path: simulator.Path, wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "PUT the endpoint", method: http.MethodPut, path: simulator.Path, wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "DELETE the endpoint", method: http.MethodDelete, path: simulator.Path, wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "trailing slash", method: http.MethodPost, path: simulator.Path + "/", wantStatus: http.StatusNotFound},
		{name: "another endpoint", method: http.MethodPost, path: "/api/v3/opportunity/list", wantStatus: http.StatusNotFound},
		{name: "root", method: http.MethodGet, path: "/", wantStatus: http.StatusNotFound},
		{name: "query string is ignored", method: http.MethodPost, path: simulator.Path + "?x=1", wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := defaultOptions()
			_, url := start(t, opts)
			resp := mustDo(t, tt.method, url+tt.path, signed(testkit.Creds(), opts.Recipe, testNow()))
			if resp.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.status, tt.wantStatus)
			}
			if got := resp.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault   simulator.Fault
		timeout time.Duration // of the caller's context
		check   func(t *testing.T, resp *response, err error)
	}{
		{fault: simulator.FaultNone, timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if env := resp.envelope(t); *env.Code != 0 || !sameJSON(t, env.Data, simulator.DemoDataset()) {
				t.Errorf("want the demo dataset, got code %d, data %.60s", *env.Code, env.Data)
			}
		}},
		{fault: simulator.FaultServerError, timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if resp.status != http.StatusServiceUnavailable {
				t.Errorf("status = %d, want 503", resp.status)
			}
			if json.Valid(resp.body) || len(resp.body) == 0 || len(resp.body) > 512 {
				t.Errorf("want a small non-JSON body, got %q", resp.body)
			}
		}},
		{fault: simulator.FaultTimeout, timeout: 100 * time.Millisecond, check: func(t *testing.T, resp *response, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded (response %+v)", err, resp)
			}
		}},
		{fault: simulator.FaultMalformedJSON, timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if resp.status != http.StatusOK {
				t.Errorf("status = %d, want 200", resp.status)
			}
			if json.Valid(resp.body) {
				t.Errorf("body is valid JSON: %.60s", resp.body)
			}
			if !bytes.HasPrefix(resp.body, []byte(`{"code":0,`)) {
				t.Errorf("want a truncated success body, got %.60s", resp.body)
			}
		}},
		{fault: simulator.FaultRejected, timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			env := resp.envelope(t)
			if resp.status != http.StatusOK || *env.Code != simulator.CodeBusy || string(env.Data) != "null" || env.Message == "" {
				t.Errorf("got status %d, body %s; want 200 with code %d and null data", resp.status, resp.body, simulator.CodeBusy)
			}
		}},
		{fault: simulator.FaultWrongShape, timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			env := resp.envelope(t)
			if resp.status != http.StatusOK || *env.Code != 0 {
				t.Errorf("got status %d, code %d; want 200 and 0", resp.status, *env.Code)
			}
			var obj map[string]any
			if err := json.Unmarshal(env.Data, &obj); err != nil {
				t.Errorf("data is not an object: %v: %s", err, env.Data)
			}
		}},
		{fault: simulator.Fault(99), timeout: 10 * time.Second, check: func(t *testing.T, resp *response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if env := resp.envelope(t); *env.Code != 0 {
				t.Errorf("an unknown fault should answer normally, got code %d", *env.Code)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			opts := defaultOptions()
			sim, url := start(t, opts)
			sim.SetFault(tt.fault)
			ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
			defer cancel()
			resp, err := do(ctx, http.MethodPost, url+simulator.Path, signed(testkit.Creds(), opts.Recipe, testNow()))
			tt.check(t, resp, err)
			if got := sim.Calls(); got != 1 {
				t.Errorf("Calls() = %d, want 1", got)
			}
		})
	}
}

func TestFaultsComeBeforeTheCredentialCheck(t *testing.T) {
	sim, url := start(t, defaultOptions())
	sim.SetFault(simulator.FaultServerError)
	if resp := mustDo(t, http.MethodPost, url+simulator.Path, nil); resp.status != http.StatusServiceUnavailable {
		t.Errorf("unsigned request under FaultServerError: status %d, want 503", resp.status)
	}
	sim.SetFault(simulator.FaultNone)
	if env := mustDo(t, http.MethodPost, url+simulator.Path, nil).envelope(t); *env.Code != simulator.CodeMissingHeader {
		t.Errorf("after FaultNone: code %d, want %d", *env.Code, simulator.CodeMissingHeader)
	}
}

func TestFaultString(t *testing.T) {
	tests := []struct {
		give simulator.Fault
		want string
	}{
		{simulator.FaultNone, "none"},
		{simulator.FaultServerError, "server-error"},
		{simulator.FaultTimeout, "timeout"},
		{simulator.FaultMalformedJSON, "malformed-json"},
		{simulator.FaultRejected, "rejected"},
		{simulator.FaultWrongShape, "wrong-shape"},
		{simulator.Fault(42), "Fault(42)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("Fault(%d).String() = %q, want %q", int(tt.give), got, tt.want)
		}
	}
}

// TestLatencyOverHTTP checks that a long delay gives way to the caller's
// deadline; start's Close then proves the handler returned instead of sleeping on.
func TestLatencyOverHTTP(t *testing.T) {
	opts := defaultOptions()
	sim, url := start(t, opts)
	sim.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := do(ctx, http.MethodPost, url+simulator.Path, signed(testkit.Creds(), opts.Recipe, testNow()))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestLatency measures the delay with synctest's fake clock. It calls ServeHTTP
// directly because real sockets do not block durably inside a synctest bubble.
func TestLatency(t *testing.T) {
	tests := []struct {
		name      string
		latency   time.Duration
		deadline  time.Duration // of the request's context; 0 means none
		wantTook  time.Duration
		wantReply bool
	}{
		{name: "no latency", latency: 0, wantTook: 0, wantReply: true},
		{name: "negative latency is none", latency: -time.Second, wantTook: 0, wantReply: true},
		{name: "2s", latency: 2 * time.Second, wantTook: 2 * time.Second, wantReply: true},
		{name: "deadline first", latency: time.Hour, deadline: 3 * time.Second, wantTook: 3 * time.Second, wantReply: false},
		{name: "latency first", latency: time.Second, deadline: 3 * time.Second, wantTook: time.Second, wantReply: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := defaultOptions()
				opts.Now = nil // time.Now, which is the bubble's fake clock
				sim := simulator.New(opts)
				sim.SetLatency(tt.latency)

				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, simulator.Path, nil)
				for k, v := range signed(testkit.Creds(), opts.Recipe, time.Now()) {
					req.Header.Set(k, v[0])
				}
				rec := httptest.NewRecorder()
				began := time.Now()
				sim.ServeHTTP(rec, req)
				if took := time.Since(began); took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
				if gotReply := rec.Body.Len() > 0; gotReply != tt.wantReply {
					t.Errorf("replied = %v, want %v (body %.60s)", gotReply, tt.wantReply, rec.Body.Bytes())
				}
			})
		})
	}
}

func TestCalls(t *testing.T) {
	opts := defaultOptions()
	sim, url := start(t, opts)
	good := signed(testkit.Creds(), opts.Recipe, testNow())
	steps := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		fault     simulator.Fault
		wantCalls int64
	}{
		{name: "good", method: http.MethodPost, path: simulator.Path, header: good, wantCalls: 1},
		{name: "other path is not the endpoint", method: http.MethodPost, path: "/healthz", header: good, wantCalls: 1},
		{name: "wrong method still reached it", method: http.MethodGet, path: simulator.Path, header: good, wantCalls: 2},
		{name: "unsigned", method: http.MethodPost, path: simulator.Path, header: nil, wantCalls: 3},
		{name: "faulted", method: http.MethodPost, path: simulator.Path, header: good, fault: simulator.FaultRejected, wantCalls: 4},
		{name: "good again", method: http.MethodPost, path: simulator.Path, header: good, wantCalls: 5},
	}
	for _, s := range steps {
		sim.SetFault(s.fault)
		mustDo(t, s.method, url+s.path, s.header)
		if got := sim.Calls(); got != s.wantCalls {
			t.Errorf("after %s: Calls() = %d, want %d", s.name, got, s.wantCalls)
		}
	}
}

func TestSetDataset(t *testing.T) {
	custom := []byte(`[{"typeName":"测试类型","typeId":9001,"defaultType":true,"stages":[],"fields":[]}]`)
	opts := defaultOptions()
	opts.Dataset = []byte(`[]`)
	sim, url := start(t, opts)
	h := signed(testkit.Creds(), opts.Recipe, testNow())
	steps := []struct {
		name string
		set  func()
		want []byte
	}{
		{name: "Options.Dataset", set: func() {}, want: []byte(`[]`)},
		{name: "custom", set: func() { sim.SetDataset(custom) }, want: custom},
		{name: "nil restores the demo, compacted", set: func() { sim.SetDataset(nil) }, want: compact(t, simulator.DemoDataset())},
		{name: "copied, not aliased", set: func() {
			b := bytes.Clone(custom)
			sim.SetDataset(b)
			copy(b, "{}  ")
		}, want: custom},
	}
	for _, s := range steps {
		s.set()
		env := mustDo(t, http.MethodPost, url+simulator.Path, h).envelope(t)
		// RawMessage drops the whitespace around a value, such as dataset.json's final newline.
		if *env.Code != 0 || !bytes.Equal(env.Data, bytes.TrimSpace(s.want)) {
			t.Errorf("%s: code %d, data %.80s; want 0 and %.80s verbatim", s.name, *env.Code, env.Data, s.want)
		}
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDemoDatasetIsACopy(t *testing.T) {
	b := simulator.DemoDataset()
	b[0] = 'X'
	if got := simulator.DemoDataset(); got[0] != '[' {
		t.Errorf("DemoDataset()[0] = %q after a caller changed its copy", got[0])
	}
}

// TestConcurrentUse is for the race detector: requests run while the setters flip.
func TestConcurrentUse(t *testing.T) {
	opts := defaultOptions()
	sim, url := start(t, opts)
	h := signed(testkit.Creds(), opts.Recipe, testNow())
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := do(t.Context(), http.MethodPost, url+simulator.Path, h)
				if err != nil {
					errs <- err
					continue
				}
				var env wire.Envelope
				if err := json.Unmarshal(resp.body, &env); err != nil || env.Code == nil {
					errs <- fmt.Errorf("bad body %.60s: %v", resp.body, err)
					continue
				}
				if *env.Code != 0 && *env.Code != simulator.CodeBusy {
					errs <- fmt.Errorf("unexpected code %d", *env.Code)
				}
			}
		})
	}
	for i := range 50 {
		sim.SetFault([]simulator.Fault{simulator.FaultNone, simulator.FaultRejected}[i%2])
		sim.SetDataset([]byte(`[{"typeId":` + strconv.Itoa(i) + `}]`))
		sim.SetLatency(time.Duration(i%3) * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := sim.Calls(); got != workers*each {
		t.Errorf("Calls() = %d, want %d", got, workers*each)
	}
}

// walkStages calls f for every stage of the tree with its depth (1 for top level).
func walkStages(stages []wire.Stage, depth int, f func(s wire.Stage, depth int)) {
	for _, s := range stages {
		f(s, depth)
		walkStages(s.Children, depth+1, f)
	}
}

func allStages(types []wire.Type, f func(typ wire.Type, s wire.Stage, depth int)) {
	for _, typ := range types {
		walkStages(typ.Stages, 1, func(s wire.Stage, depth int) { f(typ, s, depth) })
	}
}

// checkRanks reports an error unless ranks are exactly 1..n in order.
func checkRanks(what string, ranks []int) error {
	for i, r := range ranks {
		if r != i+1 {
			return fmt.Errorf("%s: ranks %v, want 1..%d", what, ranks, len(ranks))
		}
	}
	return nil
}

// Field type codes, as documented in simulator.go.
const (
	typeSingleSelect = 3
	typeMultiSelect  = 4
	typeNumber       = 5
	typeAmount       = 6
	typeEmail        = 10
)

func TestDemoDataset(t *testing.T) {
	raw := simulator.DemoDataset()
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Strictly: a key the vendor does not send is an error. That every key it
	// does send is there, wire's TestServedJSONHasEveryVendorField checks. A
	// nil list means the JSON had null, an empty one [].
	dec.DisallowUnknownFields()
	var types []wire.Type
	if err := dec.Decode(&types); err != nil {
		t.Fatalf("decode dataset.json strictly: %v", err)
	}

	tests := []struct {
		name  string
		check func() error
	}{
		{"pretty-printed with two spaces", func() error {
			var want bytes.Buffer
			if err := json.Indent(&want, raw, "", "  "); err != nil {
				return err
			}
			want.WriteByte('\n')
			if !bytes.Equal(bytes.TrimSpace(raw), bytes.TrimSpace(want.Bytes())) {
				return errors.New("dataset.json is not indented with two spaces")
			}
			return nil
		}},
		{"four types", func() error {
			if len(types) != 4 {
				return fmt.Errorf("%d types", len(types))
			}
			return nil
		}},
		{"exactly one default type", func() error {
			n := 0
			for _, typ := range types {
				if typ.DefaultType {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("%d default types", n)
			}
			return nil
		}},
		{"unique typeIds and names", func() error {
			ids, names := map[int]bool{}, map[string]bool{}
			for _, typ := range types {
				if ids[typ.TypeID] || names[typ.TypeName] {
					return fmt.Errorf("type %d %s repeated", typ.TypeID, typ.TypeName)
				}
				ids[typ.TypeID], names[typ.TypeName] = true, true
			}
			return nil
		}},
		{"stage ids unique in the whole dataset", func() error {
			seen := map[int]bool{}
			var err error
			allStages(types, func(_ wire.Type, s wire.Stage, _ int) {
				if seen[s.ID] {
					err = errors.Join(err, fmt.Errorf("stage id %d repeated", s.ID))
				}
				seen[s.ID] = true
			})
			return err
		}},
		{"stages plausible: ranks 1..n, possibility 0..100, reminders", func() error {
			var err error
			check := func(what string, stages []wire.Stage) {
				ranks := make([]int, len(stages))
				for i, s := range stages {
					ranks[i] = s.Rank
				}
				err = errors.Join(err, checkRanks(what, ranks))
			}
			for _, typ := range types {
				check(typ.TypeName, typ.Stages)
			}
			allStages(types, func(typ wire.Type, s wire.Stage, _ int) {
				check(s.Name, s.Children)
				if s.Possibility < 0 || s.Possibility > 100 || s.Name == "" || s.Requirement == "" {
					err = errors.Join(err, fmt.Errorf("stage %d: possibility %d, name %q, requirement %q", s.ID, s.Possibility, s.Name, s.Requirement))
				}
				if s.RemindAfterDays == nil || (!s.Remind && len(s.RemindAfterDays) > 0) {
					err = errors.Join(err, fmt.Errorf("stage %d: remind %v with days %v", s.ID, s.Remind, s.RemindAfterDays))
				}
				for _, d := range s.RemindAfterDays {
					if n, e := strconv.Atoi(d); e != nil || n <= 0 {
						err = errors.Join(err, fmt.Errorf("stage %d: remindAfterDays %q", s.ID, d))
					}
				}
			})
			return err
		}},
		{"a three-level stage chain", func() error {
			deepest := 0
			allStages(types, func(_ wire.Type, _ wire.Stage, depth int) { deepest = max(deepest, depth) })
			if deepest < 3 {
				return fmt.Errorf("deepest stage is at level %d", deepest)
			}
			return nil
		}},
		{"null and [] both appear in stage lists", func() error {
			var nullChildren, emptyChildren, nullCustomer, emptyCustomer, nullRequired, emptyRequired bool
			allStages(types, func(_ wire.Type, s wire.Stage, _ int) {
				nullChildren = nullChildren || s.Children == nil
				emptyChildren = emptyChildren || (s.Children != nil && len(s.Children) == 0)
				nullCustomer = nullCustomer || s.CustomerFields == nil
				emptyCustomer = emptyCustomer || (s.CustomerFields != nil && len(s.CustomerFields) == 0)
				nullRequired = nullRequired || s.RequiredOppTypeFields == nil
				emptyRequired = emptyRequired || (s.RequiredOppTypeFields != nil && len(s.RequiredOppTypeFields) == 0)
			})
			if !(nullChildren && emptyChildren && nullCustomer && emptyCustomer && nullRequired && emptyRequired) {
				return fmt.Errorf("children null/[] %v/%v, customerFields %v/%v, requiredOppTypeFields %v/%v",
					nullChildren, emptyChildren, nullCustomer, emptyCustomer, nullRequired, emptyRequired)
			}
			return nil
		}},
		{"fields: 8-12 per type, unique ids, ranks 1..n, options only on selects", func() error {
			var err error
			for _, typ := range types {
				if n := len(typ.Fields); n < 8 || n > 12 {
					err = errors.Join(err, fmt.Errorf("%s: %d fields", typ.TypeName, n))
				}
				ids := map[int]bool{}
				ranks := make([]int, len(typ.Fields))
				for i, f := range typ.Fields {
					ranks[i] = f.Rank
					if ids[f.ID] {
						err = errors.Join(err, fmt.Errorf("%s: field id %d repeated", typ.TypeName, f.ID))
					}
					ids[f.ID] = true
					if f.Type < 1 || f.Type > 10 {
						err = errors.Join(err, fmt.Errorf("field %d: type %d not documented", f.ID, f.Type))
					}
					isSelect := f.Type == typeSingleSelect || f.Type == typeMultiSelect
					if isSelect != (len(f.Options) > 0) || (isSelect && (len(f.Options) < 3 || len(f.Options) > 6)) {
						err = errors.Join(err, fmt.Errorf("field %d (type %d): %d options", f.ID, f.Type, len(f.Options)))
					}
					optIDs := map[int]bool{}
					for _, o := range f.Options {
						if optIDs[o.ID] || o.Name == "" {
							err = errors.Join(err, fmt.Errorf("field %d: option %d %q", f.ID, o.ID, o.Name))
						}
						optIDs[o.ID] = true
					}
					if f.Scale != 0 && f.Type != typeNumber && f.Type != typeAmount {
						err = errors.Join(err, fmt.Errorf("field %d (type %d): scale %d", f.ID, f.Type, f.Scale))
					}
				}
				err = errors.Join(err, checkRanks(typ.TypeName+" fields", ranks))
			}
			return err
		}},
		{"some minUnicode and pattern, patterns compile", func() error {
			var minSet, patternSet, emailPattern bool
			var err error
			for _, typ := range types {
				for _, f := range typ.Fields {
					if f.MinUnicode != nil {
						minSet = true
						if *f.MinUnicode > f.MaxUnicode {
							err = errors.Join(err, fmt.Errorf("field %d: minUnicode %d > maxUnicode %d", f.ID, *f.MinUnicode, f.MaxUnicode))
						}
					}
					if f.Pattern != nil {
						patternSet = true
						emailPattern = emailPattern || f.Type == typeEmail
						if _, e := regexp.Compile(*f.Pattern); e != nil {
							err = errors.Join(err, fmt.Errorf("field %d: %w", f.ID, e))
						}
					}
				}
			}
			if !minSet || !patternSet || !emailPattern {
				err = errors.Join(err, fmt.Errorf("minUnicode set %v, pattern set %v, email pattern %v", minSet, patternSet, emailPattern))
			}
			return err
		}},
		{"requiredOppTypeFields are fields of the same type", func() error {
			var err error
			allStages(types, func(typ wire.Type, s wire.Stage, _ int) {
				for _, r := range s.RequiredOppTypeFields {
					i := slices.IndexFunc(typ.Fields, func(f wire.Field) bool { return f.ID == r.ID })
					if i < 0 {
						err = errors.Join(err, fmt.Errorf("%s stage %d: field %d does not exist", typ.TypeName, s.ID, r.ID))
						continue
					}
					f := typ.Fields[i]
					if r.Name != f.Name || r.Type != f.Type || !reflect.DeepEqual(r.Options, f.Options) ||
						r.Rank != f.Rank || r.MaxUnicode != f.MaxUnicode || r.Scale != f.Scale || !r.Required {
						err = errors.Join(err, fmt.Errorf("%s stage %d: required field %+v differs from field %+v", typ.TypeName, s.ID, r, f))
					}
				}
			})
			return err
		}},
		{"customerFields are consistent across stages", func() error {
			byID := map[int]wire.CustomerField{}
			n := 0
			var err error
			allStages(types, func(_ wire.Type, s wire.Stage, _ int) {
				for _, c := range s.CustomerFields {
					n++
					if prev, ok := byID[c.FieldID]; ok && prev != c {
						err = errors.Join(err, fmt.Errorf("customer field %d is %+v and %+v", c.FieldID, prev, c))
					}
					byID[c.FieldID] = c
				}
			})
			if n == 0 {
				err = errors.Join(err, errors.New("no stage has customerFields"))
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestRespell: each answer's bytes differ from the one before; its data do not.
func TestRespell(t *testing.T) {
	opts := defaultOptions()
	sim, url := start(t, opts)
	h := signed(testkit.Creds(), opts.Recipe, testNow())
	plain := mustDo(t, http.MethodPost, url+simulator.Path, h).body
	sim.SetRespell(true)
	prev := plain
	for i := range 3 {
		resp := mustDo(t, http.MethodPost, url+simulator.Path, h)
		env := resp.envelope(t)
		if bytes.Equal(resp.body, prev) {
			t.Errorf("answer %d: the same bytes as the one before", i)
		}
		if *env.Code != 0 || !bytes.Equal(compact(t, env.Data), compact(t, simulator.DemoDataset())) {
			t.Errorf("answer %d: code %d, data changed: %.80s", i, *env.Code, env.Data)
		}
		prev = resp.body
	}
	sim.SetRespell(false)
	if got := mustDo(t, http.MethodPost, url+simulator.Path, h).body; !bytes.Equal(got, plain) {
		t.Errorf("respelling off: %.80s, want the plain answer", got)
	}
}
