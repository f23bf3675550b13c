package endpoint_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestAPanickingExecutionIsAnsweredAndTheServiceServesOn: gqlgen panics on a
// null @skip condition at the root (its own bug). Executed shared (response
// cache on: on singleflight's goroutine, where a panic would end the process)
// or alone, the request gets a GraphQL-shaped 500, the panic is logged
// without its value, and the next request is answered.
func TestAPanickingExecutionIsAnsweredAndTheServiceServesOn(t *testing.T) {
	for _, respCache := range []string{"true", "false"} {
		t.Run("RESPONSE_CACHE="+respCache, func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": respCache}})
			body := testkit.QueryBody(`query($v: Boolean = true) { opportunityTypes @skip(if: $v) { typeId } }`, map[string]any{"v": nil})
			resp, b := testkit.PostJSON(t, s.Server.URL+"/query", body, nil)
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(b, `"INTERNAL_SERVER_ERROR"`) {
				t.Errorf("%d %s", resp.StatusCode, b)
			}
			if !strings.Contains(s.Logs.String(), `"panic in`) {
				t.Errorf("the panic is not logged:\n%s", s.Logs)
			}
			if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("after the panic: %d %s", r.Status, r.Body)
			}
		})
	}
}
