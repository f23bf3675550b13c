package ratelimit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ParsePrefixes reads a comma-separated list of CIDR prefixes or bare IP
// addresses (each a single-address prefix), e.g. "10.0.0.0/8, 192.0.2.7, ::1".
// Blank entries are skipped; an empty string gives none.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, fmt.Errorf("parse trusted proxy %d: %w", i+1, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return nil, fmt.Errorf("parse trusted proxy %d: %w", i+1, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientIP returns the address to rate-limit by. The peer's own address is
// the client unless the peer is a trusted proxy; then X-Forwarded-For (all its
// lines, in order) is walked from the right, past the trusted proxies, to the
// first address that is not one. Entries further left were written by the
// client and prove nothing, which is why the walk never goes past it. An entry
// that is not an address ends the walk at the last hop vouched for.
func clientIP(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	client, ok := clientAddr(remoteAddr, forwardedFor, trusted)
	if !ok {
		// Not an IP address (a Unix socket, say): the peer string is all there is.
		return remoteAddr
	}
	return client.String()
}

// clientAddr is clientIP's address, and false when the peer is not an IP
// address.
func clientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, ok := parseAddr(remoteAddr)
	if !ok || !isTrusted(peer, trusted) {
		return peer, ok
	}
	client := peer
	hops := strings.Split(strings.Join(forwardedFor, ","), ",")
	for _, h := range slices.Backward(hops) {
		hop, ok := parseAddr(strings.TrimSpace(h))
		if !ok {
			break
		}
		client = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return client, true
}

// parseAddr reads "ip", "ip:port", "[ipv6]" or "[ipv6]:port", as found in
// RemoteAddr and in X-Forwarded-For entries (some proxies add the port). An
// IPv4-mapped IPv6 address is read as IPv4 and a zone is dropped, so that
// prefix matching sees the address itself.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
