// Package auth authenticates API clients, by static API key or by JWT bearer
// token, in a chi-compatible middleware that refuses a request before any
// downstream handler runs and otherwise puts the client's identity in the
// request context, for the rate limiter and logs.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// Mode selects how clients authenticate.
type Mode string

// The modes, as written in AUTH_MODE.
const (
	ModeNone   Mode = "none"   // every request passes; ClientID is ""
	ModeAPIKey Mode = "apikey" // a configured key in X-API-Key or Authorization: Bearer
	ModeJWT    Mode = "jwt"    // a signed JWT in Authorization: Bearer
)

// Defaults for Options left zero. They have no setting of their own, so
// they are not configuration's to override (AUTH_JWT_LEEWAY is, and has no
// default here).
const (
	DefaultJWKSRefreshInterval = time.Hour
	// DefaultJWKSUnknownKIDInterval is the least time between two JWKS fetches
	// triggered by a token whose kid is not in the cached set: often enough to
	// pick up a rotated key at once, rarely enough that tokens with made-up kids
	// cannot turn the service into a load generator against the issuer.
	DefaultJWKSUnknownKIDInterval = 5 * time.Minute
	DefaultJWKSTimeout            = 10 * time.Second
)

// minHMACSecretBytes is the RFC 7518 §3.2 floor for HS256: a key at least as
// long as the hash output.
const minHMACSecretBytes = 32

// maxCredentialBytes bounds what is parsed or hashed: real keys and tokens
// are far shorter, and a larger one is refused without work.
const maxCredentialBytes = 8 << 10

// Options configures an Authenticator. Only the fields of the chosen Mode are
// read.
type Options struct {
	Mode Mode // "" means ModeNone

	// APIKeys are the accepted keys in ModeAPIKey; see ParseAPIKeys.
	APIKeys []APIKey

	// In ModeJWT exactly one of HMACSecret and JWKSURL is set.
	HMACSecret signature.Secret // at least 32 bytes; accepts HS256, HS384, HS512
	JWKSURL    string           // http(s) URL of the issuer's JWK Set; accepts RS*, PS*, ES*, EdDSA
	// Algorithms narrows the accepted "alg" values further, e.g. []string{"RS256"}.
	// Each must belong to the key source's family, so an HMAC algorithm can never
	// be paired with a JWKS public key (algorithm confusion), nor "none" with
	// anything.
	Algorithms []string
	Issuer     string        // when set, "iss" must equal it
	Audience   string        // when set, "aud" must contain it
	Leeway     time.Duration // clock skew allowed on exp, nbf, iat (AUTH_JWT_LEEWAY); 0 allows none

	JWKSRefreshInterval    time.Duration // background refetch; 0 means DefaultJWKSRefreshInterval
	JWKSUnknownKIDInterval time.Duration // 0 means DefaultJWKSUnknownKIDInterval
	JWKSTimeout            time.Duration // bound on one JWKS fetch; 0 means DefaultJWKSTimeout
	HTTPClient             *http.Client  // for JWKS fetches; nil means http.DefaultClient

	Logger *slog.Logger     // why a request was refused; nil discards
	Now    func() time.Time // clock for exp/nbf; nil means time.Now
}

// Authenticator checks each request's credentials; build it with New.
type Authenticator struct {
	mode   Mode
	keys   keyring
	jwt    *jwtVerifier
	logger *slog.Logger
}

// New validates opts and returns an Authenticator. The error names every
// problem at once and never includes a key or secret.
//
// In ModeJWT with a JWKSURL, New fetches the JWK Set once and starts a
// goroutine that refetches it until ctx is done; cancel ctx at shutdown (in
// tests, pass t.Context()). A failed first fetch is logged, not returned, so
// an issuer that is briefly down does not stop the service from starting: its
// tokens are refused until a later fetch succeeds.
func New(ctx context.Context, opts Options) (*Authenticator, error) {
	if opts.Mode == "" {
		opts.Mode = ModeNone
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{mode: opts.Mode, logger: logger}
	switch opts.Mode {
	case ModeNone:
		return a, nil
	case ModeAPIKey:
		if len(opts.APIKeys) == 0 {
			return nil, errors.New("auth options: mode apikey needs at least one API key")
		}
		if err := validateAPIKeys(opts.APIKeys); err != nil {
			return nil, fmt.Errorf("auth options: %w", err)
		}
		a.keys = newKeyring(opts.APIKeys)
		return a, nil
	case ModeJWT:
		v, err := newJWTVerifier(ctx, opts, logger)
		if err != nil {
			return nil, err
		}
		a.jwt = v
		return a, nil
	default:
		return nil, fmt.Errorf("auth options: mode %q is not one of none, apikey, jwt", opts.Mode)
	}
}

// ParseMode reads an AUTH_MODE value; "" means ModeNone.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeNone, nil
	case ModeNone, ModeAPIKey, ModeJWT:
		return m, nil
	default:
		return "", fmt.Errorf("auth mode %q is not one of none, apikey, jwt", s)
	}
}

// errNoCredentials marks a request that presented nothing, which RFC 6750
// §3.1 answers without an error code.
var errNoCredentials = errors.New("no credentials")

// Realm is the protection space of HTTP Basic authentication (RFC 7617):
// the credential a browser was given for one page of the service is resent
// by it with every same-origin request in this realm.
const Realm = "oppconfig-graphql"

// Middleware refuses a request without valid credentials with 401 and a
// GraphQL-shaped body, before next runs; otherwise it calls next with the
// client's identity in the context (see ClientID). In ModeNone it returns next
// itself. Its challenge is Bearer (RFC 6750), for API clients; see Pages for
// what browsers open.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.require(next, bearerChallenge)
}

// Pages is Middleware for what a browser navigates to (the playground, the
// explorer, their assets): a browser cannot add a header to a navigation, so
// the 401 challenges Basic in Realm and the browser asks its user for the
// credential, then resends it with the page's own requests to /query (every
// path of the service is in the protection space of /, and of /explorer). The
// credential is the same one /query takes, as the Basic password.
func (a *Authenticator) Pages(next http.Handler) http.Handler {
	return a.require(next, basicChallenge)
}

// require is Middleware with the given 401 challenge.
func (a *Authenticator) require(next http.Handler, challenge func(presented bool) string) http.Handler {
	if a.mode == ModeNone {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, err := a.credential(r)
		if errors.Is(err, errNoCredentials) && isWebSocketUpgrade(r) {
			// A browser cannot add a header to a WebSocket handshake: the
			// client authenticates in its connection_init payload instead
			// (InitPayload), before any operation runs.
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), deferredKey{}, true)))
			return
		}
		var id identity
		if err == nil {
			id, err = a.check(r.Context(), cred)
		}
		if err != nil {
			presented := !errors.Is(err, errNoCredentials)
			a.logRefusal(r.Context(), presented, err)
			unauthorized(w, challenge(presented), presented)
			return
		}
		next.ServeHTTP(w, r.WithContext(id.into(r.Context())))
	})
}

// logRefusal logs why a credential was refused: a bad one at Info so that a
// misconfigured issuer or audience shows, a missing one (routine) at Debug.
// The reason names claims and kids, never the credential. No request_id
// here: the logger adds the request's own from the context.
func (a *Authenticator) logRefusal(ctx context.Context, presented bool, err error) {
	level := slog.LevelDebug
	if presented {
		level = slog.LevelInfo
	}
	a.logger.Log(ctx, level, "authentication failed", "mode", string(a.mode), "reason", err.Error())
}

// identity is an authenticated client: its id and, for a JWT with exp, when
// its credential expires.
type identity struct {
	id      string
	expires time.Time
}

func (id identity) into(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, clientIDKey{}, id.id)
	if !id.expires.IsZero() {
		ctx = context.WithValue(ctx, expiresKey{}, id.expires)
	}
	return ctx
}

// credential returns the request's credential for the mode, or
// errNoCredentials.
func (a *Authenticator) credential(r *http.Request) (string, error) {
	cred := ""
	if a.mode == ModeAPIKey {
		// X-API-Key first: a gateway in front may use Authorization for itself.
		cred = strings.TrimSpace(r.Header.Get("X-API-Key"))
	}
	if cred == "" {
		var err error
		if cred, err = authorization(r.Header.Get("Authorization"), r.BasicAuth); err != nil {
			return "", err
		}
	}
	if cred == "" {
		return "", errNoCredentials
	}
	return cred, nil
}

// check verifies a credential for the mode.
func (a *Authenticator) check(ctx context.Context, cred string) (identity, error) {
	switch a.mode {
	case ModeAPIKey:
		if len(cred) > maxCredentialBytes {
			return identity{}, errors.New("API key too long")
		}
		name, ok := a.keys.match(cred)
		if !ok {
			return identity{}, errors.New("unknown API key")
		}
		return identity{id: "apikey:" + name}, nil
	case ModeJWT:
		if len(cred) > maxCredentialBytes {
			return identity{}, errors.New("token too long")
		}
		id, exp, err := a.jwt.verify(ctx, cred)
		return identity{id: id, expires: exp}, err
	}
	return identity{}, fmt.Errorf("mode %q cannot authenticate", a.mode)
}

// InitPayload authenticates a WebSocket connection whose handshake carried
// no credential (see Middleware) by its connection_init payload, as
// graphql-ws clients send connectionParams: "Authorization" ("Bearer <token>"
// or "Basic …") or, with apikey, "X-API-Key", at the top level or under
// "headers", names in any case. It returns ctx with the client's identity, as
// Middleware would; a connection whose handshake was authenticated, or any
// connection in ModeNone, passes as it is. The error says nothing of what
// was presented.
func (a *Authenticator) InitPayload(ctx context.Context, payload map[string]any) (context.Context, error) {
	if a.mode == ModeNone || ctx.Value(deferredKey{}) == nil {
		return ctx, nil
	}
	get := func(name string) string {
		for _, m := range []any{payload, payload["headers"]} {
			mm, _ := m.(map[string]any)
			for k, v := range mm {
				if s, ok := v.(string); ok && strings.EqualFold(k, name) {
					return strings.TrimSpace(s)
				}
			}
		}
		return ""
	}
	cred := ""
	if a.mode == ModeAPIKey {
		cred = get("X-API-Key")
	}
	var err error
	if cred == "" {
		if cred, err = authorization(get("Authorization"), basicFrom(get("Authorization"))); err != nil {
			a.logRefusal(ctx, true, err)
			return ctx, errRefused
		}
	}
	if cred == "" {
		a.logRefusal(ctx, false, errNoCredentials)
		return ctx, errors.New("authentication required: send the credential in connection_init's payload, e.g. {\"Authorization\": \"Bearer <token>\"}")
	}
	id, err := a.check(ctx, cred)
	if err != nil {
		a.logRefusal(ctx, true, err)
		return ctx, errRefused
	}
	return id.into(ctx), nil
}

// errRefused is what a refused connection_init is told.
var errRefused = errors.New("invalid or expired credentials")

// basicFrom reads a Basic Authorization value as http.Request.BasicAuth
// reads the header.
func basicFrom(value string) func() (string, string, bool) {
	return func() (string, string, bool) {
		r := http.Request{Header: http.Header{"Authorization": {value}}}
		return r.BasicAuth()
	}
}

// isWebSocketUpgrade tells a WebSocket handshake (RFC 6455 §4.1).
func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

type deferredKey struct{}

type expiresKey struct{}

// Expires returns when the credential of the request context expires (a
// JWT's exp), and false when it does not (an API key, a JWT without exp,
// ModeNone). A stream is closed then.
func Expires(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(expiresKey{}).(time.Time)
	return t, ok
}

// authorization returns the credential of an Authorization value: the token
// of "Bearer <token>", or the password of "Basic <base64(user:password)>" as
// basic decodes it (the user name is not read: a browser's prompt asks for
// one, and any will do). It returns "" without an error when the value is
// absent or has another scheme, and an error when a Basic value cannot be
// decoded or has no password. Schemes are case-insensitive (RFC 7235 §2.1).
func authorization(value string, basic func() (string, string, bool)) (string, error) {
	scheme, rest, ok := strings.Cut(value, " ")
	switch {
	case !ok:
		return "", nil
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest), nil
	case strings.EqualFold(scheme, "Basic"):
		if len(rest) > maxCredentialBytes*4/3+4 {
			return "", errors.New("Basic credentials too long")
		}
		_, password, ok := basic()
		if !ok {
			// The value is not echoed: it is the credential.
			return "", errors.New("malformed Basic credentials")
		}
		if password == "" {
			return "", errors.New("Basic credentials without a password")
		}
		return password, nil
	}
	return "", nil
}

// bearerChallenge is the WWW-Authenticate value of a 401 for API clients
// (RFC 6750 §3).
func bearerChallenge(presented bool) string {
	if presented {
		return `Bearer error="invalid_token"`
	}
	return "Bearer"
}

// basicChallenge is the WWW-Authenticate value of a 401 for browsers: the
// same challenge whether or not something was presented, so that a browser
// asks again after a wrong credential.
func basicChallenge(bool) string { return `Basic realm="` + Realm + `"` }

// unauthorized answers 401 with challenge. The message is the same for every
// failure so it tells a prober nothing, and it never echoes what was presented.
func unauthorized(w http.ResponseWriter, challenge string, presented bool) {
	w.Header().Set("WWW-Authenticate", challenge)
	if presented {
		apierror.Write(w, "", apierror.Unauthenticated, "invalid or expired credentials")
		return
	}
	apierror.Write(w, "", apierror.Unauthenticated, "authentication required")
}

type clientIDKey struct{}

// ClientID returns the authenticated client of the request context:
// "apikey:<name>" or "jwt:<sub>", or "" when no client was authenticated
// (ModeNone, or a context that did not pass through Middleware).
func ClientID(ctx context.Context) string {
	id, _ := ctx.Value(clientIDKey{}).(string)
	return id
}
