package server_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// The client credentials of the access tests: distinctive, so that finding
// one in a log line is a leak.
const (
	accessKey   = "k-ACCESS-0123456789abcdef0123456789"
	wrongKey    = "k-WRONG-0123456789abcdef0123456789x"
	accessHMAC  = "hmac-ACCESS-0123456789abcdef0123456789"
	accessRealm = `Basic realm="oppconfig-graphql"`
)

// routeAccess is what one route answers: whether a client without the
// credential reaches it, with what challenge it is refused, and the status
// it answers with the credential.
type routeAccess struct {
	pattern   string // chi's route pattern, as chi.Walk reports it
	method    string
	path      string // a path the pattern matches
	body      string // POST body
	open      bool   // reached without a credential
	challenge string // WWW-Authenticate of the 401 without a credential
	wantOK    int    // status with the credential
}

// everyRoute is every route of a service with every page on, listed by hand
// so that a route added to routes.go fails TestOnlyProbesAreOpen until it is
// listed here with what it should answer.
func everyRoute() []routeAccess {
	query := "/query?" + url.Values{"query": {"{ __typename }"}}.Encode()
	return []routeAccess{
		{"/healthz", http.MethodGet, "/healthz", "", true, "", http.StatusOK},
		{"/readyz", http.MethodGet, "/readyz", "", true, "", http.StatusOK},
		{"/", http.MethodGet, "/", "", false, accessRealm, http.StatusOK},
		{"/playground/assets/*", http.MethodGet, "/playground/assets/nope/init.js", "", false, accessRealm, http.StatusNotFound},
		{"/explorer", http.MethodGet, "/explorer", "", false, accessRealm, http.StatusOK},
		{"/explorer/*", http.MethodGet, "/explorer/explorer.js", "", false, accessRealm, http.StatusOK},
		{"/graphql/schema.graphql", http.MethodGet, "/graphql/schema.graphql", "", false, accessRealm, http.StatusOK},
		{"/metrics", http.MethodGet, "/metrics", "", false, "Bearer", http.StatusOK},
		{"/query", http.MethodGet, query, "", false, "Bearer", http.StatusOK},
		{"/query", http.MethodPost, "/query", `{"query":"{ __typename }"}`, false, "Bearer", http.StatusOK},
		{"/query", http.MethodPut, "/query", "", false, "Bearer", http.StatusMethodNotAllowed},
	}
}

// TestOnlyProbesAreOpen: with AUTH_MODE set and every page switched on, a
// client that cannot authenticate reaches only /healthz and /readyz. Every
// other route answers 401 UNAUTHENTICATED, without a credential, with a wrong
// one in each place a credential is read, and with a credential of the other
// mode; with the right credential, in each place, it answers. The table is
// checked against the router's own list of routes.
func TestOnlyProbesAreOpen(t *testing.T) {
	token := func(t *testing.T, secret string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "alice", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	basic := func(user, password string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	}
	good := token(t, accessHMAC)
	forged := token(t, "forged-0123456789abcdef0123456789abcdef")

	type credential struct {
		name      string
		header    http.Header
		presented bool // refused as a bad credential (Bearer error="invalid_token"), not as none
	}
	modes := []struct {
		name  string
		env   map[string]string
		right []credential
		wrong []credential
	}{
		{
			name: "apikey",
			env:  map[string]string{"AUTH_MODE": "apikey", "AUTH_API_KEYS": "web:" + accessKey},
			right: []credential{
				{"X-API-Key", http.Header{"X-Api-Key": {accessKey}}, true},
				{"Bearer", http.Header{"Authorization": {"Bearer " + accessKey}}, true},
				{"Basic", http.Header{"Authorization": {basic("web", accessKey)}}, true},
			},
			wrong: []credential{
				{"none", nil, false},
				{"wrong X-API-Key", http.Header{"X-Api-Key": {wrongKey}}, true},
				{"wrong Bearer", http.Header{"Authorization": {"Bearer " + wrongKey}}, true},
				{"wrong Basic", http.Header{"Authorization": {basic("web", wrongKey)}}, true},
				{"key as Basic user", http.Header{"Authorization": {basic(accessKey, "")}}, true},
				{"a JWT", http.Header{"Authorization": {"Bearer " + good}}, true},
			},
		},
		{
			name: "jwt",
			env:  map[string]string{"AUTH_MODE": "jwt", "AUTH_JWT_HMAC_SECRET": accessHMAC},
			right: []credential{
				{"Bearer", http.Header{"Authorization": {"Bearer " + good}}, true},
				{"Basic", http.Header{"Authorization": {basic("alice", good)}}, true},
			},
			wrong: []credential{
				{"none", nil, false},
				{"forged Bearer", http.Header{"Authorization": {"Bearer " + forged}}, true},
				{"forged Basic", http.Header{"Authorization": {basic("alice", forged)}}, true},
				{"an API key, which jwt does not read", http.Header{"X-Api-Key": {accessKey}}, false},
			},
		},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			env := map[string]string{"PLAYGROUND": "true", "EXPLORER": "true", "INTROSPECTION": "true"}
			for k, v := range mode.env {
				env[k] = v
			}
			s := teststack.New(t, teststack.Options{Env: env})
			assertTableIsEveryRoute(t, s.Service.Handler)
			// Loaded first, so that /readyz answers 200 below.
			if resp, body := testkit.DoHeader(t, http.MethodPost, s.Server.URL+"/query", "application/json",
				strings.NewReader(`{"query":"{ opportunityTypes { typeId } }"}`), mode.right[0].header); resp.StatusCode != http.StatusOK {
				t.Fatalf("first query: %d %s", resp.StatusCode, body)
			}
			for _, route := range everyRoute() {
				send := func(t *testing.T, header http.Header) (*http.Response, string) {
					return testkit.DoHeader(t, route.method, s.Server.URL+route.path, "application/json", strings.NewReader(route.body), header)
				}
				for _, c := range mode.wrong {
					t.Run(route.method+" "+route.pattern+", "+c.name, func(t *testing.T) {
						resp, body := send(t, c.header)
						if route.open {
							if resp.StatusCode != route.wantOK {
								t.Fatalf("status %d, want %d: %s", resp.StatusCode, route.wantOK, body)
							}
							return
						}
						if resp.StatusCode != http.StatusUnauthorized {
							t.Fatalf("status %d, want 401: %.200s", resp.StatusCode, body)
						}
						testkit.AssertRefusal(t, resp, body, string(apierror.Unauthenticated))
						want := route.challenge
						if c.presented && want == "Bearer" {
							want = `Bearer error="invalid_token"`
						}
						if got := resp.Header.Get("WWW-Authenticate"); got != want {
							t.Errorf("WWW-Authenticate = %q, want %q", got, want)
						}
					})
				}
				for _, c := range mode.right {
					t.Run(route.method+" "+route.pattern+", right "+c.name, func(t *testing.T) {
						if resp, body := send(t, c.header); resp.StatusCode != route.wantOK {
							t.Errorf("status %d, want %d: %.200s", resp.StatusCode, route.wantOK, body)
						}
					})
				}
			}
			// What was presented, right or wrong, is never logged.
			logs := s.Logs.String()
			for _, secret := range []string{accessKey, wrongKey, accessHMAC, good, forged, base64.StdEncoding.EncodeToString([]byte("web:" + wrongKey))} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log holds a credential %.12s…", secret)
				}
			}
			if !strings.Contains(logs, "authentication failed") {
				t.Error("refusals are not logged")
			}
		})
	}
}

// assertTableIsEveryRoute fails t unless everyRoute lists exactly the
// patterns the router serves.
func assertTableIsEveryRoute(t *testing.T, h http.Handler) {
	t.Helper()
	if dh, ok := h.(*live.DetachingHandler); ok { // outside the router: it runs chi itself on the stream's goroutine
		h = dh.Next
	}
	router, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("the service's handler is a %T, not a chi router: walk its routes another way", h)
	}
	var served []string
	err := chi.Walk(router, func(_ string, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !slices.Contains(served, route) {
			served = append(served, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range everyRoute() {
		if !slices.Contains(listed, r.pattern) {
			listed = append(listed, r.pattern)
		}
	}
	slices.Sort(served)
	slices.Sort(listed)
	if !slices.Equal(served, listed) {
		t.Errorf("the router serves %q; everyRoute lists %q: list every route with what it answers", served, listed)
	}
}
