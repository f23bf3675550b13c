package endpoint_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// maxAllocPerRequest bounds what one request may allocate, whatever it holds.
const maxAllocPerRequest = 64 << 20

// FuzzGraphQLHandler sends arbitrary bodies, as JSON POSTs and as GET query
// strings, through the real handler: it must never answer 5xx (a panic is
// recovered as 500), always answer JSON, and allocate a bounded amount.
func FuzzGraphQLHandler(f *testing.F) {
	for _, h := range hostileRequests() {
		if len(h.body) < 4096 {
			f.Add([]byte(h.body), h.method == http.MethodGet)
		}
	}
	f.Add([]byte(testkit.QueryBody(testkit.EveryUpstreamField, nil)), false)
	f.Add([]byte(`{"query":"query($id: Int!) { opportunityType(typeId: $id) { stage(id: 2001) { path { name } } } }","variables":{"id":1001}}`), false)
	f.Add([]byte(`query=%7B%20defaultOpportunityType%20%7B%20typeName%20%7D%20%7D`), true)

	s := teststack.New(f, teststack.Options{Env: map[string]string{"MAX_BATCH": "4"}})
	f.Fuzz(func(t *testing.T, body []byte, get bool) {
		var req *http.Request
		if get {
			// Re-encoded, so that the request line is one a browser could send;
			// a malformed request line is net/http's to refuse, not ours.
			values, err := url.ParseQuery(string(body))
			if err != nil {
				return
			}
			req, err = http.NewRequest(http.MethodGet, s.Server.URL+"/query?"+values.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			req, _ = http.NewRequest(http.MethodPost, s.Server.URL+"/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp, out := testkit.Send(t, http.DefaultClient, req)
		runtime.ReadMemStats(&after)

		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, out)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed && !json.Valid([]byte(out)) {
			t.Fatalf("status %d, body is not JSON: %q", resp.StatusCode, out)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > maxAllocPerRequest {
			t.Fatalf("one request allocated %d MiB", grew>>20)
		}
		testkit.AssertNoSecrets(t, "response", out)
	})
}
