package ratelimit_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// request is one step of a scenario: who sends it and what comes back.
type request struct {
	from       string // "a" dials from 127.0.0.1, "b" from 127.0.0.2
	xff        string // X-Forwarded-For, if any
	apiKey     string // X-API-Key, if any
	wantStatus int
}

func TestLimiter(t *testing.T) {
	trustLoopback := prefixes(t, "127.0.0.0/8")
	tests := []struct {
		name     string
		opts     ratelimit.Options
		auth     auth.Options
		requests []request
	}{
		{
			name: "per IP",
			opts: ratelimit.Options{Limit: 2, Window: time.Minute},
			requests: []request{
				{from: "a", wantStatus: 200},
				{from: "a", wantStatus: 200},
				{from: "a", wantStatus: 429},
			},
		},
		{
			name: "two peers do not share a bucket",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute},
			requests: []request{
				{from: "a", wantStatus: 200},
				{from: "b", wantStatus: 200},
				{from: "a", wantStatus: 429},
				{from: "b", wantStatus: 429},
			},
		},
		{
			name: "X-Forwarded-For from an untrusted peer is ignored",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute, TrustedProxies: prefixes(t, "10.0.0.0/8")},
			requests: []request{
				{from: "a", xff: "198.51.100.1", wantStatus: 200},
				{from: "a", xff: "198.51.100.2", wantStatus: 429},
				{from: "a", wantStatus: 429},
			},
		},
		{
			name: "clients behind a trusted proxy do not share a bucket",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute, TrustedProxies: trustLoopback},
			requests: []request{
				{from: "a", xff: "198.51.100.1", wantStatus: 200},
				{from: "a", xff: "198.51.100.2", wantStatus: 200},
				{from: "a", xff: "198.51.100.1", wantStatus: 429},
				{from: "b", xff: "198.51.100.1", wantStatus: 429}, // another proxy, same client
			},
		},
		{
			name: "trusted proxy chain: the right-most untrusted address is the client",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute, TrustedProxies: prefixes(t, "127.0.0.0/8, 10.0.0.0/8")},
			requests: []request{
				{from: "a", xff: "192.0.2.66, 198.51.100.1, 10.0.0.5", wantStatus: 200},
				// The client spoofs a different left part: still the same client.
				{from: "a", xff: "192.0.2.77, 198.51.100.1, 10.1.2.3", wantStatus: 429},
				{from: "a", xff: "198.51.100.1", wantStatus: 429},
				{from: "a", xff: "198.51.100.2, 10.0.0.5", wantStatus: 200},
			},
		},
		{
			name: "IPv6 clients in one /64 share a bucket",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute, TrustedProxies: trustLoopback},
			requests: []request{
				{from: "a", xff: "2001:db8:1:2::1", wantStatus: 200},
				{from: "a", xff: "2001:db8:1:2::ffff", wantStatus: 429},
				{from: "a", xff: "2001:db8:1:3::1", wantStatus: 200},
			},
		},
		{
			name: "authenticated client id beats IP",
			opts: ratelimit.Options{Limit: 1, Window: time.Minute},
			auth: auth.Options{Mode: auth.ModeAPIKey, APIKeys: apiKeys(t, "one:key-one-0123456789,two:key-two-0123456789")},
			requests: []request{
				{from: "a", apiKey: "key-one-0123456789", wantStatus: 200},
				{from: "a", apiKey: "key-two-0123456789", wantStatus: 200},
				{from: "a", apiKey: "key-one-0123456789", wantStatus: 429},
				{from: "b", apiKey: "key-one-0123456789", wantStatus: 429}, // same client, another address
			},
		},
		{
			name: "disabled passes everything",
			opts: ratelimit.Options{Limit: 0},
			requests: []request{
				{from: "a", wantStatus: 200}, {from: "a", wantStatus: 200}, {from: "a", wantStatus: 200},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ratelimit.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := auth.New(t.Context(), tt.auth)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Middleware(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
			}))))
			t.Cleanup(srv.Close)
			client := func(from string) *http.Client {
				if from == "b" {
					return clientFrom(t, "127.0.0.2")
				}
				return srv.Client()
			}

			for i, req := range tt.requests {
				resp, body := send(t, client(req.from), srv.URL, req)
				if resp.StatusCode != req.wantStatus {
					t.Fatalf("request %d (%+v): status %d, want %d; body %s", i+1, req, resp.StatusCode, req.wantStatus, body)
				}
				limited := tt.opts.Limit > 0
				if got := resp.Header.Get("X-RateLimit-Limit"); limited && got == "" || !limited && got != "" {
					t.Errorf("request %d: X-RateLimit-Limit = %q with limiting %t", i+1, got, limited)
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					checkRefusal(t, resp, body, "60")
				}
			}
		})
	}
}

// TestWindow runs in a synctest bubble, whose clock moves only when every
// goroutine waits: the window passes without the test waiting for it. The
// handler is called directly because a bubble's clock does not advance while a
// goroutine blocks on a real network connection.
func TestWindow(t *testing.T) {
	tests := []struct {
		name           string
		window         time.Duration
		wantRetryAfter string
	}{
		{"one minute", time.Minute, "60"},
		{"fractional seconds round up", 1500 * time.Millisecond, "2"},
		{"sub-second window says 1, not 0", 100 * time.Millisecond, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := ratelimit.New(ratelimit.Options{Limit: 1, Window: tt.window})
				if err != nil {
					t.Fatal(err)
				}
				h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
				serve := func() *http.Response {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/query", nil))
					return w.Result()
				}

				if got := serve().StatusCode; got != http.StatusOK {
					t.Fatalf("first request: status %d, want 200", got)
				}
				resp := serve()
				if resp.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("second request: status %d, want 429", resp.StatusCode)
				}
				body, _ := io.ReadAll(resp.Body)
				checkRefusal(t, resp, string(body), tt.wantRetryAfter)

				// The window slides: the previous window's count weighs on the
				// current one until a full window has passed without requests.
				time.Sleep(2 * tt.window)
				if got := serve().StatusCode; got != http.StatusOK {
					t.Errorf("after two windows: status %d, want 200", got)
				}
			})
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		give ratelimit.Options
		want string
	}{
		{"negative limit", ratelimit.Options{Limit: -1}, "must not be negative"},
		{"negative window", ratelimit.Options{Limit: 1, Window: -time.Second}, "window -1s must not be negative"},
		{"zero prefix", ratelimit.Options{Limit: 1, Window: time.Minute, TrustedProxies: []netip.Prefix{{}}}, "trusted proxy 1 is not a valid prefix"},
		// No default window: the service's is RATE_LIMIT_WINDOW in config.
		{"limit without a window", ratelimit.Options{Limit: 1}, "window must be positive with a limit of 1"},
		{"negative window, limiting off", ratelimit.Options{Limit: 0, Window: -time.Second}, "window -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ratelimit.New(tt.give); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		give    string
		want    string // the prefixes, comma-joined
		wantErr string
	}{
		{give: "", want: ""},
		{give: "10.0.0.0/8", want: "10.0.0.0/8"},
		{give: " 10.1.2.3/8 , 192.0.2.7,::1, 2001:db8::/32,", want: "10.0.0.0/8,192.0.2.7/32,::1/128,2001:db8::/32"},
		{give: "::ffff:192.0.2.7", want: "192.0.2.7/32"},
		{give: "10.0.0.0/8,proxy.internal", wantErr: "trusted proxy 2"},
		{give: "10.0.0.0/33", wantErr: "trusted proxy 1"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ratelimit.ParsePrefixes(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, ",") != tt.want {
				t.Errorf("ParsePrefixes(%q) = %v, want %s", tt.give, s, tt.want)
			}
		})
	}
}

// checkRefusal asserts a well-formed 429.
func checkRefusal(t *testing.T, resp *http.Response, body, wantRetryAfter string) {
	t.Helper()
	if got := resp.Header.Get("Retry-After"); got != wantRetryAfter {
		t.Errorf("Retry-After = %q, want %q", got, wantRetryAfter)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("429 without %s", h)
		}
	}
	testkit.AssertRefusal(t, resp, body, string(apierror.RateLimited))
}

// send sends r's GET with c, which dials from r's peer (see clientFrom).
func send(t *testing.T, c *http.Client, url string, r request) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.xff != "" {
		req.Header.Set("X-Forwarded-For", r.xff)
	}
	if r.apiKey != "" {
		req.Header.Set("X-API-Key", r.apiKey)
	}
	return testkit.Send(t, c, req)
}

// clientFrom returns a client whose connections come from ip, a loopback
// address other than 127.0.0.1, so a test sees two real peers. Linux routes
// all of 127.0.0.0/8 to loopback; where that fails the test is skipped.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	conn, err := dialer.DialContext(t.Context(), "tcp", probe.Addr().String())
	if err != nil {
		t.Skipf("cannot dial from %s: %v", ip, err)
	}
	conn.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func prefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ratelimit.ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func apiKeys(t *testing.T, s string) []auth.APIKey {
	t.Helper()
	k, err := auth.ParseAPIKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
