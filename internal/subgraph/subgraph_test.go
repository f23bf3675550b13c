package subgraph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/subgraph"
)

const secret = "gateway-secret-0123456789"

// TestRules walks the package comment's table: for each configuration and
// request, whether it passes authentication, may select _service and
// _entities, and may run them unlisted under trusted documents.
func TestRules(t *testing.T) {
	apiKeys := auth.Options{Mode: auth.ModeAPIKey, APIKeys: []auth.APIKey{{Name: "web", Key: signature.NewSecret("web-key-0123456789abcdef")}}}
	tests := []struct {
		name     string
		opts     subgraph.Options
		authOpts auth.Options
		header   map[string]string
		status   int // of the request; 200 when it passes
		federate bool
		unlisted bool
	}{
		{"off", subgraph.Options{}, auth.Options{}, nil, 200, false, false},
		{"off, a secret header means nothing", subgraph.Options{Secret: signature.NewSecret(secret)}, auth.Options{}, map[string]string{subgraph.SecretHeader: secret}, 200, false, false},
		{"no secret, no auth: anyone, like any query", subgraph.Options{Enabled: true}, auth.Options{}, nil, 200, true, false},
		{"no secret, apikey: an authenticated client", subgraph.Options{Enabled: true, Authenticated: true}, apiKeys, map[string]string{"X-API-Key": "web-key-0123456789abcdef"}, 200, true, true},
		{"no secret, apikey: no key", subgraph.Options{Enabled: true, Authenticated: true}, apiKeys, nil, 401, false, false},
		{"secret: the gateway", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret)}, auth.Options{}, map[string]string{subgraph.SecretHeader: secret}, 200, true, true},
		{"secret: the gateway needs no API key", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret), Authenticated: true}, apiKeys, map[string]string{subgraph.SecretHeader: secret}, 200, true, true},
		{"secret: a client with an API key is not the gateway", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret), Authenticated: true}, apiKeys, map[string]string{"X-API-Key": "web-key-0123456789abcdef"}, 200, false, false},
		{"secret: anyone else", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret)}, auth.Options{}, nil, 200, false, false},
		{"secret: a wrong one", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret)}, auth.Options{}, map[string]string{subgraph.SecretHeader: secret + "x"}, 401, false, false},
		{"secret: a wrong one beside a good API key", subgraph.Options{Enabled: true, Secret: signature.NewSecret(secret), Authenticated: true}, apiKeys, map[string]string{subgraph.SecretHeader: "nope", "X-API-Key": "web-key-0123456789abcdef"}, 401, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authn, err := auth.New(context.Background(), tt.authOpts)
			if err != nil {
				t.Fatal(err)
			}
			gate := subgraph.New(tt.opts)
			var federate, unlisted, reached bool
			h := gate.Authenticate(authn.Middleware)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				federate, unlisted = gate.MayFederate(r.Context()), gate.MayRunUnlisted(r.Context())
			}))
			r := httptest.NewRequest(http.MethodPost, "/query", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || reached != (tt.status == 200) {
				t.Fatalf("status %d (handler reached %v), want %d", w.Code, reached, tt.status)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("the refusal shows the secret: %s", w.Body)
			}
			if federate != tt.federate || unlisted != tt.unlisted {
				t.Errorf("MayFederate %v, MayRunUnlisted %v; want %v, %v", federate, unlisted, tt.federate, tt.unlisted)
			}
		})
	}
}

// TestNilGateIsOff: a service built without SUBGRAPH_MODE may hold no gate.
func TestNilGateIsOff(t *testing.T) {
	var g *subgraph.Gate
	if g.MayFederate(context.Background()) || g.MayRunUnlisted(context.Background()) {
		t.Error("a nil gate lets federation through")
	}
	passed := false
	g.Authenticate(func(next http.Handler) http.Handler { return next })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !passed {
		t.Error("a nil gate's middleware is not its authenticate")
	}
}
