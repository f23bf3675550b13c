package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/subgraph"
)

// TestForwardedClient: the client a gateway names in the client header is
// the one counted, but only on a request with the gateway's secret or from
// a trusted proxy; anyone else naming a client is counted as themselves.
func TestForwardedClient(t *testing.T) {
	const secret = "gateway-secret-0123456789"
	gate := subgraph.New(subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret)})
	tests := []struct {
		name    string
		header  string // ClientHeader
		trusted string // TrustedProxies
		peer    string
		secret  string // X-Subgraph-Secret sent; "" for none
		client  string // X-Client-Id sent
		want    string
	}{
		{"the gateway names its client", "X-Client-Id", "", "10.0.0.9:4000", secret, "web-42", "forwarded:web-42"},
		{"the gateway without a client", "X-Client-Id", "", "10.0.0.9:4000", secret, "", "ip:10.0.0.9"},
		{"no secret: the name is not believed", "X-Client-Id", "", "203.0.113.7:5000", "", "web-42", "ip:203.0.113.7"},
		{"a trusted proxy names its client", "X-Client-Id", "10.0.0.0/8", "10.0.0.9:4000", "", "web-42", "forwarded:web-42"},
		{"an untrusted peer beside a trusted range", "X-Client-Id", "10.0.0.0/8", "203.0.113.7:5000", "", "web-42", "ip:203.0.113.7"},
		{"no client header configured", "", "10.0.0.0/8", "10.0.0.9:4000", secret, "web-42", "ip:10.0.0.9"},
		{"a name too long to keep", "X-Client-Id", "", "10.0.0.9:4000", secret, strings.Repeat("x", 129), "ip:10.0.0.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ratelimit.Options{ClientHeader: tt.header}
			if tt.trusted != "" {
				opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tt.trusted)}
			}
			l, err := ratelimit.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			// The gate's middleware marks the gateway's requests; no
			// AUTH_MODE behind it.
			h := gate.Authenticate(func(next http.Handler) http.Handler { return next })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = l.ClientKey(r)
			}))
			r := httptest.NewRequest(http.MethodPost, "/query", nil)
			r.RemoteAddr = tt.peer
			if tt.secret != "" {
				r.Header.Set(subgraph.SecretHeader, tt.secret)
			}
			if tt.client != "" {
				r.Header.Set("X-Client-Id", tt.client)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("ClientKey = %q, want %q", got, tt.want)
			}
		})
	}
}
