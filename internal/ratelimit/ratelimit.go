// Package ratelimit limits each client's request rate with httprate: by the
// client a trusted federation gateway names (SUBGRAPH_CLIENT_HEADER), else by
// the authenticated client id when there is one, otherwise by the client's
// IP, read from X-Forwarded-For only when the peer is a trusted proxy.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/httprate"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/subgraph"
)

// Options configures a Limiter.
type Options struct {
	// Limit is how many requests one client may make per Window; 0 disables
	// limiting.
	Limit int
	// Window is the length of the sliding window, required when Limit > 0.
	// There is no default here: the service's is RATE_LIMIT_WINDOW in
	// config.Variables, and a second one here could silently disagree.
	Window time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed; see
	// ParsePrefixes. Empty means the peer address is always the client.
	TrustedProxies []netip.Prefix
	// Exempt, when set, tells requests the limit does not count: the
	// service's streams (live.IsStream), one request open for hours whose
	// bound is MAX_STREAMS_PER_CLIENT.
	Exempt func(*http.Request) bool
	// Counter, when set, keeps the counts instead of httprate's own
	// in-memory counter: internal/redis's, so that a client's budget is one
	// budget on every replica.
	Counter httprate.LimitCounter
	// ClientHeader, when set, is the header in which a federation gateway
	// names the client it forwards for (SUBGRAPH_CLIENT_HEADER): believed,
	// and then the client counted, only on a request carrying the valid
	// subgraph secret (subgraph.FromGateway) or from a TrustedProxies peer.
	ClientHeader string
}

// Limiter counts requests per client: in memory, so that each replica
// enforces its own limit, or in Options.Counter, shared by all of them.
type Limiter struct {
	rl           *httprate.RateLimiter // nil when limiting is disabled
	trusted      []netip.Prefix
	exempt       func(*http.Request) bool
	clientHeader string // "" believes no forwarded client name
}

// New validates opts and returns a Limiter. With Limit > 0, Window must be
// positive; a zero one is an error rather than a guess.
func New(opts Options) (*Limiter, error) {
	var problems []error
	if opts.Limit < 0 {
		problems = append(problems, fmt.Errorf("rate limit %d must not be negative", opts.Limit))
	}
	switch {
	case opts.Window < 0:
		problems = append(problems, fmt.Errorf("rate limit window %s must not be negative", opts.Window))
	case opts.Window == 0 && opts.Limit > 0:
		problems = append(problems, fmt.Errorf("rate limit window must be positive with a limit of %d", opts.Limit))
	}
	for i, p := range opts.TrustedProxies {
		if !p.IsValid() {
			problems = append(problems, fmt.Errorf("trusted proxy %d is not a valid prefix", i+1))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("rate limit options: %w", errors.Join(problems...))
	}

	l := &Limiter{trusted: opts.TrustedProxies, exempt: opts.Exempt, clientHeader: opts.ClientHeader}
	if opts.Limit == 0 {
		return l, nil
	}
	// httprate writes Retry-After as whole seconds rounded down, which is 0 for
	// a sub-second window; RFC 9110 wants a non-negative integer and 0 would
	// invite an immediate retry, so round up to at least 1.
	retryAfter := strconv.Itoa(max(1, int(math.Ceil(opts.Window.Seconds()))))
	counter := httprate.WithNoop()
	if opts.Counter != nil {
		counter = httprate.WithLimitCounter(opts.Counter)
	}
	l.rl = httprate.NewRateLimiter(opts.Limit, opts.Window, counter,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", retryAfter)
			apierror.Write(w, "", apierror.RateLimited, "rate limit exceeded; retry later")
		}),
		// The in-memory counter never fails, and the shared one falls back
		// to one in memory; should either fail, the client is told nothing
		// of it.
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			apierror.Write(w, "", apierror.Internal, "internal server error")
		}),
	)
	return l, nil
}

// Middleware answers 429 with Retry-After, httprate's X-RateLimit-* headers
// and a GraphQL-shaped body to a client over its limit, before next runs. Mount
// it after auth's middleware so authenticated clients are counted by id. With
// limiting disabled it returns next itself.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	if l.rl == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.exempt != nil && l.exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		key, _ := l.key(r) // never fails
		if l.rl.RespondOnLimit(w, r, key) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// NameClient returns ctx naming r's client, as the request limit counts it,
// for Executions. The endpoint calls it for the requests it executes only:
// stored answers never pay for it.
func (l *Limiter) NameClient(ctx context.Context, r *http.Request) context.Context {
	key, _ := l.key(r)
	return WithClient(ctx, key)
}

// WithClient returns ctx naming client as NameClient names a request's
// (Executions counts by it); for callers that know the client's key.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// ClientKey names r's client as the request limit counts it: its API key or
// JWT subject, else its address (by TRUSTED_PROXIES). Streams are counted per
// client by it.
func (l *Limiter) ClientKey(r *http.Request) string {
	key, _ := l.key(r)
	return key
}

// maxForwardedClient bounds a forwarded client name: it becomes a key the
// limits hold, and a gateway's client ids are short.
const maxForwardedClient = 128

// forwardedClient returns the client a trusted gateway names in
// ClientHeader, or "" when there is none to believe: the header unset, the
// request neither the gateway's (its secret) nor from a trusted proxy, or
// the name longer than maxForwardedClient. The gateway's own credential then
// names the bucket, or its address.
func (l *Limiter) forwardedClient(r *http.Request) string {
	if l.clientHeader == "" {
		return ""
	}
	name := r.Header.Get(l.clientHeader)
	if name == "" || len(name) > maxForwardedClient {
		return ""
	}
	if subgraph.FromGateway(r.Context()) {
		return name
	}
	if peer, ok := parseAddr(r.RemoteAddr); ok && isTrusted(peer, l.trusted) {
		return name
	}
	return ""
}

// key names the request's bucket. The prefixes keep a client id from ever
// colliding with an address.
func (l *Limiter) key(r *http.Request) (string, error) {
	if name := l.forwardedClient(r); name != "" {
		return "forwarded:" + name, nil
	}
	if id := auth.ClientID(r.Context()); id != "" {
		return "client:" + id, nil
	}
	// An IPv6 client usually holds a whole /64; CanonicalizeIP buckets by it so
	// rotating addresses within it gains nothing.
	client, ok := clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), l.trusted)
	switch {
	case !ok:
		return "ip:" + httprate.CanonicalizeIP(r.RemoteAddr), nil
	case client.Is4():
		// CanonicalizeIP returns an IPv4 address as it is: the key is
		// written in one allocation instead of two (the address's string,
		// then the key), on every request the limits count.
		var b [len("ip:255.255.255.255")]byte
		return string(client.AppendTo(append(b[:0], "ip:"...))), nil
	default:
		return "ip:" + httprate.CanonicalizeIP(client.String()), nil
	}
}
