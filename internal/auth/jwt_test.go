package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

const (
	issuer     = "https://issuer.test/"
	audience   = "oppconfig"
	hmacSecret = "an-hmac-secret-of-at-least-32-bytes!"
	// leeway is AUTH_JWT_LEEWAY's default, which the service runs with.
	leeway = 30 * time.Second
)

// now is the fixed clock every JWT test runs at.
var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return now }

// claims returns valid claims for "alice", changed by edits: a nil value
// deletes the claim.
func claims(edits map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iss": issuer,
		"aud": audience,
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, maps.Clone(c))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// unsigned returns an alg "none" token, which golang-jwt signs only when asked
// explicitly.
func unsigned(t *testing.T, kid string) string {
	return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims(nil))
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTWithHMACSecret(t *testing.T) {
	s := newServer(t, auth.Options{
		Mode:       auth.ModeJWT,
		HMACSecret: signature.NewSecret(hmacSecret),
		Issuer:     issuer,
		Audience:   audience,
		Leeway:     leeway,
		Now:        clock,
	})
	key := []byte(hmacSecret)
	valid := sign(t, jwt.SigningMethodHS256, key, "", claims(nil))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + jwtSegment(t, claims(map[string]any{"sub": "mallory"})) + "." + parts[2]

	tests := []struct {
		name             string
		give             http.Header
		wantID           string
		wantInvalidToken bool
	}{
		{"valid HS256", bearer(valid), "jwt:alice", false},
		{"valid HS512", bearer(sign(t, jwt.SigningMethodHS512, key, "", claims(nil))), "jwt:alice", false},
		{"expired within leeway", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}))), "jwt:alice", false},
		{"audience list", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"aud": []string{"other", audience}}))), "jwt:alice", false},
		{"missing", nil, "", false},
		{"token in X-API-Key is not read", http.Header{"X-Api-Key": {valid}}, "", false},
		{"garbage", bearer("not-a-jwt"), "", true},
		{"three garbage segments", bearer("a.b.c"), "", true},
		{"expired", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}))), "", true},
		{"no exp", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"exp": nil}))), "", true},
		{"not yet valid", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"nbf": now.Add(time.Minute).Unix()}))), "", true},
		{"issued in the future", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"iat": now.Add(time.Hour).Unix()}))), "", true},
		{"wrong iss", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"iss": "https://evil.test/"}))), "", true},
		{"no iss", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"iss": nil}))), "", true},
		{"wrong aud", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"aud": "other-service"}))), "", true},
		{"no aud", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"aud": nil}))), "", true},
		{"no sub", bearer(sign(t, jwt.SigningMethodHS256, key, "", claims(map[string]any{"sub": nil}))), "", true},
		{"wrong signature", bearer(sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes"), "", claims(nil))), "", true},
		{"tampered payload", bearer(tampered), "", true},
		{"alg none", bearer(unsigned(t, "")), "", true},
		{"RS256 against an HMAC secret", bearer(sign(t, jwt.SigningMethodRS256, rsaKey(t), "", claims(nil))), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.check(t, tt.give, tt.wantID, tt.wantInvalidToken)
		})
	}
}

// TestJWTTimeClaimsMustBeNumbers: exp, nbf and iat are NumericDates, JSON
// numbers (RFC 7519 §2). golang-jwt alone accepts a string of digits there;
// each payload is written by hand so that the JSON types are exactly these.
func TestJWTTimeClaimsMustBeNumbers(t *testing.T) {
	s := newServer(t, auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(hmacSecret), Leeway: leeway, Now: clock})
	exp := strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10)
	past := strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)
	tests := []struct {
		name    string
		payload string // the claims after "sub"
		wantOK  bool
	}{
		{"numbers", `"exp":` + exp + `,"nbf":` + past + `,"iat":` + past, true},
		{"fractional exp", `"exp":` + exp + `.5`, true},
		{"exp in exponent form", `"exp":1.9e9`, true},
		{"exp a numeric string", `"exp":"` + exp + `"`, false},
		{"nbf a numeric string", `"exp":` + exp + `,"nbf":"` + past + `"`, false},
		{"iat a numeric string", `"exp":` + exp + `,"iat":"` + past + `"`, false},
		{"exp a date string", `"exp":"2031-01-01T00:00:00Z"`, false},
		{"exp null", `"exp":null`, false},
		{"nbf null", `"exp":` + exp + `,"nbf":null`, false},
		{"exp true", `"exp":true`, false},
		{"exp an object", `"exp":{"n":` + exp + `}`, false},
		{"exp an array", `"exp":[` + exp + `]`, false},
		{"exp repeated, the last a string", `"exp":` + exp + `,"exp":"` + exp + `"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signPayload(t, `{"sub":"alice",`+tt.payload+`}`)
			if tt.wantOK {
				s.check(t, bearer(token), "jwt:alice", false)
				return
			}
			s.check(t, bearer(token), "", true)
		})
	}
}

// signPayload signs payload, a JSON text taken as is, with HS256 and the
// test's secret.
func signPayload(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(hmacSecret))
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc.EncodeToString(sig)
}

// jwtSegment encodes c as a JWT payload segment.
func jwtSegment(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwks is an issuer's JWK Set endpoint whose keys a test can rotate.
type jwks struct {
	*httptest.Server
	mu      sync.Mutex
	set     []byte
	fetches atomic.Int32
}

// publicKey is one entry of a JWK Set.
type publicKey struct {
	kid string
	key *rsa.PrivateKey
}

func newJWKS(t *testing.T, keys ...publicKey) *jwks {
	t.Helper()
	j := &jwks{}
	j.publish(t, keys...)
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(j.set)
	}))
	t.Cleanup(j.Close)
	return j
}

// publish replaces the served set with the public halves of keys. The JWKs
// carry no "alg", so only the verifier's own algorithm list stands between an
// HS256 token and the RSA public key.
func (j *jwks) publish(t *testing.T, keys ...publicKey) {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(&k.key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.set = b
}

func jwksOptions(j *jwks) auth.Options {
	return auth.Options{
		Mode:       auth.ModeJWT,
		JWKSURL:    j.URL,
		HTTPClient: j.Client(),
		Issuer:     issuer,
		Audience:   audience,
		Leeway:     leeway,
		Now:        clock,
	}
}

func TestJWTWithJWKS(t *testing.T) {
	k1, other := rsaKey(t), rsaKey(t)
	j := newJWKS(t, publicKey{"k1", k1})
	s := newServer(t, jwksOptions(j))

	pubDER, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name             string
		give             http.Header
		wantID           string
		wantInvalidToken bool
	}{
		{"valid RS256", bearer(sign(t, jwt.SigningMethodRS256, k1, "k1", claims(nil))), "jwt:alice", false},
		{"valid PS256", bearer(sign(t, jwt.SigningMethodPS256, k1, "k1", claims(nil))), "jwt:alice", false},
		{"valid without kid", bearer(sign(t, jwt.SigningMethodRS256, k1, "", claims(nil))), "jwt:alice", false},
		{"missing", nil, "", false},
		{"garbage", bearer("garbage"), "", true},
		{"expired", bearer(sign(t, jwt.SigningMethodRS256, k1, "k1", claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}))), "", true},
		{"not yet valid", bearer(sign(t, jwt.SigningMethodRS256, k1, "k1", claims(map[string]any{"nbf": now.Add(time.Minute).Unix()}))), "", true},
		{"wrong iss", bearer(sign(t, jwt.SigningMethodRS256, k1, "k1", claims(map[string]any{"iss": "https://evil.test/"}))), "", true},
		{"wrong aud", bearer(sign(t, jwt.SigningMethodRS256, k1, "k1", claims(map[string]any{"aud": "other-service"}))), "", true},
		{"wrong signature", bearer(sign(t, jwt.SigningMethodRS256, other, "k1", claims(nil))), "", true},
		{"alg none", bearer(unsigned(t, "k1")), "", true},
		{"HS256 keyed with the public key PEM", bearer(sign(t, jwt.SigningMethodHS256, pubPEM, "k1", claims(nil))), "", true},
		{"HS256 keyed with the public key DER", bearer(sign(t, jwt.SigningMethodHS256, pubDER, "k1", claims(nil))), "", true},
		{"HS256 without kid", bearer(sign(t, jwt.SigningMethodHS256, pubPEM, "", claims(nil))), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.check(t, tt.give, tt.wantID, tt.wantInvalidToken)
		})
	}
}

func TestJWKSKeyRotation(t *testing.T) {
	k1, k2, stranger := rsaKey(t), rsaKey(t), rsaKey(t)
	j := newJWKS(t, publicKey{"k1", k1})
	s := newServer(t, jwksOptions(j))
	token1 := sign(t, jwt.SigningMethodRS256, k1, "k1", claims(nil))
	token2 := sign(t, jwt.SigningMethodRS256, k2, "k2", claims(map[string]any{"sub": "bob"}))

	s.check(t, bearer(token1), "jwt:alice", false)
	if got := j.fetches.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times before rotation, want 1", got)
	}

	// The issuer rotates: k2 appears and k1 is retired. A token with the new
	// kid makes the verifier refetch at once instead of waiting an hour.
	j.publish(t, publicKey{"k2", k2})
	s.check(t, bearer(token2), "jwt:bob", false)
	if got := j.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after rotation, want 2", got)
	}
	// The refetch replaced the set, so the retired key no longer verifies.
	s.check(t, bearer(token1), "", true)

	// Another unknown kid within the refetch interval is refused without a
	// fetch: made-up kids must not turn into requests to the issuer.
	s.check(t, bearer(sign(t, jwt.SigningMethodRS256, stranger, "k3", claims(nil))), "", true)
	if got := j.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after an unknown kid, want still 2", got)
	}
}

func TestRefusalRevealsNothing(t *testing.T) {
	const apiKey = "configured-api-key-0123456789"
	keys, err := auth.ParseAPIKeys("ci:" + apiKey)
	if err != nil {
		t.Fatal(err)
	}
	hmacOpts := auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(hmacSecret), Issuer: issuer, Audience: audience, Leeway: leeway, Now: clock}
	expired := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(map[string]any{"exp": now.Add(-time.Hour).Unix()}))
	forged := sign(t, jwt.SigningMethodHS256, []byte("forged-secret-of-at-least-32-bytes"), "", claims(nil))

	tests := []struct {
		name    string
		opts    auth.Options
		give    http.Header
		secrets []string // must appear nowhere in the response or the logs
	}{
		{"near-miss API key as bearer", auth.Options{Mode: auth.ModeAPIKey, APIKeys: keys}, bearer(apiKey + "x"), []string{apiKey}},
		{"near-miss API key as X-API-Key", auth.Options{Mode: auth.ModeAPIKey, APIKeys: keys}, http.Header{"X-Api-Key": {"x" + apiKey}}, []string{apiKey}},
		{"expired, correctly signed JWT", hmacOpts, bearer(expired), []string{expired, hmacSecret}},
		{"forged JWT", hmacOpts, bearer(forged), []string{forged, hmacSecret}},
		{"the HMAC secret as a bearer token", hmacOpts, bearer(hmacSecret), []string{hmacSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.opts)
			resp, body := s.get(t, tt.give)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			var presented []string
			for _, vs := range tt.give {
				for _, v := range vs {
					presented = append(presented, strings.TrimPrefix(v, "Bearer "))
				}
			}
			var headers strings.Builder
			for k, vs := range resp.Header {
				headers.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
			}
			logs := s.logs.String()
			if !strings.Contains(logs, "authentication failed") {
				t.Errorf("logs = %q, want the refusal logged", logs)
			}
			for _, secret := range append(presented, tt.secrets...) {
				for where, text := range map[string]string{"body": body, "headers": headers.String(), "logs": logs} {
					if strings.Contains(text, secret) {
						t.Errorf("%s reveal a credential:\n%s", where, text)
					}
				}
			}
		})
	}
}
