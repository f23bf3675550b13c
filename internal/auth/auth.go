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
		id, err := a.authenticate(r)
		if err != nil {
			presented := !errors.Is(err, errNoCredentials)
			// A bad credential is logged at Info so that a misconfigured issuer
			// or audience shows; a missing one is routine. The reason names
			// claims and kids, never the credential.
			level := slog.LevelDebug
			if presented {
				level = slog.LevelInfo
			}
			// No request_id here: the logger adds the request's own from
			// the context (chi's, which this used to log, is never set).
			a.logger.Log(r.Context(), level, "authentication failed",
				"mode", string(a.mode), "reason", err.Error())
			unauthorized(w, challenge(presented), presented)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIDKey{}, id)))
	})
}

// authenticate returns the client id, or why the request is refused.
func (a *Authenticator) authenticate(r *http.Request) (string, error) {
	switch a.mode {
	case ModeAPIKey:
		// X-API-Key first: a gateway in front may use Authorization for itself.
		cred := strings.TrimSpace(r.Header.Get("X-API-Key"))
		if cred == "" {
			var err error
			if cred, err = authorization(r); err != nil {
				return "", err
			}
		}
		if cred == "" {
			return "", errNoCredentials
		}
		if len(cred) > maxCredentialBytes {
			return "", errors.New("API key too long")
		}
		name, ok := a.keys.match(cred)
		if !ok {
			return "", errors.New("unknown API key")
		}
		return "apikey:" + name, nil
	case ModeJWT:
		token, err := authorization(r)
		if err != nil {
			return "", err
		}
		if token == "" {
			return "", errNoCredentials
		}
		if len(token) > maxCredentialBytes {
			return "", errors.New("token too long")
		}
		return a.jwt.verify(r.Context(), token)
	}
	return "", fmt.Errorf("mode %q cannot authenticate", a.mode)
}

// authorization returns the credential of the Authorization header: the
// token of "Bearer <token>", or the password of "Basic <base64(user:password)>"
// (the user name is not read: a browser's prompt asks for one, and any will
// do). It returns "" without an error when the header is absent or has
// another scheme, and an error when a Basic header cannot be decoded or has
// no password. Schemes are case-insensitive (RFC 7235 §2.1).
func authorization(r *http.Request) (string, error) {
	scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case !ok:
		return "", nil
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest), nil
	case strings.EqualFold(scheme, "Basic"):
		if len(rest) > maxCredentialBytes*4/3+4 {
			return "", errors.New("Basic credentials too long")
		}
		_, password, ok := r.BasicAuth()
		if !ok {
			// The header is not echoed: it is the credential.
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
