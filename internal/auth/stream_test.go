package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// TestWebSocketHandshakeDefersToInitPayload: a WebSocket handshake without
// a credential reaches the handler (a browser cannot add the header), and
// its connection_init payload then authenticates it; a handshake with a bad
// credential is refused as any request; other requests without one are too.
func TestWebSocketHandshakeDefersToInitPayload(t *testing.T) {
	keys, err := auth.ParseAPIKeys("ci:ci-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(t.Context(), auth.Options{Mode: auth.ModeAPIKey, APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	var seen context.Context
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Context() }))
	upgrade := func(header http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/query", nil)
		r.Header = header
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Connection", "Upgrade")
		w := httptest.NewRecorder()
		seen = nil
		h.ServeHTTP(w, r)
		return w
	}
	if w := upgrade(http.Header{}); w.Code != http.StatusOK || seen == nil || auth.ClientID(seen) != "" {
		t.Fatalf("handshake without a credential: %d, reached the handler %v", w.Code, seen != nil)
	}
	deferred := seen
	if w := upgrade(http.Header{"X-Api-Key": {"wrong-key-0123456789"}}); w.Code != http.StatusUnauthorized || seen != nil {
		t.Fatalf("handshake with a bad credential: %d", w.Code)
	}
	if w := upgrade(http.Header{"X-Api-Key": {"ci-key-0123456789"}}); w.Code != http.StatusOK || auth.ClientID(seen) != "apikey:ci" {
		t.Fatalf("handshake with a credential: %d, id %q", w.Code, auth.ClientID(seen))
	}
	authenticated := seen
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/query?query={__typename}", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("a GET without a credential: %d, want 401", w.Code)
	}

	tests := []struct {
		name    string
		ctx     context.Context
		payload map[string]any
		wantID  string // "" wants an error
	}{
		{"Authorization bearer", deferred, map[string]any{"Authorization": "Bearer ci-key-0123456789"}, "apikey:ci"},
		{"lower-case name under headers", deferred, map[string]any{"headers": map[string]any{"authorization": "bearer ci-key-0123456789"}}, "apikey:ci"},
		{"X-API-Key", deferred, map[string]any{"x-api-key": "ci-key-0123456789"}, "apikey:ci"},
		{"nothing", deferred, map[string]any{}, ""},
		{"not a string", deferred, map[string]any{"Authorization": 42}, ""},
		{"wrong key", deferred, map[string]any{"Authorization": "Bearer ci-key-0123456780"}, ""},
		{"authenticated by its handshake", authenticated, map[string]any{}, "apikey:ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := a.InitPayload(tt.ctx, tt.payload)
			if tt.wantID == "" {
				if err == nil {
					t.Fatalf("accepted, id %q", auth.ClientID(ctx))
				}
				if strings.Contains(err.Error(), "0123456780") {
					t.Fatalf("the error echoes the credential: %v", err)
				}
				return
			}
			if err != nil || auth.ClientID(ctx) != tt.wantID {
				t.Fatalf("id %q, err %v; want %q", auth.ClientID(ctx), err, tt.wantID)
			}
		})
	}
}

// TestExpires: a JWT's exp reaches the request context, for streams to
// close at; an API key has none.
func TestExpires(t *testing.T) {
	a, err := auth.New(t.Context(), auth.Options{Mode: auth.ModeJWT, HMACSecret: signature.NewSecret(hmacSecret), Issuer: issuer, Audience: audience, Leeway: leeway, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var got time.Time
	var ok bool
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, ok = auth.Expires(r.Context()) }))
	r := httptest.NewRequest(http.MethodPost, "/query", nil)
	r.Header.Set("Authorization", "Bearer "+sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(nil)))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !ok || !got.Equal(now.Add(5*time.Minute).Truncate(time.Second)) {
		t.Fatalf("Expires = %v, %v; want the token's exp %v", got, ok, now.Add(5*time.Minute))
	}
	ctx, err := a.InitPayload(context.Background(), nil)
	if err != nil {
		t.Fatal(err) // not deferred: passes as it is
	}
	if _, ok := auth.Expires(ctx); ok {
		t.Fatal("an unauthenticated context has an expiry")
	}
}
