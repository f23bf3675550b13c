package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// The gateway's shared secret and an API key of these tests.
const (
	gatewaySecret = "gateway-S3cret-0123456789"
	webKey        = "web-k-0123456789abcdef0123456789"
)

// A gateway's two kinds of query, and a client's.
const (
	entitiesQuery = `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on OpportunityType { typeId typeName stages { id name } } } }`
	serviceQuery  = `{ _service { sdl } }`
	clientQuery   = `{ opportunityTypes { typeId } }`
)

var entitiesVars = map[string]any{"r": []any{
	map[string]any{"__typename": "OpportunityType", "typeId": 1002},
	map[string]any{"__typename": "OpportunityType", "typeId": 404},
	map[string]any{"__typename": "OpportunityType", "typeId": 1001},
}}

// post sends a GraphQL request with headers and decodes the answer.
func post(t *testing.T, s *teststack.Stack, body string, headers map[string]string) testkit.Response {
	t.Helper()
	resp, raw := testkit.PostJSON(t, s.Server.URL+"/query", body, headers)
	out := testkit.Response{Status: resp.StatusCode, Body: []byte(raw)}
	if err := json.Unmarshal(out.Body, &out); err != nil {
		t.Fatalf("not JSON (%d): %s", resp.StatusCode, raw)
	}
	if strings.Contains(raw, gatewaySecret) {
		t.Errorf("the answer shows the gateway's secret: %s", raw)
	}
	return out
}

// code is the answer's one error code, "" for a clean answer with data.
func code(t *testing.T, r testkit.Response) string {
	t.Helper()
	switch {
	case len(r.Errors) == 0 && len(r.Data) > 0 && string(r.Data) != "null":
		return ""
	case len(r.Errors) == 0:
		t.Fatalf("neither data nor errors: %s", r.Body)
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// TestSubgraphAccess: who may use _service and _entities, for each
// combination of SUBGRAPH_MODE, SUBGRAPH_SECRET, AUTH_MODE and INTROSPECTION,
// through the real service over HTTP.
func TestSubgraphAccess(t *testing.T) {
	secret := map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}
	apikey := map[string]string{"AUTH_MODE": "apikey", "AUTH_API_KEYS": "web:" + webKey}
	with := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			maps.Copy(out, m)
		}
		return out
	}
	gw := map[string]string{"X-Subgraph-Secret": gatewaySecret}
	key := map[string]string{"X-API-Key": webKey}
	tests := []struct {
		name    string
		env     map[string]string
		headers map[string]string
		query   string
		status  int
		code    string // "" for an answer
	}{
		{"off: _service", nil, nil, serviceQuery, 200, "FEDERATION_DISABLED"},
		{"off: _entities", nil, nil, entitiesQuery, 200, "FEDERATION_DISABLED"},
		{"off: a secret header changes nothing", nil, gw, entitiesQuery, 200, "FEDERATION_DISABLED"},
		{"on, open: _service", map[string]string{"SUBGRAPH_MODE": "true"}, nil, serviceQuery, 200, ""},
		{"on, open: _entities", map[string]string{"SUBGRAPH_MODE": "true"}, nil, entitiesQuery, 200, ""},
		{"on, introspection off: _service still answers", map[string]string{"SUBGRAPH_MODE": "true", "INTROSPECTION": "false"}, nil, serviceQuery, 200, ""},
		{"on, introspection off: __schema does not", map[string]string{"SUBGRAPH_MODE": "true", "INTROSPECTION": "false"}, nil, `{ _service { sdl } __schema { queryType { name } } }`, 200, "INTROSPECTION_DISABLED"},
		{"secret: the gateway", secret, gw, entitiesQuery, 200, ""},
		{"secret: the gateway's _service", secret, gw, serviceQuery, 200, ""},
		{"secret: without it", secret, nil, entitiesQuery, 200, "FEDERATION_FORBIDDEN"},
		{"secret: without it, other queries answer", secret, nil, clientQuery, 200, ""},
		{"secret: a wrong one", secret, map[string]string{"X-Subgraph-Secret": "not-the-gateway-secret"}, entitiesQuery, 401, "UNAUTHENTICATED"},
		{"secret, apikey: the gateway needs no key", with(secret, apikey), gw, entitiesQuery, 200, ""},
		{"secret, apikey: the gateway forwards a client's query", with(secret, apikey), gw, clientQuery, 200, ""},
		{"secret, apikey: a client's key is not the gateway's secret", with(secret, apikey), key, entitiesQuery, 200, "FEDERATION_FORBIDDEN"},
		{"secret, apikey: neither", with(secret, apikey), nil, entitiesQuery, 401, "UNAUTHENTICATED"},
		{"no secret, apikey: an authenticated gateway", with(map[string]string{"SUBGRAPH_MODE": "true"}, apikey), key, entitiesQuery, 200, ""},
		{"no secret, apikey: no key", with(map[string]string{"SUBGRAPH_MODE": "true"}, apikey), nil, entitiesQuery, 401, "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Env: tt.env})
			r := post(t, s, testkit.QueryBody(tt.query, entitiesVarsFor(tt.query)), tt.headers)
			if r.Status != tt.status || code(t, r) != tt.code {
				t.Fatalf("%d %s, want %d and code %q", r.Status, r.Body, tt.status, tt.code)
			}
			if tt.code == "" && tt.query == serviceQuery && !strings.Contains(string(r.Data), `@key(fields: \"typeId\")`) {
				t.Errorf("_service's SDL has no OpportunityType key: %s", r.Data)
			}
		})
	}
}

func entitiesVarsFor(query string) map[string]any {
	if query == entitiesQuery {
		return entitiesVars
	}
	return nil
}

// TestEntitiesAreTheDirectAnswer: each entity _entities resolves is what
// opportunityType(typeId:) answers for its key, in the representations'
// order, null for a key that names no type; and its answer is never stored
// for others (a client sending the gateway's exact bytes without its secret
// is refused, not answered from the response cache).
func TestEntitiesAreTheDirectAnswer(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret, "RESPONSE_CACHE": "true"}})
	gw := map[string]string{"X-Subgraph-Secret": gatewaySecret}
	body := testkit.QueryBody(entitiesQuery, entitiesVars)
	var got struct {
		Entities []json.RawMessage `json:"_entities"`
	}
	post(t, s, body, gw).Decode(t, &got)
	post(t, s, body, gw).Decode(t, &got) // twice: a stored answer would be served the second time
	reps := entitiesVars["r"].([]any)
	if len(got.Entities) != len(reps) {
		t.Fatalf("%d entities for %d representations", len(got.Entities), len(reps))
	}
	for i, rep := range reps {
		id := rep.(map[string]any)["typeId"]
		var direct struct {
			Type json.RawMessage `json:"opportunityType"`
		}
		post(t, s, testkit.QueryBody(fmt.Sprintf(`{ opportunityType(typeId: %d) { __typename typeId typeName stages { id name } } }`, id), nil), nil).Decode(t, &direct)
		if string(got.Entities[i]) != string(direct.Type) {
			t.Errorf("entity %d (typeId %v) = %s, opportunityType answers %s", i, id, got.Entities[i], direct.Type)
		}
	}
	if r := post(t, s, body, nil); code(t, r) != "FEDERATION_FORBIDDEN" {
		t.Errorf("the gateway's bytes without its secret: %s", r.Body)
	}
}

// TestSubgraphTrustedDocuments: under PERSISTED_QUERIES_ONLY, an
// authenticated gateway's federation operations run unlisted (a gateway
// plans them per query); nothing else does, and nobody else's.
func TestSubgraphTrustedDocuments(t *testing.T) {
	listed := clientQuery
	trusted := map[string]string{persisted.Hash(listed): listed}
	gw := map[string]string{"X-Subgraph-Secret": gatewaySecret}
	key := map[string]string{"X-API-Key": webKey}
	const mixed = `query($r: [_Any!]!) { _entities(representations: $r) { __typename } opportunityTypes { typeName } }`
	tests := []struct {
		name    string
		env     map[string]string
		headers map[string]string
		query   string
		code    string
	}{
		{"secret: the gateway's _entities", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, gw, entitiesQuery, ""},
		{"secret: the gateway's _service", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, gw, serviceQuery, ""},
		{"secret: a listed document", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, gw, listed, ""},
		{"secret: the gateway's other unlisted documents", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, gw, `{ opportunityTypes { typeName } }`, "PERSISTED_QUERY_NOT_ALLOWED"},
		{"secret: _entities beside other fields", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, gw, mixed, "PERSISTED_QUERY_NOT_ALLOWED"},
		{"secret: _entities without it", map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}, nil, entitiesQuery, "PERSISTED_QUERY_NOT_ALLOWED"},
		{"apikey: an authenticated gateway", map[string]string{"SUBGRAPH_MODE": "true", "AUTH_MODE": "apikey", "AUTH_API_KEYS": "gw:" + webKey}, key, entitiesQuery, ""},
		{"open: like any query, listed or not", map[string]string{"SUBGRAPH_MODE": "true"}, nil, entitiesQuery, "PERSISTED_QUERY_NOT_ALLOWED"},
		{"off: not listed", nil, gw, entitiesQuery, "PERSISTED_QUERY_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Env: tt.env, Trusted: trusted})
			vars := entitiesVarsFor(tt.query)
			if tt.query == mixed {
				vars = entitiesVars
			}
			if r := post(t, s, testkit.QueryBody(tt.query, vars), tt.headers); code(t, r) != tt.code {
				t.Fatalf("%d %s, want code %q", r.Status, r.Body, tt.code)
			}
		})
	}
}

// TestSubgraphAPQ: a document the gateway registered by APQ runs by its hash
// for the gateway; for a client without the secret the hash finds the
// document, and the gateway rules still refuse it.
func TestSubgraphAPQ(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret}})
	gw := map[string]string{"X-Subgraph-Secret": gatewaySecret}
	hash := persisted.Hash(entitiesQuery)
	byHash := func(query string) string {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": entitiesVars, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}})
		return string(b)
	}
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		code    string
	}{
		{"the gateway, by hash before registering", byHash(""), gw, "PERSISTED_QUERY_NOT_FOUND"},
		{"the gateway registers", byHash(entitiesQuery), gw, ""},
		{"the gateway, by hash", byHash(""), gw, ""},
		{"a client, by the gateway's hash", byHash(""), nil, "FEDERATION_FORBIDDEN"},
	}
	for _, tt := range tests { // in order: each step builds on the last
		if r := post(t, s, tt.body, tt.headers); code(t, r) != tt.code {
			t.Fatalf("%s: %d %s, want code %q", tt.name, r.Status, r.Body, tt.code)
		}
	}
}

// TestSubgraphRateLimit: behind the gateway each client it names in
// SUBGRAPH_CLIENT_HEADER has its own budget, and the name is believed only
// with the gateway's secret: anyone else naming a client spends their own.
func TestSubgraphRateLimit(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"SUBGRAPH_MODE": "true", "SUBGRAPH_SECRET": gatewaySecret, "SUBGRAPH_CLIENT_HEADER": "X-Client-Id",
		"RATE_LIMIT": "2", "RATE_LIMIT_WINDOW": "1h",
	}})
	body := testkit.QueryBody(entitiesQuery, entitiesVars)
	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"client a, 1", map[string]string{"X-Subgraph-Secret": gatewaySecret, "X-Client-Id": "web-a"}, 200},
		{"client a, 2", map[string]string{"X-Subgraph-Secret": gatewaySecret, "X-Client-Id": "web-a"}, 200},
		{"client a, over", map[string]string{"X-Subgraph-Secret": gatewaySecret, "X-Client-Id": "web-a"}, 429},
		{"client b has its own budget", map[string]string{"X-Subgraph-Secret": gatewaySecret, "X-Client-Id": "web-b"}, 200},
		{"naming b without the secret spends the caller's own, 1", map[string]string{"X-Client-Id": "web-b"}, 200},
		{"naming b without the secret spends the caller's own, 2", map[string]string{"X-Client-Id": "web-b"}, 200},
		{"naming b without the secret spends the caller's own, over", map[string]string{"X-Client-Id": "web-b"}, 429},
		{"client b still has one", map[string]string{"X-Subgraph-Secret": gatewaySecret, "X-Client-Id": "web-b"}, 200},
	}
	for _, tt := range tests { // in order: the budgets carry over
		resp, raw := testkit.PostJSON(t, s.Server.URL+"/query", body, tt.headers)
		if resp.StatusCode != tt.status {
			t.Fatalf("%s: %d %s, want %d", tt.name, resp.StatusCode, raw, tt.status)
		}
		if tt.status == http.StatusTooManyRequests {
			testkit.AssertRefusal(t, resp, raw, "RATE_LIMITED")
		}
	}
}

// TestEntitiesCost: a legal _entities query whose answer would be many
// copies of the configuration is refused before execution, as any costly
// query is.
func TestEntitiesCost(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"SUBGRAPH_MODE": "true"}})
	reps := make([]any, 5000)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "OpportunityType", "typeId": 1001}
	}
	r := post(t, s, testkit.QueryBody(`query($r: [_Any!]!) { _entities(representations: $r) { ... on OpportunityType { typeId typeName stages { id name children { id name } } fields { id name options { id name } } } } }`, map[string]any{"r": reps}), nil)
	if c := code(t, r); c != "COST_LIMIT_EXCEEDED" && c != "RESPONSE_TOO_LARGE" {
		t.Fatalf("%d %.500s, want COST_LIMIT_EXCEEDED or RESPONSE_TOO_LARGE", r.Status, r.Body)
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Errorf("a refused operation answered data: %.200s", r.Data)
	}
}
