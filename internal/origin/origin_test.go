package origin_test

import (
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/origin"
)

func TestAllows(t *testing.T) {
	l, err := origin.Parse("https://app.example.com", "https://*.example.org", "http://*.localhost:3000", "HTTPS://Upper.Example.NET")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give string
		want bool
	}{
		{"https://app.example.com", true},
		{"https://APP.example.com", true},
		{"https://other.example.com", false},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"https://upper.example.net", true},
		{"https://a.example.org", true},
		{"https://a.b.example.org", true},
		{"https://example.org", false},     // the domain itself is not a subdomain
		{"https://.example.org", false},    // empty label
		{"https://a..example.org", false},  // empty label
		{"https://evilexample.org", false}, // not below the dot
		{"https://a.example.org.evil.com", false},
		{"https://a.example.org:443", false}, // another port than the pattern's
		{"http://a.example.org", false},      // another scheme
		{"https://a_b.example.org", false},   // not a DNS label
		{"https://a/b.example.org", false},   // not a host
		{"https://-a.example.org", false},
		{"http://web.localhost:3000", true},
		{"http://web.localhost", false},
		{"http://web.localhost:3001", false},
		{"null", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := l.Allows(tt.give); got != tt.want {
				t.Errorf("Allows(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []string{
		"*",
		"https://*",
		"https://*.",
		"https://*.com",           // every site under a public suffix
		"https://a.*.example.com", // * only as the whole first label
		"https://*a.example.com",
		"https://a*.example.com",
		"https://*.*.example.com",
		"ftp://app.example.com",
		"app.example.com",
		"https://app.example.com/",
		"https://app.example.com/x",
		"https://app.example.com?x",
		"https://app.example.com#x",
		"https://user@app.example.com",
		"https://app.example.com:http",
		"https://",
	}
	for _, give := range tests {
		t.Run(give, func(t *testing.T) {
			l, err := origin.Parse("https://good.example.com", give)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", give, l)
			}
			if !strings.Contains(err.Error(), give) || strings.Contains(err.Error(), "good.example.com") {
				t.Errorf("error %q should name %q and only it", err, give)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	l, err := origin.Parse()
	if err != nil || !l.Empty() || l.Allows("https://a.example.com") {
		t.Errorf("Parse() = %+v, %v; want an empty list that allows nothing", l, err)
	}
	var nilList *origin.List
	if !nilList.Empty() || nilList.Allows("https://a.example.com") {
		t.Error("a nil list must allow nothing")
	}
}
