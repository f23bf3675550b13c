package endpoint_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// TestFastPathAnswersAsGqlgen: the service with the fast path answers every
// benchmark query, a few edge cases and a stale answer with the bytes of the
// service without it (FAST_PATH=false: gqlgen executes everything), through
// the whole HTTP path; internal/fastpath's own tests and fuzz target prove the
// plans against gqlgen case by case.
func TestFastPathAnswersAsGqlgen(t *testing.T) {
	stacks := map[string]*teststack.Stack{}
	for _, fast := range []string{"true", "false"} {
		// No response cache: every answer is executed.
		stacks[fast] = teststack.New(t, teststack.Options{Env: map[string]string{"FAST_PATH": fast}})
	}
	queries := benchmarkQueries(t)
	queries["every upstream field"] = testkit.EveryUpstreamField
	queries["missing type"] = `{ opportunityType(typeId: 999999) { typeName } defaultOpportunityType { typeId } }`
	queries["back-references"] = `{ opportunityTypes { allStages { path { name } parent { id } opportunityType { typeId } requiredOppTypeFields { field { id name } } } } }`
	queries["introspection (gqlgen on both)"] = `{ __type(name: "Stage") { name fields { name } } }`
	queries["validation error"] = `{ opportunityTypes { nope } }`
	answer := func(s *teststack.Stack, q string) []byte {
		_, body := testkit.PostJSON(t, s.Server.URL+"/query", testkit.QueryBody(q, nil), nil)
		return []byte(body)
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			fast, gql := answer(stacks["true"], q), answer(stacks["false"], q)
			if !bytes.Equal(fast, gql) {
				t.Errorf("fast path:\n%s\ngqlgen:\n%s", fast, gql)
			}
		})
	}
	t.Run("null @skip variable (gqlgen answers on both)", func(t *testing.T) {
		body := testkit.QueryBody(`query($s: Boolean) { opportunityTypes { typeId @skip(if: $s) typeName } }`, map[string]any{"s": nil})
		_, fast := testkit.PostJSON(t, stacks["true"].Server.URL+"/query", body, nil)
		_, gql := testkit.PostJSON(t, stacks["false"].Server.URL+"/query", body, nil)
		if fast != gql {
			t.Errorf("fast path:\n%s\ngqlgen:\n%s", fast, gql)
		}
	})
	t.Run("stale", func(t *testing.T) {
		for _, s := range stacks {
			s.Sim.SetFault(simulator.FaultServerError)
			s.Expire(t, 45*time.Second)
		}
		q := queries["lookup"]
		fast, gql := answer(stacks["true"], q), answer(stacks["false"], q)
		if !bytes.Equal(fast, gql) || !bytes.Contains(fast, []byte(`"stale":true`)) {
			t.Errorf("fast path:\n%s\ngqlgen:\n%s", fast, gql)
		}
	})
}
