package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// demoWith returns the demo dataset after edit, which changes its types as
// decoded with numbers kept exact (json.Number), so that an id such as
// 2^53+1 reaches the service as the upstream would write it.
func demoWith(t *testing.T, edit func(types []any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(simulator.DemoDataset()))
	dec.UseNumber()
	var types []any
	if err := dec.Decode(&types); err != nil {
		t.Fatal(err)
	}
	edit(types)
	b, err := json.Marshal(types)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// numberVendorChildStage gives the vendor's documented sample's child stage
// the id 1: the sample's ids are all the placeholder 0, so verbatim its child
// repeats its parent's id, a stage cycle. The child's is the sample's second
// id.
func numberVendorChildStage(t *testing.T, sample []byte) []byte {
	t.Helper()
	id := []byte(`"id": 0,`)
	first := bytes.Index(sample, id)
	child := first + 1 + bytes.Index(sample[first+1:], id)
	if first < 0 || child <= first {
		t.Fatal("the vendor's sample has no second id")
	}
	return slices.Concat(sample[:child], []byte(`"id": 1,`), sample[child+len(id):])
}

// obj walks the decoded dataset: every step is a key of an object or an index
// of a list.
func obj(v any, steps ...any) map[string]any {
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			v = v.(map[string]any)[s]
		case int:
			v = v.([]any)[s]
		}
	}
	return v.(map[string]any)
}

// badAnswers are upstream answers that break one rule each, on the demo
// dataset's ids: type 1001's stages are 2001 (children 2011, 2012 with
// children 2013, 2014), 2002, …; its fields 101, 102, …
func badAnswers(t *testing.T) []struct {
	rule, where string
	data        []byte
} {
	chain := func(n int) []any { // n stages nested one per level
		var top any
		for id := 9000 + n; id > 9000; id-- {
			s := map[string]any{"id": id, "name": "层", "children": []any{}}
			if top != nil {
				s["children"] = []any{top}
			}
			top = s
		}
		return []any{top}
	}
	return []struct {
		rule, where string
		data        []byte
	}{
		{"duplicate_type_id", "type 1001", demoWith(t, func(ts []any) { obj(ts, 2)["typeId"] = 1001 })},
		{"duplicate_stage_id", "type 1001, stage 2011", demoWith(t, func(ts []any) { obj(ts, 0, "stages", 1)["id"] = 2011 })},
		{"stage_cycle", "type 1001, stage 2001 > 2012 > 2001", demoWith(t, func(ts []any) {
			obj(ts, 0, "stages", 0, "children", 1, "children", 0)["id"] = 2001
		})},
		{"duplicate_field_id", "type 1001, field 101", demoWith(t, func(ts []any) { obj(ts, 0, "fields", 1)["id"] = 101 })},
		{"int_out_of_range", "type 1002, stage 2101", demoWith(t, func(ts []any) {
			obj(ts, 1, "stages", 0)["possibility"] = json.Number("3000000000")
		})},
		{"int_out_of_range", "type 9007199254740993", demoWith(t, func(ts []any) { obj(ts, 3)["typeId"] = json.Number("9007199254740993") })},
		{"stage_depth", "", demoWith(t, func(ts []any) { obj(ts, 0, "stages", 2)["children"] = chain(33) })},
		{"empty", "", []byte(`[]`)},
		{"stage_cycle", "type 0, stage 0 > 0", vendorSample(t)},
	}
}

// vendorSample is the vendor's documented sample, verbatim: a stage cycle.
func vendorSample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/vendor-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func caseName(rule, where string) string {
	if where == "" {
		return rule
	}
	return rule + " at " + where
}

// typeIDs asks for every type's id; the answer, its stale flag, and the
// errors' codes.
func typeIDs(t *testing.T, s *teststack.Stack) (ids []int, stale bool, codes []string) {
	t.Helper()
	resp := s.Query(t, `{ opportunityTypes { typeId } }`, nil)
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	if len(resp.Errors) == 0 {
		var got struct{ OpportunityTypes []struct{ TypeID int } }
		resp.Decode(t, &got)
		ids = []int{}
		for _, typ := range got.OpportunityTypes {
			ids = append(ids, typ.TypeID)
		}
	}
	if cfg, ok := resp.Extensions["opportunityConfig"].(map[string]any); ok {
		stale, _ = cfg["stale"].(bool)
	}
	return ids, stale, codes
}

// readiness GETs /readyz and returns its status and the refused answer's
// rule, if it reports one.
func readiness(t *testing.T, s *teststack.Stack) (status int, rule string) {
	t.Helper()
	resp, body := testkit.Get(t, s.Server.URL+"/readyz", nil)
	var got struct {
		RefusedAnswer struct{ Rule string } `json:"refusedAnswer"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("/readyz: %v: %s", err, body)
	}
	return resp.StatusCode, got.RefusedAnswer.Rule
}

// metrics returns the service's metrics text.
func metrics(s *teststack.Stack) string {
	w := httptest.NewRecorder()
	s.Service.Metrics.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return w.Body.String()
}

// TestUpstreamAnswerBreakingARuleKeepsTheGoodCopy: each rule, through the
// simulator and the HTTP handler. A refresh whose answer breaks it leaves the
// copy served (marked stale), /readyz stays 200 and reports the rule, the
// rule is counted, and the log line names the rule and where.
func TestUpstreamAnswerBreakingARuleKeepsTheGoodCopy(t *testing.T) {
	for _, tt := range badAnswers(t) {
		t.Run(caseName(tt.rule, tt.where), func(t *testing.T) {
			s := teststack.New(t, teststack.Options{})
			want, _, _ := typeIDs(t, s)
			if len(want) != 4 {
				t.Fatalf("demo types = %v", want)
			}

			s.Sim.SetDataset(tt.data)
			s.Expire(t, 31*time.Second)
			got, stale, codes := typeIDs(t, s)
			if len(codes) > 0 || len(got) != len(want) || !stale {
				t.Errorf("after the bad answer: types %v, stale %v, errors %v; want the 4 demo types, stale", got, stale, codes)
			}
			if status, rule := readiness(t, s); status != http.StatusOK || rule != tt.rule {
				t.Errorf("/readyz = %d reporting rule %q, want 200 reporting %q", status, rule, tt.rule)
			}
			if m, line := metrics(s), `upstream_refused_answers_total{rule="`+tt.rule+`"} 1`; !strings.Contains(m, line) {
				t.Errorf("metrics lack %s", line)
			}
			logs := s.Logs.String()
			for _, want := range []string{`"msg":"upstream answer refused`, `"rule":"` + tt.rule + `"`, `"where":"` + tt.where} {
				if !strings.Contains(logs, want) {
					t.Errorf("log lacks %s:\n%s", want, logs)
				}
			}

			// The next good answer is taken, and readiness forgets the refusal.
			s.Sim.SetDataset(nil)
			s.Expire(t, time.Second)
			if got, stale, _ := typeIDs(t, s); len(got) != 4 || stale {
				t.Errorf("after a good answer: types %v, stale %v", got, stale)
			}
			if _, rule := readiness(t, s); rule != "" {
				t.Errorf("/readyz still reports rule %q after a good answer", rule)
			}
		})
	}
}

// TestUpstreamAnswerBreakingARuleWithNoCopy: with nothing held, a rule's
// refusal is the request's UPSTREAM_BAD_RESPONSE and /readyz is 503 and says
// why; an empty list is accepted, as it erases nothing.
func TestUpstreamAnswerBreakingARuleWithNoCopy(t *testing.T) {
	for _, tt := range badAnswers(t) {
		t.Run(caseName(tt.rule, tt.where), func(t *testing.T) {
			s := teststack.New(t, teststack.Options{Dataset: tt.data})
			got, _, codes := typeIDs(t, s)
			if tt.rule == "empty" {
				if len(codes) > 0 || got == nil || len(got) != 0 {
					t.Errorf("empty list with no copy: types %v, errors %v; want [] and no error", got, codes)
				}
				return
			}
			if len(codes) != 1 || codes[0] != "UPSTREAM_BAD_RESPONSE" {
				t.Errorf("errors %v, want one UPSTREAM_BAD_RESPONSE", codes)
			}
			if status, rule := readiness(t, s); status != http.StatusServiceUnavailable || rule != tt.rule {
				t.Errorf("/readyz = %d reporting rule %q, want 503 reporting %q", status, rule, tt.rule)
			}
		})
	}
}

// TestUpstreamAllowEmpty: an empty list replaces a copy that has types only
// once the upstream has answered empty continuously for UPSTREAM_ALLOW_EMPTY,
// never when it is off; an answer with types restarts the run.
func TestUpstreamAllowEmpty(t *testing.T) {
	type step struct {
		advance   time.Duration // on the configuration's clock, then refresh
		empty     bool          // the upstream answers [] (else the demo dataset)
		wantTypes int
	}
	tests := []struct {
		name  string
		allow string // UPSTREAM_ALLOW_EMPTY; "" is the default
		steps []step
	}{
		{"off by default: never", "", []step{
			{31 * time.Second, true, 4},
			{20 * time.Minute, true, 4},
			{30 * time.Minute, true, 4},
		}},
		{"after 10 minutes of empty answers", "10m", []step{
			{31 * time.Second, true, 4},
			{9 * time.Minute, true, 4},
			{61 * time.Second, true, 0},
			{31 * time.Second, false, 4},
		}},
		{"an answer with types restarts the run", "10m", []step{
			{31 * time.Second, true, 4},
			{5 * time.Minute, false, 4},
			{6 * time.Minute, true, 4}, // 11 min after the first empty answer, 6 after the last good one
			{9 * time.Minute, true, 4},
			{2 * time.Minute, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.allow != "" {
				env["UPSTREAM_ALLOW_EMPTY"] = tt.allow
			}
			s := teststack.New(t, teststack.Options{Env: env})
			if got, _, _ := typeIDs(t, s); len(got) != 4 {
				t.Fatalf("demo types = %v", got)
			}
			for i, st := range tt.steps {
				if st.empty {
					s.Sim.SetDataset([]byte(`[]`))
				} else {
					s.Sim.SetDataset(nil)
				}
				s.Expire(t, st.advance)
				got, _, codes := typeIDs(t, s)
				if len(codes) > 0 || len(got) != st.wantTypes {
					t.Errorf("step %d: types %v, errors %v; want %d types", i, got, codes, st.wantTypes)
				}
			}
		})
	}
}
