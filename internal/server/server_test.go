package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/server"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// listKeys are the upstream keys holding lists; the schema serves null as [].
var listKeys = map[string]bool{
	"stages": true, "fields": true, "children": true, "customerFields": true,
	"requiredOppTypeFields": true, "options": true, "remindAfterDays": true,
}

// normalise turns the upstream's JSON into what the schema promises: null
// lists become [], and children below the depth the query asks for are
// dropped (after checking there are none, so the comparison stays complete).
func normalise(t *testing.T, v any, stageDepth int) any {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if listKeys[k] && x == nil {
				x = []any{}
			}
			depth := stageDepth
			if k == "stages" || k == "children" {
				depth++
			}
			if k == "children" && stageDepth == 4 {
				if len(x.([]any)) > 0 {
					t.Fatalf("dataset nests stages deeper than the query asks for")
				}
				continue
			}
			out[k] = normalise(t, x, depth)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalise(t, x, stageDepth)
		}
		return out
	default:
		return v
	}
}

// firstDifference names the first path at which got and want differ.
func firstDifference(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", path, got)
		}
		for k := range w {
			if _, ok := g[k]; !ok {
				return fmt.Sprintf("%s.%s: missing from the response", path, k)
			}
			if d := firstDifference(path+"."+k, g[k], w[k]); d != "" {
				return d
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s.%s: not in the upstream data", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		for i := range w {
			if d := firstDifference(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
	default:
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%s: got %#v, want %#v", path, got, want)
		}
	}
	return ""
}

func TestEveryUpstreamFieldIsServed(t *testing.T) {
	vendorSample, err := os.ReadFile("../../testdata/vendor-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	// Its ids are all the placeholder 0, so its child stage repeats its
	// parent's, which is refused as a stage cycle (upstream_rules_test.go):
	// the child is numbered 1, the rest served as the vendor wrote it.
	vendorSample = numberVendorChildStage(t, vendorSample)
	tests := []struct {
		name    string
		dataset []byte
	}{
		{"demo dataset", simulator.DemoDataset()},
		{"vendor's documented sample", vendorSample},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Dataset: tt.dataset})
			var got struct {
				OpportunityTypes any `json:"opportunityTypes"`
			}
			s.Query(t, testkit.EveryUpstreamField, nil).Decode(t, &got)

			var upstream any
			if err := json.Unmarshal(tt.dataset, &upstream); err != nil {
				t.Fatal(err)
			}
			want := normalise(t, upstream, 0)
			if d := firstDifference("opportunityTypes", got.OpportunityTypes, want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// navDataset is small enough to reason about: type 1 has stages out of rank
// order, three levels deep, and required fields that do and do not exist;
// type 2 reuses field id 100 with another name.
const navDataset = `[
 {"typeName":"一","typeId":1,"defaultType":false,"stages":[
   {"id":10,"name":"A","rank":2,"children":[
     {"id":12,"name":"A2","rank":2,"children":null},
     {"id":11,"name":"A1","rank":1,"children":[{"id":111,"name":"A1a","rank":1}],
      "requiredOppTypeFields":[{"id":100,"name":"金额"},{"id":999,"name":"已删除"}]}]},
   {"id":20,"name":"B","rank":1,"children":[]}],
  "fields":[{"id":100,"name":"金额","type":6,"minUnicode":null,"pattern":null},{"id":101,"name":"备注","type":2,"minUnicode":1,"pattern":"^.+$"}]},
 {"typeName":"二","typeId":2,"defaultType":true,"stages":null,
  "fields":[{"id":100,"name":"别的金额","type":6}]}
]`

func TestNavigation(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(navDataset)})
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{
			"allStages is depth first in rank order",
			`{ opportunityType(typeId: 1) { allStages { name depth } } }`,
			`{"opportunityType":{"allStages":[{"name":"B","depth":0},{"name":"A","depth":0},{"name":"A1","depth":1},{"name":"A1a","depth":2},{"name":"A2","depth":1}]}}`,
		},
		{
			"stages keep upstream order",
			`{ opportunityType(typeId: 1) { stages { name children { name } } } }`,
			`{"opportunityType":{"stages":[{"name":"A","children":[{"name":"A2"},{"name":"A1"}]},{"name":"B","children":[]}]}}`,
		},
		{
			"stage by id at depth with parent, path and type",
			`{ opportunityType(typeId: 1) { stage(id: 111) { name depth parent { name } path { name } opportunityType { typeId } } } }`,
			`{"opportunityType":{"stage":{"name":"A1a","depth":2,"parent":{"name":"A1"},"path":[{"name":"A"},{"name":"A1"},{"name":"A1a"}],"opportunityType":{"typeId":1}}}}`,
		},
		{
			"top-level stage has no parent",
			`{ opportunityType(typeId: 1) { stage(id: 20) { parent { name } path { name } } } }`,
			`{"opportunityType":{"stage":{"parent":null,"path":[{"name":"B"}]}}}`,
		},
		{
			"unknown stage and field are null",
			`{ opportunityType(typeId: 1) { stage(id: 5) { name } field(id: 5) { name } } }`,
			`{"opportunityType":{"stage":null,"field":null}}`,
		},
		{
			"field by id",
			`{ opportunityType(typeId: 1) { field(id: 101) { name minUnicode pattern } } }`,
			`{"opportunityType":{"field":{"name":"备注","minUnicode":1,"pattern":"^.+$"}}}`,
		},
		{
			"required field resolves within its own type, null when missing",
			`{ opportunityType(typeId: 1) { stage(id: 11) { requiredOppTypeFields { id field { id name type } } } } }`,
			`{"opportunityType":{"stage":{"requiredOppTypeFields":[{"id":100,"field":{"id":100,"name":"金额","type":6}},{"id":999,"field":null}]}}}`,
		},
		{
			"unknown type is null, not an error",
			`{ opportunityType(typeId: 404) { typeName } }`,
			`{"opportunityType":null}`,
		},
		{
			"default type, null stages served as []",
			`{ defaultOpportunityType { typeId stages { id } allStages { id } } }`,
			`{"defaultOpportunityType":{"typeId":2,"stages":[],"allStages":[]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(t, tt.query, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("errors: %s", r.Body)
			}
			var got, want any
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", r.Data, tt.want)
			}
		})
	}
}

func TestNoDefaultTypeIsNull(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(`[{"typeName":"x","typeId":1,"defaultType":false}]`)})
	r := s.Query(t, `{ defaultOpportunityType { typeId } }`, nil)
	if len(r.Errors) > 0 || string(r.Data) != `{"defaultOpportunityType":null}` {
		t.Fatalf("got %s", r.Body)
	}
}

// twentyLookups asks for 20 types by alias (three of them unknown), each with
// the full definitions of the fields its stages require.
func twentyLookups() string {
	var b strings.Builder
	b.WriteString("query Lookups($missing: Int!) {\n")
	ids := []int{1001, 1002, 1003, 1004}
	for i := range 17 {
		fmt.Fprintf(&b, "  t%d: opportunityType(typeId: %d) { typeId stages { requiredOppTypeFields { id field { id name options { name } } } children { requiredOppTypeFields { id field { id name } } } } }\n", i, ids[i%len(ids)])
	}
	b.WriteString("  u1: opportunityType(typeId: 1) { typeId }\n  u2: opportunityType(typeId: -7) { typeId }\n  u3: opportunityType(typeId: $missing) { typeId }\n}")
	return b.String()
}

func TestOneUpstreamCallForABatchedQuery(t *testing.T) {
	// 20 lookups are 20 root fields: over the default MAX_ROOT_FIELDS of 10,
	// so this deployment raises it, as one whose front-end batches would.
	s := teststack.New(t, teststack.Options{Env: map[string]string{"MAX_ROOT_FIELDS": "20"}})
	r := s.Query(t, twentyLookups(), map[string]any{"missing": 999999})
	var got map[string]*struct {
		TypeID int `json:"typeId"`
		Stages []struct {
			RequiredOppTypeFields []struct {
				ID    int `json:"id"`
				Field *struct {
					ID int `json:"id"`
				} `json:"field"`
			} `json:"requiredOppTypeFields"`
		} `json:"stages"`
	}
	r.Decode(t, &got)
	if n := s.Sim.Calls(); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
	if len(got) != 20 {
		t.Fatalf("got %d aliases, want 20", len(got))
	}
	resolved := 0
	for alias, typ := range got {
		if strings.HasPrefix(alias, "u") {
			if typ != nil {
				t.Errorf("%s: unknown type should be null, got %+v", alias, typ)
			}
			continue
		}
		if typ == nil {
			t.Fatalf("%s: known type is null", alias)
		}
		for _, st := range typ.Stages {
			for _, req := range st.RequiredOppTypeFields {
				if req.Field == nil || req.Field.ID != req.ID {
					t.Errorf("%s: required field %d resolved to %+v", alias, req.ID, req.Field)
				}
				resolved++
			}
		}
	}
	if resolved == 0 {
		t.Fatal("the demo dataset has no required fields to resolve; the test proves nothing")
	}
}

func TestConcurrentColdRequestsShareOneUpstreamCall(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	// The latency keeps the first call in flight while the others arrive;
	// any that arrive later find a fresh cache, so the count is exact either way.
	s.Sim.SetLatency(100 * time.Millisecond)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Go(func() {
			r := s.Query(t, `{ opportunityTypes { typeId } }`, nil)
			if len(r.Errors) > 0 || !strings.Contains(string(r.Data), "1001") {
				errs <- string(r.Body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("bad response: %s", e)
	}
	if c := s.Sim.Calls(); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}
}

func TestUpstreamFailuresBecomeCodedErrors(t *testing.T) {
	wrongSecret := testkit.Creds()
	wrongSecret.AppSecret = signature.NewSecret("not-the-secret")
	tests := []struct {
		name         string
		fault        simulator.Fault
		creds        *signature.Credentials
		down         bool
		wantCode     string
		wantUpstream float64 // upstream's code, 0 when none
	}{
		{name: "5xx", fault: simulator.FaultServerError, wantCode: "UPSTREAM_UNAVAILABLE"},
		{name: "timeout", fault: simulator.FaultTimeout, wantCode: "UPSTREAM_UNAVAILABLE"},
		{name: "connection refused", down: true, wantCode: "UPSTREAM_UNAVAILABLE"},
		{name: "malformed JSON", fault: simulator.FaultMalformedJSON, wantCode: "UPSTREAM_BAD_RESPONSE"},
		{name: "data of the wrong shape", fault: simulator.FaultWrongShape, wantCode: "UPSTREAM_BAD_RESPONSE"},
		{name: "non-zero code", fault: simulator.FaultRejected, wantCode: "UPSTREAM_REJECTED", wantUpstream: simulator.CodeBusy},
		{name: "bad signature", creds: &wrongSecret, wantCode: "UPSTREAM_REJECTED", wantUpstream: simulator.CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"UPSTREAM_TIMEOUT": "300ms"}
			if tt.creds != nil {
				env["UPSTREAM_APP_SECRET"] = tt.creds.AppSecret.Reveal()
			}
			s := teststack.New(t, teststack.Options{Env: env})
			s.Sim.SetFault(tt.fault)
			if tt.down {
				s.Upstream.Close()
			}
			r := s.Query(t, `{ opportunityTypes { typeId } }`, nil)
			if r.Status != http.StatusOK {
				t.Errorf("HTTP status %d, want 200 (a field error)", r.Status)
			}
			if string(r.Data) != "null" || len(r.Errors) != 1 {
				t.Fatalf("want data null and one error (never an empty list), got %s", r.Body)
			}
			e := r.Errors[0]
			if e.Extensions["code"] != tt.wantCode {
				t.Errorf("code %v, want %s: %s", e.Extensions["code"], tt.wantCode, r.Body)
			}
			if got, _ := e.Extensions["upstreamCode"].(float64); got != tt.wantUpstream {
				t.Errorf("upstreamCode %v, want %v", e.Extensions["upstreamCode"], tt.wantUpstream)
			}
			if tt.wantUpstream != 0 && e.Extensions["upstreamMessage"] == "" {
				t.Errorf("upstream message missing: %s", r.Body)
			}
			if strings.Contains(e.Message, "127.0.0.1") || strings.Contains(e.Message, "dial") {
				t.Errorf("network details reach the client: %s", e.Message)
			}
			if len(e.Path) != 1 || e.Path[0] != "opportunityTypes" {
				t.Errorf("path %v, want [opportunityTypes]", e.Path)
			}
			if tt.down || tt.creds != nil {
				return
			}
			// Errors are not cached: once the fault clears, the next request is answered.
			s.Sim.SetFault(simulator.FaultNone)
			if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); len(r.Errors) > 0 {
				t.Fatalf("after recovery: %s", r.Body)
			}
		})
	}
}

func TestStaleIfError(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	const q = `{ opportunityTypes { typeId } }`
	if r := s.Query(t, q, nil); len(r.Errors) > 0 || r.Extensions != nil {
		t.Fatalf("fresh answer: %s", r.Body)
	}

	s.Sim.SetFault(simulator.FaultServerError)
	s.Expire(t, 45*time.Second) // past the 30s TTL: the refresh fails
	r := s.Query(t, q, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), "1001") {
		t.Fatalf("stale copy not served: %s", r.Body)
	}
	fresh, _ := r.Extensions["opportunityConfig"].(map[string]any)
	if fresh["stale"] != true || fresh["ageSeconds"] != float64(45) || fresh["version"] == "" {
		t.Errorf("extensions.opportunityConfig = %v, want stale true, ageSeconds 45, a version", r.Extensions)
	}

	s.Clock.Advance(time.Hour) // past TTL + max-stale
	r = s.Query(t, q, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("past max-stale: want UPSTREAM_UNAVAILABLE, got %s", r.Body)
	}

	s.Sim.SetFault(simulator.FaultNone)
	if r := s.Query(t, q, nil); len(r.Errors) > 0 || r.Extensions != nil {
		t.Fatalf("after recovery: %s", r.Body)
	}
	// One refresh per expired request (each may retry inside the client).
	if c := s.Service.Config.Fetches(); c != 4 {
		t.Errorf("refreshes = %d, want 4 (one per expired request)", c)
	}
}

func TestConfigChangeIsServedAfterTTL(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(`[{"typeName":"旧","typeId":1}]`)})
	const q = `{ opportunityType(typeId: 1) { typeName } }`
	if r := s.Query(t, q, nil); !strings.Contains(string(r.Data), "旧") {
		t.Fatalf("got %s", r.Body)
	}
	s.Sim.SetDataset([]byte(`[{"typeName":"新","typeId":1}]`))
	if r := s.Query(t, q, nil); !strings.Contains(string(r.Data), "旧") {
		t.Fatalf("within TTL the cached copy should be served, got %s", r.Body)
	}
	s.Expire(t, 31*time.Second)
	if r := s.Query(t, q, nil); !strings.Contains(string(r.Data), "新") {
		t.Fatalf("after TTL the new configuration should be served, got %s", r.Body)
	}
}

func TestGETAndPlayground(t *testing.T) {
	// PLAYGROUND=true: against an upstream (the stack's simulator) it is
	// off unless asked for.
	s := teststack.New(t, teststack.Options{Env: map[string]string{"PLAYGROUND": "true"}})
	resp, raw := testkit.Get(t, s.Server.URL+"/query?query="+"%7B%20defaultOpportunityType%20%7B%20typeName%20%7D%20%7D", nil)
	var body struct {
		Data struct {
			Default struct {
				TypeName string `json:"typeName"`
			} `json:"defaultOpportunityType"`
		} `json:"data"`
	}
	err := json.Unmarshal([]byte(raw), &body)
	if err != nil || resp.StatusCode != http.StatusOK || body.Data.Default.TypeName == "" {
		t.Fatalf("GET /query: %d %v %+v", resp.StatusCode, err, body)
	}

	resp, _ = testkit.Get(t, s.Server.URL+"/", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestBadQueriesAreGraphQLErrors(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		wantCode string
	}{
		{"syntax error", `{ opportunityTypes { `, nil, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", `{ opportunityTypes { nope } }`, nil, "GRAPHQL_VALIDATION_FAILED"},
		{"missing argument", `{ opportunityType { typeId } }`, nil, "GRAPHQL_VALIDATION_FAILED"},
		{"wrong variable type", `query($id: Int!) { opportunityType(typeId: $id) { typeId } }`, map[string]any{"id": "abc"}, "GRAPHQL_VALIDATION_FAILED"},
		{"fragment cycle", `fragment A on Stage { children { ...B } } fragment B on Stage { children { ...A } } { opportunityTypes { stages { ...A } } }`, nil, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(t, tt.query, tt.vars)
			if r.Status >= 500 || len(r.Errors) == 0 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if r.Errors[0].Extensions["code"] != tt.wantCode {
				t.Errorf("code %v, want %s", r.Errors[0].Extensions["code"], tt.wantCode)
			}
		})
	}
	// The service keeps serving.
	if r := s.Query(t, `{ opportunityTypes { typeId } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("after bad queries: %s", r.Body)
	}
	if c := s.Sim.Calls(); c != 1 {
		t.Errorf("upstream calls = %d; bad queries must not reach the upstream", c)
	}
}

func TestOpenBreakerServesStaleWithoutCallingUpstream(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	const q = `{ opportunityTypes { typeId } }`
	if r := s.Query(t, q, nil); len(r.Errors) > 0 {
		t.Fatalf("fresh: %s", r.Body)
	}
	s.Sim.SetFault(simulator.FaultServerError)
	for range 5 { // BREAKER_FAILURES (5 by default) failed refreshes open the breaker
		s.Expire(t, 31*time.Second)
		if r := s.Query(t, q, nil); r.Extensions["opportunityConfig"] == nil {
			t.Fatalf("want a stale answer: %s", r.Body)
		}
	}
	calls := s.Sim.Calls()
	s.Expire(t, 31*time.Second)
	r := s.Query(t, q, nil)
	if len(r.Errors) > 0 || r.Extensions["opportunityConfig"] == nil {
		t.Fatalf("breaker open: want the stale copy, got %s", r.Body)
	}
	if got := s.Sim.Calls(); got != calls {
		t.Errorf("upstream called %d more times while the breaker is open", got-calls)
	}
}

// TestMemoryLimit: the soft memory limit is what the configuration lets the
// service hold, plus its headroom: 256 MiB with the defaults (each open
// stream adds server.StreamMemory: TestStreamsGrowTheMemoryLimit).
func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int64
	}{
		{"defaults", nil, 256 << 20},
		{"no response cache", map[string]string{"RESPONSE_CACHE": "false"}, 224 << 20},
		{"a larger execution budget", map[string]string{"EXECUTION_MEMORY": "536870912"}, 640 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := server.MemoryLimit(cfg); got != tt.want {
				t.Fatalf("%d MiB, want %d MiB", got>>20, tt.want>>20)
			}
		})
	}
}
