package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestAuthLogLineHasOneRequestID: a refused credential is logged with the
// request's own id, once (it used to carry an empty "request_id" first).
func TestAuthLogLineHasOneRequestID(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"AUTH_MODE":     "apikey",
		"AUTH_API_KEYS": "web:k-0123456789abcdef0123456789abcdef",
	}})
	resp, body := testkit.Do(t, http.MethodPost, s.Server.URL+"/query", "application/json",
		strings.NewReader(`{"query":"{ __typename }"}`), map[string]string{"X-API-Key": "not-a-key-of-ours-at-all", "X-Request-Id": "req-auth-1"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"UNAUTHENTICATED"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var line string
	for l := range strings.SplitSeq(s.Logs.String(), "\n") {
		if strings.Contains(l, `"authentication failed"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no authentication log line:\n%s", s.Logs)
	}
	var entry struct {
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(line, `"request_id":`); n != 1 || entry.RequestID != "req-auth-1" {
		t.Errorf("request_id %d times, last %q: %s", n, entry.RequestID, line)
	}
}
