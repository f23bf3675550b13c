package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Kind is what a request of the soak stands for; the verdict knows which
// answers each may have (judge).
type Kind int

// The kinds.
const (
	KindOrdinary  Kind = iota // the front-end's everyday queries
	KindHeavy                 // the heaviest legitimate query, the same text each time: stored once fresh
	KindVariant               // the heaviest query under a new alias each time: executed every time
	KindBackRef               // a type nested twice in its own stages: must be refused
	KindAbandoned             // a variant the client gives up on mid-request
	numKinds
)

var kindNames = [numKinds]string{"ordinary", "heaviest", "variant", "back-ref", "abandoned"}

func (k Kind) String() string { return kindNames[k] }

// The mixes (-mix).
const (
	MixOrdinary = "ordinary" // the four ordinary queries, a quarter each
	MixHeavy    = "heavy"    // heavyCycle
)

// Queries of the heavy mix, as internal/endpoint's cost tests write them.
const (
	// heavySelection selects every type, every scalar, stages four levels
	// deep, all fields and options (with heavyFragment).
	heavySelection = `opportunityTypes { typeName typeId defaultType allowSkip allowGoBack allowInvalidGoBack allowDeleteOpportunity deleteOpportunityDate
		stages { ...S children { ...S children { ...S children { ...S } } } }
		fields { id name required type scale maxUnicode minUnicode pattern rank options { id name } } }`
	heavyFragment = `fragment S on Stage { id name rank possibility requirement remind remindAfterDays depth
		customerFields { fieldId name type }
		requiredOppTypeFields { id name required rank type maxUnicode scale options { id name } } }`
	// heaviestQuery is the heaviest legitimate query: it must be answered.
	heaviestQuery = "{ " + heavySelection + " } " + heavyFragment
	// backRefQuery nests each type in its own stages, twice, with its
	// fields and options: on any dataset, COST_LIMIT_EXCEEDED.
	backRefQuery = `{ opportunityTypes { typeId stages { id opportunityType { typeId stages { id opportunityType { typeId typeName
		stages { id name } fields { id name options { id name } } } } } } } }`
)

// variantQuery is the heaviest query under the alias v<n>: another answer for
// each n, so that it is executed rather than served from stored bytes.
func variantQuery(n int64) string {
	return fmt.Sprintf("{ v%d: %s } %s", n, heavySelection, heavyFragment)
}

// postBody is the JSON body of a POST of query.
func postBody(query string) string {
	b, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}

// ordinaryRequests are the front-end's queries on a dataset whose type
// typeID has the stage stageID and the field fieldID (the demo's 1004, 2321
// and 401; the large dataset numbers them by type).
func ordinaryRequests(typeID, stageID, fieldID int) []request {
	return []request{
		{
			name:   "dropdown",
			method: http.MethodPost,
			body:   `{"query":"{ opportunityTypes { typeId typeName defaultType } }"}`,
		},
		{
			name:   "pipeline",
			method: http.MethodPost,
			body: `{"query":"query Pipeline($typeId: Int!) { opportunityType(typeId: $typeId) { typeName allowSkip allowGoBack allStages { id name depth possibility path { name } } } }",` +
				`"variables":{"typeId":1001}}`,
		},
		{
			name:   "default-fields",
			method: http.MethodGet, // a GET, as a cacheable front-end call would be
			query: "query=" + url.QueryEscape(
				`{ defaultOpportunityType { typeName fields { id name type required options { id name } minUnicode pattern } } }`),
		},
		{
			name:   "stage-lookup",
			method: http.MethodPost,
			body: fmt.Sprintf(`{"query":"{ opportunityType(typeId: %d) { typeName stage(id: %d) { name depth path { name } } field(id: %d) { name type } } }"}`,
				typeID, stageID, fieldID),
		},
	}
}

// Large dataset ids (simulator.LargeDataset numbers a type's stages and
// fields typeID*1000+1, +2, …): the second stage and first field of 1004.
const (
	largeStageID = 1004002
	largeFieldID = 1004001
)

// heavyCycle is the heavy mix: each client sends it round and round, from
// its own offset, so that at any moment the clients are spread over it. Half
// the requests are the ordinary ones (slots 0-3 are ordinaryRequests' in
// order); the heavy half takes nearly all the service's time.
var heavyCycle = [...]Kind{
	KindOrdinary, KindOrdinary, KindOrdinary, KindOrdinary,
	KindHeavy, KindVariant, KindBackRef, KindAbandoned,
}

// Abandoned requests are given up on after 1–50 ms, varied by the request's
// number: within the time a heavy execution takes, so that the service has
// started on most of them.
const (
	abandonMin  = time.Millisecond
	abandonSpan = 50
)

// abandonDelay is how long the client waits for abandoned request n.
func abandonDelay(n int64) time.Duration {
	return abandonMin + time.Duration(n*37%abandonSpan)*time.Millisecond
}

// clientAddr is the X-Forwarded-For address of soak client c in group g
// (0: the load's clients, 1: the abandoned burst's), so that each looks to
// the rate limits like a user of its own behind the same proxy.
func clientAddr(g, c int) string {
	return fmt.Sprintf("10.%d.%d.%d", g, c/250, c%250+1)
}

// mixer picks each client's requests.
type mixer struct {
	heavy    bool
	ordinary []request
	// next numbers the variants, across clients: each is another answer.
	next func() int64
}

// pick returns the i-th request of a client (i starts at the client's
// number), with the client's address as its X-Forwarded-For in the heavy
// mix.
func (m *mixer) pick(client, i int) request {
	if !m.heavy {
		return m.ordinary[i%len(m.ordinary)]
	}
	slot := i % len(heavyCycle)
	var r request
	switch heavyCycle[slot] {
	case KindOrdinary:
		r = m.ordinary[slot%len(m.ordinary)]
	case KindHeavy:
		r = request{name: "heaviest", kind: KindHeavy, method: http.MethodPost, body: heaviestBody}
	case KindVariant:
		r = request{name: "variant", kind: KindVariant, method: http.MethodPost, body: postBody(variantQuery(m.next()))}
	case KindBackRef:
		r = request{name: "back-ref", kind: KindBackRef, method: http.MethodPost, body: backRefBody}
	case KindAbandoned:
		n := m.next()
		r = request{name: "abandoned", kind: KindAbandoned, method: http.MethodPost, body: postBody(variantQuery(n)), abandonAfter: abandonDelay(n)}
	}
	r.forwardedFor = clientAddr(0, client)
	return r
}

// The bodies that never change, encoded once.
var (
	heaviestBody = postBody(heaviestQuery)
	backRefBody  = postBody(backRefQuery)
)

// judge says whether r is an answer documented for a request of kind k:
// "" when it is, else what it was. Executions may be answered, or refused for
// the client's execution budget (429 RATE_LIMITED) or the service's memory
// (503 OVERLOADED), both with Retry-After, or stopped at REQUEST_TIMEOUT
// (REQUEST_CANCELLED); the back-reference must be refused by its count
// (COST_LIMIT_EXCEEDED, 200 with application/json) and nothing else; only
// an abandoned request may go unanswered. Anything else fails the verdict.
func judge(k Kind, r result) string {
	switch r.outcome {
	case OutcomeAbandoned:
		if k == KindAbandoned {
			return ""
		}
		return "abandoned by the soak" // a bug of the soak, not the service
	case OutcomeNoAnswer:
		return "no answer: " + r.err.Error()
	case OutcomeOther:
		return fmt.Sprintf("HTTP %d without a GraphQL answer", r.status)
	case OutcomeData:
		if k == KindBackRef {
			return "answered with data; must be refused with COST_LIMIT_EXCEEDED"
		}
		return ""
	}
	want := map[string]int{ // code → status
		"RATE_LIMITED":      http.StatusTooManyRequests,
		"OVERLOADED":        http.StatusServiceUnavailable,
		"REQUEST_CANCELLED": http.StatusOK,
	}
	if k == KindBackRef {
		want = map[string]int{"COST_LIMIT_EXCEEDED": http.StatusOK}
	}
	status, ok := want[r.code]
	switch {
	case !ok:
		return fmt.Sprintf("HTTP %d %s", r.status, r.code)
	case r.status != status:
		return fmt.Sprintf("%s with HTTP %d, want %d", r.code, r.status, status)
	case (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && r.retryAfter == "":
		return fmt.Sprintf("HTTP %d %s without Retry-After", r.status, r.code)
	}
	return ""
}

// documented5xx reports whether r is the one 5xx the service documents
// under load: 503 OVERLOADED with Retry-After.
func documented5xx(r result) bool {
	return r.status == http.StatusServiceUnavailable && r.code == "OVERLOADED" && r.retryAfter != ""
}

// answerLabel names r for the per-kind counts: "data", "429 RATE_LIMITED",
// "abandoned", …
func answerLabel(r result) string {
	switch r.outcome {
	case OutcomeData:
		return "data"
	case OutcomeErrors:
		return fmt.Sprintf("%d %s", r.status, r.code)
	case OutcomeOther:
		return fmt.Sprintf("%d other", r.status)
	}
	return r.outcome.String()
}
