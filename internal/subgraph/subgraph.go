// Package subgraph holds the rules under which the service answers a
// federation gateway (SUBGRAPH_MODE): who may call Apollo Federation's
// _service and _entities, who may run them under trusted documents, and the
// shared secret (SUBGRAPH_SECRET) that authenticates the gateway in place of
// AUTH_MODE's credential.
//
// The rules, with SUBGRAPH_MODE=true:
//
//	SUBGRAPH_SECRET  AUTH_MODE    _service, _entities                  unlisted under PERSISTED_QUERIES_ONLY
//	set              any          only with the valid X-Subgraph-Secret with the valid X-Subgraph-Secret
//	unset            apikey, jwt  any authenticated client             any authenticated client
//	unset            none         anyone, like any query               never, like any query
//
// "Unlisted" is an operation that selects only _service, _entities and
// __typename at its root, so the exemption never lets a gateway (or
// someone holding its secret) run other documents outside the manifest.
// With SUBGRAPH_MODE=false validation refuses both fields
// (graph's FEDERATION_DISABLED), and this package is not consulted.
package subgraph

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// SecretHeader is the header in which the gateway sends SUBGRAPH_SECRET.
// Fixed rather than configurable: one name fewer to keep in step between
// the gateway's configuration and the service's.
const SecretHeader = "X-Subgraph-Secret"

// Options configures a Gate.
type Options struct {
	// Enabled is SUBGRAPH_MODE.
	Enabled bool
	// Secret is SUBGRAPH_SECRET; zero for none.
	Secret signature.Secret
	// Authenticated is whether AUTH_MODE authenticates every request (not
	// none): then a client that passed it may run federation operations
	// unlisted when no secret is set.
	Authenticated bool
}

// Gate applies the rules of the package comment. A nil *Gate is
// SUBGRAPH_MODE=false.
type Gate struct {
	enabled       bool
	secret        [sha256.Size]byte // the secret's digest: compared in constant time whatever the lengths
	hasSecret     bool
	authenticated bool
}

// New returns the gate of opts.
func New(opts Options) *Gate {
	g := &Gate{enabled: opts.Enabled, hasSecret: !opts.Secret.IsZero(), authenticated: opts.Authenticated}
	if g.hasSecret {
		g.secret = sha256.Sum256([]byte(opts.Secret.Reveal()))
	}
	return g
}

type gatewayKey struct{}

// FromGateway reports whether the request of ctx carried the valid
// SUBGRAPH_SECRET (see Authenticate): it came from the federation gateway.
func FromGateway(ctx context.Context) bool {
	ok, _ := ctx.Value(gatewayKey{}).(bool)
	return ok
}

// Authenticate returns the middleware that authenticates a request either
// by the gateway's secret or, without that header, by authenticate
// (AUTH_MODE's middleware). A request with the valid secret is marked as
// the gateway's (FromGateway) and skips authenticate: the gateway has its
// own credential and forwards its clients' queries. A wrong secret is
// refused with 401 UNAUTHENTICATED, never passed on to AUTH_MODE, so that a
// misconfigured gateway shows at once. Without a configured secret (or
// SUBGRAPH_MODE) the header means nothing and authenticate alone decides.
func (g *Gate) Authenticate(authenticate func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	if g == nil || !g.enabled || !g.hasSecret {
		return authenticate
	}
	return func(next http.Handler) http.Handler {
		checked := authenticate(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			presented, ok := r.Header[SecretHeader]
			if !ok {
				checked.ServeHTTP(w, r)
				return
			}
			if len(presented) != 1 || !g.valid(presented[0]) {
				// The same words as a bad AUTH_MODE credential: nothing
				// about what was presented.
				apierror.Write(w, "", apierror.Unauthenticated, "invalid or expired credentials")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), gatewayKey{}, true)))
		})
	}
}

// valid compares a presented secret with the configured one in constant
// time (their digests, so that not even the length leaks).
func (g *Gate) valid(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], g.secret[:]) == 1
}

// MayFederate reports whether the request of ctx may select _service and
// _entities: with a secret configured only the gateway's, otherwise every
// request that passed authentication.
func (g *Gate) MayFederate(ctx context.Context) bool {
	switch {
	case g == nil || !g.enabled:
		return false
	case g.hasSecret:
		return FromGateway(ctx)
	}
	return true
}

// MayRunUnlisted reports whether the request of ctx may run a federation
// operation (only _service, _entities and __typename at its root) that the
// trusted documents do not list: the gateway plans those per query, so they
// cannot be listed, and only an authenticated gateway is trusted with them.
func (g *Gate) MayRunUnlisted(ctx context.Context) bool {
	switch {
	case g == nil || !g.enabled:
		return false
	case g.hasSecret:
		return FromGateway(ctx)
	}
	return g.authenticated && auth.ClientID(ctx) != ""
}
