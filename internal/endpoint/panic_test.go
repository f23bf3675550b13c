package endpoint_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestANullConditionIsRefused: a null @skip/@include condition (gqlgen would
// panic on it at the root, and report field errors below) is refused with a
// GraphQL error, shared or not, with the fast path or without, and the
// service answers the next request.
func TestANullConditionIsRefused(t *testing.T) {
	queries := map[string]string{
		"at the root": `query($v: Boolean = true) { opportunityTypes @skip(if: $v) { typeId } }`,
		"in a fragment": `query($v: Boolean = true) { opportunityTypes { ...F } }
			fragment F on OpportunityType { stages { id @include(if: $v) } }`,
	}
	for _, env := range []map[string]string{
		{"RESPONSE_CACHE": "true"},
		{"RESPONSE_CACHE": "false"},
		{"RESPONSE_CACHE": "true", "FAST_PATH": "false"},
	} {
		s := teststack.New(t, teststack.Options{Env: env})
		for name, q := range queries {
			t.Run(name, func(t *testing.T) {
				resp, b := testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(q, map[string]any{"v": nil}), nil)
				if resp.StatusCode != http.StatusOK || !strings.Contains(b, `"GRAPHQL_VALIDATION_FAILED"`) || !strings.Contains(b, "$v") || strings.Contains(b, `"data":{`) {
					t.Errorf("%v: %d %s", env, resp.StatusCode, b)
				}
				resp, _ = testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(q, map[string]any{"v": nil}),
					map[string]string{"Accept": "application/graphql-response+json"})
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%v: with the GraphQL response type: %d, want 400", env, resp.StatusCode)
				}
				if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
					t.Errorf("%v: after it: %d %s", env, r.Status, r.Body)
				}
			})
		}
	}
}
