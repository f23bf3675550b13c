// Package origin matches a browser's Origin header against the allow-list
// of CORS_ALLOWED_ORIGINS: the one matcher that CORS and the cross-origin
// request protection share, so that an origin one of them lets through is
// never refused by the other.
package origin

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// List is a parsed allow-list: exact origins, and wildcard patterns of the
// form scheme://*.domain[:port] that match any subdomain of domain, at any
// depth, with that scheme and port. Build it with Parse; it is read-only.
type List struct {
	exact     map[string]bool
	wildcards []wildcard
}

// wildcard is scheme://*.<suffix without its leading dot>:port.
type wildcard struct {
	scheme string
	suffix string // ".example.com"
	port   string // "" for the scheme's default
}

// Parse reads patterns, each an origin such as https://app.example.com or
// http://localhost:3000, or a wildcard such as https://*.example.com. Case is
// ignored (browsers send origins in lower case). The error names every bad
// pattern.
func Parse(patterns ...string) (*List, error) {
	l := &List{exact: map[string]bool{}}
	var problems []error
	for _, p := range patterns {
		if err := l.add(strings.ToLower(strings.TrimSpace(p))); err != nil {
			problems = append(problems, fmt.Errorf("%q is not %w", p, err))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return l, nil
}

// errWant is what every refused pattern is told it should have been.
var errWant = errors.New("an origin such as https://app.example.com, or a wildcard such as https://*.example.com")

func (l *List) add(p string) error {
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(p, "?") || strings.HasSuffix(p, "#") {
		return errWant
	}
	host, port := splitHostPort(u.Host)
	if port != "" && !digits(port) {
		return errWant
	}
	domain, isWildcard := strings.CutPrefix(host, "*.")
	if !isWildcard {
		if strings.Contains(host, "*") {
			return errWant // a * anywhere but as the whole first label
		}
		l.exact[p] = true
		return nil
	}
	// A wildcard over one label would trust every site under a public
	// suffix (https://*.com); localhost is the one single-label domain
	// front-ends are developed on.
	if !dnsName(domain) || (!strings.Contains(domain, ".") && domain != "localhost") {
		return errWant
	}
	l.wildcards = append(l.wildcards, wildcard{scheme: u.Scheme, suffix: "." + domain, port: port})
	return nil
}

// Allows reports whether origin, the value of a request's Origin header, is
// in the list. A wildcard matches a host that ends with its domain after at
// least one more DNS label, with the same scheme and port.
func (l *List) Allows(origin string) bool {
	if l == nil || origin == "" {
		return false
	}
	origin = strings.ToLower(origin)
	if l.exact[origin] {
		return true
	}
	if len(l.wildcards) == 0 {
		return false
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host, port := splitHostPort(hostport)
	for _, w := range l.wildcards {
		if w.scheme != scheme || w.port != port {
			continue
		}
		if sub, ok := strings.CutSuffix(host, w.suffix); ok && dnsName(sub) {
			return true
		}
	}
	return false
}

// Empty reports whether the list allows no origin at all.
func (l *List) Empty() bool { return l == nil || (len(l.exact) == 0 && len(l.wildcards) == 0) }

// splitHostPort splits host[:port] (an IPv6 host in brackets); port is ""
// when there is none.
func splitHostPort(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return hostport, ""
}

// dnsName reports whether s is one or more dot-separated labels of lower-case
// letters, digits and hyphens: what a subdomain in an origin can be. Anything
// else (empty labels, a slash, a space, another *) is not a host a browser
// would send, and is not matched.
func dnsName(s string) bool {
	if s == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
