package auth_test

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// server is an Authenticator in front of a handler that records whether it
// ran and reports the client id it saw.
type server struct {
	*httptest.Server
	ran  atomic.Int32
	logs *testkit.LogBuffer
}

func newServer(t *testing.T, opts auth.Options) *server {
	t.Helper()
	s := &server{logs: &testkit.LogBuffer{}}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(s.logs, nil))
	}
	a, err := auth.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	s.Server = httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ran.Add(1)
		w.Header().Set("X-Client-ID", auth.ClientID(r.Context()))
		w.WriteHeader(http.StatusOK)
	})))
	t.Cleanup(s.Close)
	return s
}

// get sends GET / with header and returns the response with its body read.
func (s *server) get(t *testing.T, header http.Header) (*http.Response, string) {
	t.Helper()
	return testkit.DoHeader(t, http.MethodGet, s.URL, "", nil, header)
}

// check asserts the outcome of one request: 200 with wantID reaching the
// handler, or a well-formed 401 (wantID "") that the handler never saw.
func (s *server) check(t *testing.T, header http.Header, wantID string, wantInvalidToken bool) {
	t.Helper()
	before := s.ran.Load()
	resp, body := s.get(t, header)
	if wantID != "" {
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s; logs %s", resp.StatusCode, body, s.logs)
		}
		if got := resp.Header.Get("X-Client-ID"); got != wantID {
			t.Errorf("ClientID = %q, want %q", got, wantID)
		}
		return
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401; body %s", resp.StatusCode, body)
	}
	if s.ran.Load() != before {
		t.Error("downstream handler ran for a refused request")
	}
	wantChallenge := "Bearer"
	if wantInvalidToken {
		wantChallenge = `Bearer error="invalid_token"`
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != wantChallenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
	}
	testkit.AssertRefusal(t, resp, body, string(apierror.Unauthenticated))
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// basicAuth is an Authorization header of the Basic scheme, as a browser
// sends it after its user answered the prompt.
func basicAuth(user, password string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header
}

// TestBasicCredentials: the API key or the JWT is accepted as the password
// of HTTP Basic authentication, for Middleware and Pages alike, and Pages
// challenges Basic so that a browser asks for it.
func TestBasicCredentials(t *testing.T) {
	const key = "page-key-0123456789abcdef"
	keys, err := auth.ParseAPIKeys("web:" + key)
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(nil))
	apikey := auth.Options{Mode: auth.ModeAPIKey, APIKeys: keys}
	jwtOpts := auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(hmacSecret), Issuer: issuer, Audience: audience, Leeway: leeway, Now: clock}
	tests := []struct {
		name      string
		opts      auth.Options
		give      http.Header
		wantID    string // "": refused
		presented bool   // refused for a bad credential, not a missing one
	}{
		{"key as password", apikey, basicAuth("web", key), "apikey:web", false},
		{"key as password, no user name", apikey, basicAuth("", key), "apikey:web", false},
		{"lower-case scheme", apikey, http.Header{"Authorization": {"basic " + base64.StdEncoding.EncodeToString([]byte("x:"+key))}}, "apikey:web", false},
		{"key as user name", apikey, basicAuth(key, ""), "", true},
		{"wrong key", apikey, basicAuth("web", key+"x"), "", true},
		{"not base64", apikey, http.Header{"Authorization": {"Basic %%%"}}, "", true},
		{"no colon", apikey, http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(key))}}, "", true},
		{"oversized", apikey, basicAuth("web", strings.Repeat("k", 9<<10)), "", true},
		{"nothing", apikey, nil, "", false},
		{"JWT as password", jwtOpts, basicAuth("alice", token), "jwt:alice", false},
		{"wrong JWT", jwtOpts, basicAuth("alice", token+"x"), "", true},
		{"API key in JWT mode", jwtOpts, basicAuth("web", key), "", true},
		{"nothing, JWT mode", jwtOpts, nil, "", false},
	}
	for _, tt := range tests {
		for _, pages := range []bool{false, true} {
			name := tt.name + ", Middleware"
			if pages {
				name = tt.name + ", Pages"
			}
			t.Run(name, func(t *testing.T) {
				logs := &testkit.LogBuffer{}
				opts := tt.opts
				opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				a, err := auth.New(t.Context(), opts)
				if err != nil {
					t.Fatal(err)
				}
				mw := a.Middleware
				if pages {
					mw = a.Pages
				}
				srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Client-ID", auth.ClientID(r.Context()))
				})))
				t.Cleanup(srv.Close)
				resp, body := testkit.DoHeader(t, http.MethodGet, srv.URL, "", nil, tt.give)
				if tt.wantID != "" {
					if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Client-ID") != tt.wantID {
						t.Fatalf("status %d, client %q, want 200 and %q: %s", resp.StatusCode, resp.Header.Get("X-Client-ID"), tt.wantID, body)
					}
					return
				}
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401: %s", resp.StatusCode, body)
				}
				testkit.AssertRefusal(t, resp, body, string(apierror.Unauthenticated))
				want := "Bearer"
				switch {
				case pages:
					want = `Basic realm="oppconfig-graphql"`
				case tt.presented:
					want = `Bearer error="invalid_token"`
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
				// What was presented, decoded or not, is never logged.
				for _, secret := range []string{key, token, hmacSecret, tt.give.Get("Authorization")} {
					if secret != "" && strings.Contains(logs.String()+body, secret) {
						t.Errorf("logs or body reveal a credential:\n%s\n%s", logs, body)
					}
				}
				if !strings.Contains(logs.String(), "authentication failed") {
					t.Errorf("refusal not logged: %s", logs)
				}
			})
		}
	}
}

func TestModeNonePassesEverything(t *testing.T) {
	s := newServer(t, auth.Options{Mode: auth.ModeNone})
	tests := []struct {
		name string
		give http.Header
	}{
		{"no credentials", nil},
		{"garbage bearer", bearer("garbage")},
		{"garbage api key", http.Header{"X-Api-Key": {"garbage"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.get(t, tt.give)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Client-ID"); got != "" {
				t.Errorf("ClientID = %q, want empty", got)
			}
		})
	}
}

func TestAPIKey(t *testing.T) {
	keys, err := auth.ParseAPIKeys("ci:ci-key-0123456789,dashboard:dash-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, auth.Options{Mode: auth.ModeAPIKey, APIKeys: keys})
	tests := []struct {
		name             string
		give             http.Header
		wantID           string
		wantInvalidToken bool
	}{
		{"bearer", bearer("ci-key-0123456789"), "apikey:ci", false},
		{"bearer lower-case scheme", http.Header{"Authorization": {"bearer dash-key-0123456789"}}, "apikey:dashboard", false},
		{"X-API-Key", http.Header{"X-Api-Key": {"dash-key-0123456789"}}, "apikey:dashboard", false},
		{"X-API-Key wins over Authorization", http.Header{"X-Api-Key": {"ci-key-0123456789"}, "Authorization": {"Bearer gateway-token"}}, "apikey:ci", false},
		{"missing", nil, "", false},
		{"basic with the key as password", basicAuth("anyone", "ci-key-0123456789"), "apikey:ci", false},
		{"basic with a wrong key", basicAuth("ci", "ci-key"), "", true},
		{"other scheme is no credential", http.Header{"Authorization": {"Digest username=\"ci\""}}, "", false},
		{"empty bearer", bearer(""), "", false},
		{"wrong key", bearer("ci-key-0123456780"), "", true},
		{"prefix of a key", http.Header{"X-Api-Key": {"ci-key"}}, "", true},
		{"key with a suffix", http.Header{"X-Api-Key": {"ci-key-0123456789x"}}, "", true},
		{"name instead of key", http.Header{"X-Api-Key": {"ci"}}, "", true},
		{"oversized", bearer(strings.Repeat("k", 9<<10)), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.check(t, tt.give, tt.wantID, tt.wantInvalidToken)
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	const secret = "tiny-secret-value"
	tests := []struct {
		name string
		give auth.Options
		want string
	}{
		{"unknown mode", auth.Options{Mode: "oauth"}, `mode "oauth" is not one of`},
		{"apikey without keys", auth.Options{Mode: auth.ModeAPIKey}, "at least one API key"},
		{"apikey repeated name", auth.Options{Mode: auth.ModeAPIKey, APIKeys: []auth.APIKey{
			{Name: "ci", Key: signature.NewSecret(secret + "1")}, {Name: "ci", Key: signature.NewSecret(secret + "2")},
		}}, `name "ci" already used`},
		{"apikey repeated key", auth.Options{Mode: auth.ModeAPIKey, APIKeys: []auth.APIKey{
			{Name: "a", Key: signature.NewSecret(secret)}, {Name: "b", Key: signature.NewSecret(secret)},
		}}, "same key as API key 1"},
		{"apikey empty key", auth.Options{Mode: auth.ModeAPIKey, APIKeys: []auth.APIKey{{Name: "a"}}}, "empty key"},
		{"jwt without key source", auth.Options{Mode: auth.ModeJWT}, "needs an HMAC secret or a JWKS URL"},
		{"jwt with both key sources", auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(secret), JWKSURL: "https://issuer.test/jwks"}, "not both"},
		{"jwt short secret", auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(secret)}, "at least 32 bytes"},
		{"jwt bad JWKS URL", auth.Options{Mode: auth.ModeJWT, JWKSURL: "ftp://issuer.test/jwks"}, "absolute http or https URL"},
		{"jwt relative JWKS URL", auth.Options{Mode: auth.ModeJWT, JWKSURL: "/jwks"}, "absolute http or https URL"},
		{"jwt HMAC alg with JWKS", auth.Options{Mode: auth.ModeJWT, JWKSURL: "https://issuer.test/jwks", Algorithms: []string{"RS256", "HS256"}}, `"HS256" is not usable`},
		{"jwt alg none", auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(strings.Repeat(secret, 3)), Algorithms: []string{"none"}}, `"none" is not usable`},
		{"jwt negative leeway", auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(strings.Repeat(secret, 3)), Leeway: -1}, "leeway must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.New(t.Context(), tt.give)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals a secret", err)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		give    string
		want    auth.Mode
		wantErr bool
	}{
		{"", auth.ModeNone, false},
		{"none", auth.ModeNone, false},
		{" APIKey ", auth.ModeAPIKey, false},
		{"jwt", auth.ModeJWT, false},
		{"basic", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := auth.ParseMode(tt.give)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseMode(%q) = %q, %v; want %q, error %t", tt.give, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseAPIKeys(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    map[string]string // name → key
		wantErr string
	}{
		{name: "empty", give: "", want: map[string]string{}},
		{name: "one", give: "ci:k-1", want: map[string]string{"ci": "k-1"}},
		{name: "spaces, colon in key, trailing comma", give: " ci : k-1 , dash:k:2 ,", want: map[string]string{"ci": "k-1", "dash": "k:2"}},
		{name: "bare key", give: "ci:k-1,sekrit-bare-key", wantErr: "entry 2: want name:key"},
		{name: "no name", give: ":sekrit-1", wantErr: "name \"\" must be"},
		{name: "bad name", give: "a b:sekrit-1", wantErr: "name \"a b\" must be"},
		{name: "no key", give: "ci:", wantErr: "API key 1 (ci): empty key"},
		{name: "repeated name", give: "ci:sekrit-1,ci:sekrit-2", wantErr: `name "ci" already used by API key 1`},
		{name: "repeated key", give: "a:sekrit-1,b:sekrit-1", wantErr: "API key 2 (b): same key as API key 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := auth.ParseAPIKeys(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sekrit") {
					t.Errorf("error %q reveals a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, k := range keys {
				got[k.Name] = k.Key.Reveal()
			}
			if len(got) != len(tt.want) {
				t.Fatalf("keys = %v, want %v", got, tt.want)
			}
			for name, key := range tt.want {
				if got[name] != key {
					t.Errorf("key %q = %q, want %q", name, got[name], key)
				}
			}
		})
	}
}
