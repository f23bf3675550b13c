package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// request is one of the queries the clients send, as a front-end (or an
// attacker) would.
type request struct {
	name   string
	kind   Kind
	method string
	body   string // POST body
	query  string // GET query string
	// forwardedFor, when set, is sent as X-Forwarded-For: the client's
	// address behind the loopback proxy the service trusts (heavy mix).
	forwardedFor string
	// abandonAfter, when positive, is when the client gives up on the
	// request and closes its connection, answered or not.
	abandonAfter time.Duration
}

// Outcome partitions the requests sent: each ends in exactly one.
type Outcome int

// The outcomes.
const (
	OutcomeData      Outcome = iota // HTTP 200, no errors, data not null
	OutcomeErrors                   // any status, a non-empty errors array
	OutcomeOther                    // answered, but neither of the above (e.g. a 404 page)
	OutcomeNoAnswer                 // no HTTP response: connection refused or reset, client timeout
	OutcomeAbandoned                // the soak gave up on it on purpose (abandonAfter, the burst) before the answer was read
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"data", "errors", "other", "no answer", "abandoned"}

func (o Outcome) String() string { return outcomeNames[o] }

// result is one request's end.
type result struct {
	outcome Outcome
	status  int    // 0 without an answer
	code    string // first error's extensions.code, with OutcomeErrors
	stale   bool   // extensions.opportunityConfig.stale
	// retryAfter is the Retry-After header of a 429 or 503.
	retryAfter string
	err        error // with OutcomeNoAnswer
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

// kindTally counts the requests of one kind by their answer (answerLabel).
type kindTally struct {
	Sent    int64
	Answers map[string]int64
}

func (t *kindTally) add(r result) {
	t.Sent++
	if t.Answers == nil {
		t.Answers = map[string]int64{}
	}
	t.Answers[answerLabel(r)]++
}

func (t *kindTally) merge(o kindTally) {
	t.Sent += o.Sent
	for k, v := range o.Answers {
		if t.Answers == nil {
			t.Answers = map[string]int64{}
		}
		t.Answers[k] += v
	}
}

// stats is what one client saw; drive merges them.
type stats struct {
	total     tally
	byPhase   [len(phases)]tally
	latencies [len(phases)][]time.Duration
	byCode    map[string]int64
	byStatus  map[int]int64
	byKind    [numKinds]kindTally
	// fiveXXAfterData counts 5xx answers, bar the documented 503 OVERLOADED
	// (documented5xx), to requests sent after some request had been
	// answered with data, i.e. while the service held a copy it could have
	// served stale.
	fiveXXAfterData int64
	// unexpected counts the answers judge finds undocumented for their
	// kind; unexpectedSample is the first, with its kind.
	unexpected       int64
	unexpectedSample string
	noAnswerSample   string
}

func newStats() *stats {
	return &stats{byCode: map[string]int64{}, byStatus: map[int]int64{}}
}

func (s *stats) record(kind Kind, r result, latency time.Duration, p int, afterData bool) {
	s.total.add(r)
	s.byPhase[p].add(r)
	s.byKind[kind].add(r)
	if r.outcome != OutcomeAbandoned { // the soak's own delay, not the service's
		s.latencies[p] = append(s.latencies[p], latency)
	}
	if r.outcome == OutcomeErrors {
		s.byCode[r.code]++
	}
	if r.status != 0 {
		s.byStatus[r.status]++
	}
	if r.status >= 500 && afterData && !documented5xx(r) {
		s.fiveXXAfterData++
	}
	if why := judge(kind, r); why != "" {
		s.unexpected++
		if s.unexpectedSample == "" {
			s.unexpectedSample = kind.String() + ": " + why
		}
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
	for k := range s.byKind {
		s.byKind[k].merge(o.byKind[k])
	}
	for k, v := range o.byCode {
		s.byCode[k] += v
	}
	for k, v := range o.byStatus {
		s.byStatus[k] += v
	}
	s.fiveXXAfterData += o.fiveXXAfterData
	s.unexpected += o.unexpected
	if s.unexpectedSample == "" {
		s.unexpectedSample = o.unexpectedSample
	}
	if s.noAnswerSample == "" {
		s.noAnswerSample = o.noAnswerSample
	}
}

// clientTimeout bounds one request: above the service's REQUEST_TIMEOUT
// (15s by default), so that the service, not the client, ends slow requests.
const clientTimeout = 30 * time.Second

// maxResponse bounds the body read (16 MiB): twice MAX_RESPONSE_BYTES's
// default; the heavy mix's answers are 2 MB on the large dataset.
const maxResponse = 16 << 20

// errAbandoned is the cause of a request's end when the soak gave it up.
var errAbandoned = errors.New("abandoned by the soak")

// load drives requests at the service.
type load struct {
	base      string
	cfg       Config
	client    *http.Client
	mix       *mixer
	variants  atomic.Int64 // numbers the heavy query's variants
	firstData atomic.Bool  // some request was answered with data
}

func newLoad(base string, cfg Config, ordinary []request) *load {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only
	// One kept-alive connection per client, as a browser's would be.
	tr.MaxIdleConns = 2 * cfg.Clients
	tr.MaxIdleConnsPerHost = 2 * cfg.Clients
	l := &load{base: base, cfg: cfg, client: &http.Client{Transport: tr, Timeout: clientTimeout}}
	l.mix = &mixer{heavy: cfg.Mix == MixHeavy, ordinary: ordinary, next: func() int64 { return l.variants.Add(1) }}
	return l
}

// check sends each ordinary request once and wants data for each: a soak of
// queries the schema refuses would measure nothing. With the heavy mix it
// also wants the heaviest query answered and the back-reference refused
// with COST_LIMIT_EXCEEDED, as judge will.
func (l *load) check(ctx context.Context) error {
	want := func(req request, wantCode string) error {
		r := l.do(ctx, req, new(bytes.Buffer))
		switch {
		case wantCode == "" && r.outcome == OutcomeData,
			wantCode != "" && r.outcome == OutcomeErrors && r.code == wantCode && judge(req.kind, r) == "":
			return nil
		case r.err != nil:
			return fmt.Errorf("request %s: %w", req.name, r.err)
		case wantCode == "":
			wantCode = "data"
		}
		return fmt.Errorf("request %s: HTTP %d, %s %s, want %s", req.name, r.status, r.outcome, r.code, wantCode)
	}
	for _, req := range l.mix.ordinary {
		if err := want(req, ""); err != nil {
			return err
		}
		l.firstData.Store(true)
	}
	if !l.mix.heavy {
		return nil
	}
	heaviest := request{name: "heaviest", kind: KindHeavy, method: http.MethodPost, body: heaviestBody}
	backRef := request{name: "back-ref", kind: KindBackRef, method: http.MethodPost, body: backRefBody}
	if err := want(heaviest, ""); err != nil {
		return err
	}
	return want(backRef, "COST_LIMIT_EXCEEDED")
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
			var buf bytes.Buffer // the client's, reused: answers are up to 2 MB
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
				req := l.mix.pick(c, i)
				start := time.Now()
				r := l.do(ctx, req, &buf)
				if ctx.Err() != nil {
					return // interrupted: not an outcome of the service
				}
				st.record(req.kind, r, time.Since(start), p, afterData)
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

// do sends one request, reading the answer into buf, and classifies it. A
// request with abandonAfter is given up (its connection closed) that long
// after it starts, unless it was answered by then.
func (l *load) do(ctx context.Context, req request, buf *bytes.Buffer) result {
	if req.abandonAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, req.abandonAfter, errAbandoned)
		defer cancel()
	}
	noAnswer := func(err error) result {
		if errors.Is(context.Cause(ctx), errAbandoned) {
			return result{outcome: OutcomeAbandoned}
		}
		return result{outcome: OutcomeNoAnswer, err: err}
	}
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
	if req.forwardedFor != "" {
		hr.Header.Set("X-Forwarded-For", req.forwardedFor)
	}
	resp, err := l.client.Do(hr)
	if err != nil {
		return noAnswer(err)
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponse)); err != nil {
		// The status line came, the body did not: the answer is incomplete.
		return noAnswer(fmt.Errorf("read body after HTTP %d: %w", resp.StatusCode, err))
	}
	r := classify(resp.StatusCode, buf.Bytes())
	if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
		r.retryAfter = resp.Header.Get("Retry-After")
	}
	return r
}

// classify reads a GraphQL response. Only its top level is decoded (see
// topLevel): the data member is delimited, not decoded, since the heavy
// mix's answers are 2 MB and decoding each would cost the soak about as
// much CPU as the service spends on it, on the cores they share.
func classify(status int, b []byte) result {
	r := result{status: status, outcome: OutcomeOther}
	members, ok := topLevel(b)
	if !ok {
		return r
	}
	var errs []struct {
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	}
	if raw, ok := members["errors"]; ok && json.Unmarshal(raw, &errs) != nil {
		return r
	}
	var ext struct {
		OpportunityConfig struct {
			Stale bool `json:"stale"`
		} `json:"opportunityConfig"`
	}
	if raw, ok := members["extensions"]; ok && json.Unmarshal(raw, &ext) != nil {
		return r
	}
	data := members["data"]
	switch {
	case len(errs) > 0:
		r.outcome = OutcomeErrors
		r.code = errs[0].Extensions.Code
		if r.code == "" {
			r.code = "(no code)"
		}
	case status == http.StatusOK && len(data) > 0 && !bytes.Equal(data, []byte("null")):
		r.outcome = OutcomeData
		r.stale = ext.OpportunityConfig.Stale
	}
	return r
}

// topLevel splits the JSON object b into its members' raw values, without
// decoding them; false when b is not one whole object. Values are only
// delimited (strings and nesting followed, not checked): what the caller
// decodes is checked by encoding/json then, and an answer cut short is
// found by its brackets.
func topLevel(b []byte) (map[string][]byte, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	members := map[string][]byte{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return members, skipSpace(b, i+1) == len(b)
	}
	for {
		end, ok := skipValue(b, i)
		if !ok || b[i] != '"' {
			return nil, false
		}
		var key string
		if json.Unmarshal(b[i:end], &key) != nil {
			return nil, false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if end, ok = skipValue(b, i); !ok {
			return nil, false
		}
		members[key] = b[i:end]
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return members, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value that starts at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"', '{', '[':
	default: // a number, true, false or null: up to what follows it
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[j])) {
			j++
		}
		return j, j > i
	}
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			for j++; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if depth == 0 {
			return j + 1, true
		}
	}
	return 0, false
}

// goroutines reads go_goroutines from the service's /metrics; -1 when the
// service has no such endpoint or metric.
func (l *load) goroutines(ctx context.Context) float64 {
	return l.metrics(ctx, "go_goroutines")[0]
}

// metrics reads the first sample of each named metric from the service's
// /metrics, in the order asked; -1 for one it does not have (or when it
// has no such endpoint).
func (l *load) metrics(ctx context.Context, names ...string) []float64 {
	out := make([]float64, len(names))
	for i := range out {
		out[i] = -1
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := l.client.Do(hr)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxResponse))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		for i, name := range names {
			if out[i] < 0 {
				out[i] = sampleValue(sc.Text(), name)
			}
		}
	}
	return out
}

// sampleValue reads the value of metric name from one line of the text
// exposition, `go_goroutines 12`, perhaps with labels and a timestamp after
// the value; -1 when the line is not one of name's samples.
func sampleValue(line, name string) float64 {
	rest, ok := strings.CutPrefix(line, name)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
		return -1
	}
	if i := strings.LastIndexByte(rest, '}'); i >= 0 {
		rest = rest[i+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return -1
	}
	n, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || !(n >= 0) { // NaN too
		return -1
	}
	return n
}

// heapSampleEvery spaces the reads of the service's heap from /metrics: a
// scrape reads the runtime's statistics, cheap at this rate.
const heapSampleEvery = 500 * time.Millisecond

// HeapPeaks are the largest heap figures the service reported while
// sampled, in bytes; -1 when it reported none.
type HeapPeaks struct {
	InUse float64 // go_memstats_heap_inuse_bytes: spans holding objects, live or not yet swept
	Goal  float64 // go_memstats_next_gc_bytes: the heap size the next collection starts at
}

// sampleHeap reads the service's heap every heapSampleEvery until done is
// closed, and returns the peaks.
func (l *load) sampleHeap(ctx context.Context, done <-chan struct{}) HeapPeaks {
	peaks := HeapPeaks{InUse: -1, Goal: -1}
	tick := time.NewTicker(heapSampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return peaks
		case <-done:
			return peaks
		case <-tick.C:
		}
		v := l.metrics(ctx, "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes")
		peaks.InUse, peaks.Goal = max(peaks.InUse, v[0]), max(peaks.Goal, v[1])
	}
}
