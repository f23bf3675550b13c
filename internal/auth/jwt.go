package auth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// The algorithm families. A key source accepts only its own family, which is
// what makes "none" and HMAC-with-a-public-key (algorithm confusion)
// impossible whatever the token's header says.
var (
	hmacAlgorithms = []string{"HS256", "HS384", "HS512"}
	jwksAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// jwtVerifier checks a bearer token's signature and registered claims.
type jwtVerifier struct {
	parser *jwt.Parser // safe for concurrent use: parsing does not change it
	keys   func(ctx context.Context) jwt.Keyfunc
}

// newJWTVerifier validates the JWT part of opts and, for a JWKS, starts its
// refresh goroutine under ctx.
func newJWTVerifier(ctx context.Context, opts Options, logger *slog.Logger) (*jwtVerifier, error) {
	var problems []error
	hasSecret, hasURL := !opts.HMACSecret.IsZero(), opts.JWKSURL != ""
	family := hmacAlgorithms
	switch {
	case hasSecret && hasURL:
		problems = append(problems, errors.New("mode jwt takes an HMAC secret or a JWKS URL, not both"))
	case !hasSecret && !hasURL:
		problems = append(problems, errors.New("mode jwt needs an HMAC secret or a JWKS URL"))
	case hasSecret && len(opts.HMACSecret.Reveal()) < minHMACSecretBytes:
		problems = append(problems, fmt.Errorf("JWT HMAC secret must be at least %d bytes", minHMACSecretBytes))
	case hasURL:
		family = jwksAlgorithms
		// The URL is not echoed: it could carry credentials in its userinfo or query.
		if u, err := url.Parse(opts.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, errors.New("JWKS URL must be an absolute http or https URL"))
		}
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = family
	}
	for _, alg := range algs {
		if !slices.Contains(family, alg) {
			problems = append(problems, fmt.Errorf("JWT algorithm %q is not usable with this key source; want some of %s", alg, strings.Join(family, ", ")))
		}
	}
	for _, d := range []struct {
		name  string
		value int64
	}{
		{"leeway", int64(opts.Leeway)},
		{"JWKS refresh interval", int64(opts.JWKSRefreshInterval)},
		{"JWKS unknown-kid interval", int64(opts.JWKSUnknownKIDInterval)},
		{"JWKS timeout", int64(opts.JWKSTimeout)},
	} {
		if d.value < 0 {
			problems = append(problems, fmt.Errorf("JWT %s must not be negative", d.name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("auth options: %w", errors.Join(problems...))
	}

	parserOpts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithIssuedAt(),
	}
	if opts.Issuer != "" {
		parserOpts = append(parserOpts, jwt.WithIssuer(opts.Issuer))
	}
	if opts.Audience != "" {
		parserOpts = append(parserOpts, jwt.WithAudience(opts.Audience))
	}
	if opts.Now != nil {
		parserOpts = append(parserOpts, jwt.WithTimeFunc(opts.Now))
	}
	v := &jwtVerifier{parser: jwt.NewParser(parserOpts...)}

	if hasSecret {
		secret := []byte(opts.HMACSecret.Reveal())
		v.keys = func(context.Context) jwt.Keyfunc {
			return func(t *jwt.Token) (any, error) {
				// WithValidMethods already refused other families; this keeps the
				// secret from ever reaching a non-HMAC verifier should that change.
				if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
					return nil, fmt.Errorf("signing method %s is not HMAC", t.Method.Alg())
				}
				return secret, nil
			}
		}
		return v, nil
	}

	timeout := cmp.Or(opts.JWKSTimeout, DefaultJWKSTimeout)
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{opts.JWKSURL}, keyfunc.Override{
		Client:          opts.HTTPClient,
		HTTPTimeout:     timeout,
		RefreshInterval: cmp.Or(opts.JWKSRefreshInterval, DefaultJWKSRefreshInterval),
		// A burst of 1: the first unknown kid after a rotation refetches at once.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cmp.Or(opts.JWKSUnknownKIDInterval, DefaultJWKSUnknownKIDInterval)), 1),
		// keyfunc's default is a minute; a request with an unknown kid waits at
		// most one fetch for its turn, and refetches within the same bound.
		RateLimitWaitMax: timeout,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "JWKS refresh failed", "error", err.Error())
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: set up JWKS: %w", err)
	}
	v.keys = kf.KeyfuncCtx
	return v, nil
}

// verify returns "jwt:<sub>" for a valid token. The token's own content never
// reaches the error: jwt's and keyfunc's messages name claims and kids only.
func (v *jwtVerifier) verify(ctx context.Context, token string) (string, time.Time, error) {
	var claims strictClaims
	if _, err := v.parser.ParseWithClaims(token, &claims, v.keys(ctx)); err != nil {
		return "", time.Time{}, fmt.Errorf("verify JWT: %w", err)
	}
	// Without a subject every such token would share one identity, and one
	// rate-limit bucket.
	if claims.Subject == "" {
		return "", time.Time{}, errors.New("verify JWT: no sub claim")
	}
	var exp time.Time
	if claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Time
	}
	return "jwt:" + claims.Subject, exp, nil
}

// strictClaims are the registered claims, read as RFC 7519 §2 defines them:
// exp, nbf and iat are NumericDates, JSON numbers. golang-jwt reads a
// NumericDate through json.Number, which also takes a string of digits, so
// {"exp":"1893456000"} would be accepted; a token with a string, boolean,
// null or object there is malformed and refused instead, so that what an
// issuer meant and what is enforced cannot differ.
type strictClaims struct {
	jwt.RegisteredClaims
}

// UnmarshalJSON checks the time claims' JSON types, then reads the
// registered claims as golang-jwt does. A repeated name is read by both
// passes as encoding/json reads it (the last one wins), so the value checked
// is the value used.
func (c *strictClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		// encoding/json hands RawMessage over without surrounding space; a
		// JSON number, and nothing else, starts with a digit or a minus.
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return fmt.Errorf("claims: %s is not a number", name)
		}
	}
	if err := json.Unmarshal(b, &c.RegisteredClaims); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	return nil
}
