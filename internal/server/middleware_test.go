package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// TestPanicsAnswerGraphQLShaped500: a panic anywhere on the path is answered
// like every refusal, logged with its type and stack but never its value.
func TestPanicsAnswerGraphQLShaped500(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{"a string holding a secret", "appKey=" + testkit.Creds().AppKey.Reveal()},
		{"an error", http.ErrBodyNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testkit.LogBuffer{}
			h := recoverer(slog.New(slog.NewJSONHandler(logs, nil)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				panic(tt.value)
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/query", nil))
			var body struct {
				Errors []struct {
					Extensions map[string]string `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusInternalServerError ||
				w.Header().Get("Content-Type") != "application/json" || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "INTERNAL_SERVER_ERROR" {
				t.Errorf("%d %s %s (%v)", w.Code, w.Header().Get("Content-Type"), w.Body, err)
			}
			if !strings.Contains(logs.String(), "panic in handler") || !strings.Contains(logs.String(), "stack") {
				t.Errorf("panic not logged: %s", logs)
			}
			testkit.AssertNoSecrets(t, "logs", logs.String())
		})
	}
}

// TestAbortHandlerStillAborts: http.ErrAbortHandler is the server's own way to
// drop a connection; it is not turned into an answer.
func TestAbortHandlerStillAborts(t *testing.T) {
	h := recoverer(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-panicked", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}
