package ratelimit

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/go-chi/httprate"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("::1/128"),
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer, no header", "198.51.100.1:4711", nil, "198.51.100.1"},
		{"untrusted peer ignores the header", "198.51.100.1:4711", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer, no header", "10.0.0.1:4711", nil, "10.0.0.1"},
		{"trusted peer, empty header", "10.0.0.1:4711", []string{""}, "10.0.0.1"},
		{"trusted peer, one client", "10.0.0.1:4711", []string{"203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.1:4711", []string{"203.0.113.9, 192.168.1.1, 10.2.3.4"}, "203.0.113.9"},
		{"spoofed entries left of the client", "10.0.0.1:4711", []string{"1.1.1.1, 2.2.2.2, 203.0.113.9, 10.2.3.4"}, "203.0.113.9"},
		{"spoofed trusted-looking entry left of the client", "10.0.0.1:4711", []string{"10.9.9.9, 203.0.113.9"}, "203.0.113.9"},
		{"several header lines", "10.0.0.1:4711", []string{"1.1.1.1, 203.0.113.9", "10.2.3.4"}, "203.0.113.9"},
		{"every hop trusted", "10.0.0.1:4711", []string{"192.168.1.1, 10.2.3.4"}, "192.168.1.1"},
		{"garbage stops at the last trusted hop", "10.0.0.1:4711", []string{"203.0.113.9, unknown, 10.2.3.4"}, "10.2.3.4"},
		{"garbage right away", "10.0.0.1:4711", []string{"not-an-ip"}, "10.0.0.1"},
		{"entry with a port", "10.0.0.1:4711", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"bracketed IPv6 entry", "10.0.0.1:4711", []string{"[2001:db8::9]"}, "2001:db8::9"},
		{"IPv6 loopback proxy", "[::1]:4711", []string{"2001:db8::9"}, "2001:db8::9"},
		{"IPv4-mapped peer matches an IPv4 prefix", "[::ffff:10.0.0.1]:4711", []string{"203.0.113.9"}, "203.0.113.9"},
		{"zoned peer", "[fe80::1%eth0]:4711", []string{"203.0.113.9"}, "fe80::1"},
		{"no port", "198.51.100.1", nil, "198.51.100.1"},
		{"not an address", "@", []string{"203.0.113.9"}, "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientIP(tt.remote, tt.xff, trusted); got != tt.want {
				t.Errorf("clientIP(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

// TestKeyIsTheCanonicalClientIP: a request's bucket is named "ip:" and
// httprate.CanonicalizeIP of its client's address, whatever the address's
// family or spelling.
func TestKeyIsTheCanonicalClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	l, err := New(Options{TrustedProxies: trusted})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote string
		xff    string
	}{
		{"198.51.100.1:4711", ""},
		{"255.255.255.255:1", ""},
		{"0.0.0.0:1", ""},
		{"[::ffff:198.51.100.1]:4711", ""},
		{"[2001:db8:1:2:3:4:5:6]:4711", ""},
		{"[2001:db8::1]:4711", ""},
		{"[fe80::1%eth0]:4711", ""},
		{"[::1]:4711", "2001:db8::9, 203.0.113.9"},
		{"10.0.0.1:4711", "203.0.113.9"},
		{"10.0.0.1:4711", "2001:db8:aa:bb:cc::1"},
		{"10.0.0.1:4711", "::ffff:203.0.113.9"},
		{"198.51.100.1", ""},
		{"@", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodPost, "/query", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		want := "ip:" + httprate.CanonicalizeIP(clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted))
		if got, _ := l.key(r); got != want {
			t.Errorf("key(%q, %q) = %q, want %q", tt.remote, tt.xff, got, want)
		}
	}
}
