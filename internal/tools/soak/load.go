package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// request is one of the queries the clients send, as a front-end would.
type request struct {
	name   string
	method string
	body   string // POST body
	query  string // GET query string
}

// requests are sent round-robin, each client starting at its own offset, so
// the mix is fixed: a quarter each.
var requests = []request{
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
		body:   `{"query":"{ opportunityType(typeId: 1004) { typeName stage(id: 2321) { name depth path { name } } field(id: 401) { name type } } }"}`,
	},
}

// Outcome partitions the requests sent: each ends in exactly one.
type Outcome int

// The outcomes.
const (
	OutcomeData     Outcome = iota // HTTP 200, no errors, data not null
	OutcomeErrors                  // any status, a non-empty errors array
	OutcomeOther                   // answered, but neither of the above (e.g. a 404 page)
	OutcomeNoAnswer                // no HTTP response: connection refused or reset, client timeout
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"data", "errors", "other", "no answer"}

func (o Outcome) String() string { return outcomeNames[o] }

// result is one request's end.
type result struct {
	outcome Outcome
	status  int    // 0 without an answer
	code    string // first error's extensions.code, with OutcomeErrors
	stale   bool   // extensions.opportunityConfig.stale
	err     error  // with OutcomeNoAnswer
}

// tally counts outcomes.
type tally struct {
	Sent     int64
	Outcomes [numOutcomes]int64
	Stale    int64 // answers with data marked stale
}

func (t *tally) add(r result) {
	t.Sent++
	t.Outcomes[r.outcome]++
	if r.stale {
		t.Stale++
	}
}

func (t *tally) merge(o tally) {
	t.Sent += o.Sent
	for i := range t.Outcomes {
		t.Outcomes[i] += o.Outcomes[i]
	}
	t.Stale += o.Stale
}

// stats is what one client saw; drive merges them.
type stats struct {
	total     tally
	byPhase   [len(phases)]tally
	latencies [len(phases)][]time.Duration
	byCode    map[string]int64
	byStatus  map[int]int64
	// fiveXXAfterData counts 5xx answers to requests sent after some request
	// had been answered with data, i.e. while the service held a copy it
	// could have served stale.
	fiveXXAfterData int64
	noAnswerSample  string
}

func newStats() *stats {
	return &stats{byCode: map[string]int64{}, byStatus: map[int]int64{}}
}

func (s *stats) record(r result, latency time.Duration, p int, afterData bool) {
	s.total.add(r)
	s.byPhase[p].add(r)
	s.latencies[p] = append(s.latencies[p], latency)
	if r.outcome == OutcomeErrors {
		s.byCode[r.code]++
	}
	if r.status != 0 {
		s.byStatus[r.status]++
	}
	if r.status >= 500 && afterData {
		s.fiveXXAfterData++
	}
	if r.outcome == OutcomeNoAnswer && s.noAnswerSample == "" {
		s.noAnswerSample = r.err.Error()
	}
}

func (s *stats) merge(o *stats) {
	s.total.merge(o.total)
	for p := range s.byPhase {
		s.byPhase[p].merge(o.byPhase[p])
		s.latencies[p] = append(s.latencies[p], o.latencies[p]...)
	}
	for k, v := range o.byCode {
		s.byCode[k] += v
	}
	for k, v := range o.byStatus {
		s.byStatus[k] += v
	}
	s.fiveXXAfterData += o.fiveXXAfterData
	if s.noAnswerSample == "" {
		s.noAnswerSample = o.noAnswerSample
	}
}

// clientTimeout bounds one request: above the service's REQUEST_TIMEOUT
// (15s by default), so that the service, not the client, ends slow requests.
const clientTimeout = 30 * time.Second

// maxResponse bounds the body read (4 MiB); the largest answer is a few KiB.
const maxResponse = 4 << 20

// load drives requests at the service.
type load struct {
	base      string
	cfg       Config
	client    *http.Client
	firstData atomic.Bool // some request was answered with data
}

func newLoad(base string, cfg Config) *load {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only
	// One kept-alive connection per client, as a browser's would be.
	tr.MaxIdleConns = 2 * cfg.Clients
	tr.MaxIdleConnsPerHost = 2 * cfg.Clients
	return &load{base: base, cfg: cfg, client: &http.Client{Transport: tr, Timeout: clientTimeout}}
}

// check sends each request once and wants data for each: a soak of queries
// the schema refuses would measure nothing.
func (l *load) check(ctx context.Context) error {
	for _, req := range requests {
		r := l.do(ctx, req)
		if r.outcome != OutcomeData {
			if r.err != nil {
				return fmt.Errorf("request %s: %w", req.name, r.err)
			}
			return fmt.Errorf("request %s: HTTP %d, %s %s, want data", req.name, r.status, r.outcome, r.code)
		}
		l.firstData.Store(true)
	}
	return nil
}

// drive runs cfg.Clients clients until then and returns what they saw.
// Requests are attributed to the phase current holds when they are sent; nil
// means phase 0 throughout (the warm-up). Requests in flight at until are
// waited for and counted.
func (l *load) drive(ctx context.Context, until time.Time, current *atomic.Int32) *stats {
	// Only the limiter's waits end at until; requests end with ctx.
	waitCtx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	var limiter *rate.Limiter
	if l.cfg.RPS > 0 {
		limiter = rate.NewLimiter(rate.Limit(l.cfg.RPS), 1)
	}

	all := make([]*stats, l.cfg.Clients)
	var wg sync.WaitGroup
	for c := range all {
		st := newStats()
		all[c] = st
		wg.Go(func() {
			for i := c; ; i++ {
				if limiter != nil && limiter.Wait(waitCtx) != nil {
					return
				}
				if ctx.Err() != nil || !time.Now().Before(until) {
					return
				}
				p := 0
				if current != nil {
					p = int(current.Load())
				}
				afterData := l.firstData.Load()
				start := time.Now()
				r := l.do(ctx, requests[i%len(requests)])
				if ctx.Err() != nil {
					return // interrupted: not an outcome of the service
				}
				st.record(r, time.Since(start), p, afterData)
				if r.outcome == OutcomeData {
					l.firstData.Store(true)
				}
			}
		})
	}
	wg.Wait()
	total := newStats()
	for _, st := range all {
		total.merge(st)
	}
	return total
}

// do sends one request and classifies the answer.
func (l *load) do(ctx context.Context, req request) result {
	var body io.Reader
	target := l.base + "/query"
	if req.method == http.MethodGet {
		target += "?" + req.query
	} else {
		body = strings.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return result{outcome: OutcomeNoAnswer, err: err}
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(hr)
	if err != nil {
		return result{outcome: OutcomeNoAnswer, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		// The status line came, the body did not: the answer is incomplete.
		return result{outcome: OutcomeNoAnswer, err: fmt.Errorf("read body after HTTP %d: %w", resp.StatusCode, err)}
	}
	return classify(resp.StatusCode, b)
}

// classify reads a GraphQL response.
func classify(status int, b []byte) result {
	r := result{status: status, outcome: OutcomeOther}
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
		Extensions struct {
			OpportunityConfig struct {
				Stale bool `json:"stale"`
			} `json:"opportunityConfig"`
		} `json:"extensions"`
	}
	if json.Unmarshal(b, &body) != nil {
		return r
	}
	switch {
	case len(body.Errors) > 0:
		r.outcome = OutcomeErrors
		r.code = body.Errors[0].Extensions.Code
		if r.code == "" {
			r.code = "(no code)"
		}
	case status == http.StatusOK && len(body.Data) > 0 && !bytes.Equal(body.Data, []byte("null")):
		r.outcome = OutcomeData
		r.stale = body.Extensions.OpportunityConfig.Stale
	}
	return r
}

// goroutines reads go_goroutines from the service's /metrics; -1 when the
// service has no such endpoint or metric.
func (l *load) goroutines(ctx context.Context) float64 {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := l.client.Do(hr)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxResponse))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// Text exposition: `go_goroutines 12`, perhaps with labels and a
		// timestamp after the value.
		rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return -1
		}
		n, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return -1
		}
		return n
	}
	return -1
}
