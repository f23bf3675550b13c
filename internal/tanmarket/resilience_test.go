package tanmarket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
)

// The tests below run in synctest bubbles, so that backoff, Retry-After,
// timeouts and the breaker's cool-down pass on a fake clock. A bubble's clock
// only moves while every goroutine in it is blocked on something inside the
// bubble, and a goroutine reading a loopback socket is not; so the real
// net/http server and client talk over in-memory net.Pipe connections instead.

// pipeListener is an in-memory net.Listener: each dial hands one end of a
// net.Pipe to Accept.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(context.Context, string, string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		server.Close()
		client.Close()
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "tanmarket.test" }

// serveInMemory starts h on an httptest server over pipes and returns its URL
// and an HTTP client that reaches it. Both are closed when the test ends.
func serveInMemory(t *testing.T, h http.Handler) (string, *http.Client) {
	t.Helper()
	l := newPipeListener()
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL, &http.Client{Transport: tr}
}

func newInMemoryClient(t *testing.T, h http.Handler, opts tanmarket.Options) *tanmarket.Client {
	t.Helper()
	url, hc := serveInMemory(t, h)
	c, err := tanmarket.NewClient(url, testCreds, signature.Default(), hc, testOptions(opts))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// script answers request i with steps[i], repeating the last step, and counts
// the requests it saw.
type script struct {
	steps []http.HandlerFunc
	n     atomic.Int64
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.steps[min(i, len(s.steps)-1)](w, r)
}

// answer replies with code and body, and header as name, value pairs.
func answer(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// hang never answers; it returns once the client has gone.
func hang(w http.ResponseWriter, r *http.Request) {
	drainBody(r)
	<-r.Context().Done()
}

// retryAfterDate answers 503 with a Retry-After date d after the server's now.
func retryAfterDate(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answer(http.StatusServiceUnavailable, "", "Retry-After", time.Now().Add(d).UTC().Format(http.TimeFormat))(w, r)
	}
}

func TestOpportunityConfigRetries(t *testing.T) {
	var (
		ok          = answer(http.StatusOK, emptyOK)
		unavailable = answer(http.StatusServiceUnavailable, "<html>busy</html>")
	)
	tests := []struct {
		name  string
		steps []http.HandlerFunc // request i gets steps[i]; the last one repeats
		opts  tanmarket.Options

		wantIs       error // nil: a snapshot
		wantAlso     error // a cause the chain must also hold
		wantStatus   int
		wantAttempts int
		// Bounds of the call's duration on the fake clock. Backoff waits are
		// drawn from [0, 250ms] and then [0, 500ms].
		minElapsed, maxElapsed time.Duration
	}{
		{name: "503 then 200", steps: []http.HandlerFunc{unavailable, ok},
			wantAttempts: 2, maxElapsed: 250 * time.Millisecond},
		{name: "three 503s", steps: []http.HandlerFunc{unavailable},
			wantIs: tanmarket.ErrUnavailable, wantStatus: 503, wantAttempts: 3, maxElapsed: 750 * time.Millisecond},
		{name: "502 then 408 then 200", steps: []http.HandlerFunc{answer(502, ""), answer(408, ""), ok},
			wantAttempts: 3, maxElapsed: 750 * time.Millisecond},
		{name: "one retry allowed", steps: []http.HandlerFunc{unavailable}, opts: tanmarket.Options{MaxRetries: new(1)},
			wantIs: tanmarket.ErrUnavailable, wantStatus: 503, wantAttempts: 2, maxElapsed: 250 * time.Millisecond},
		{name: "retries off", steps: []http.HandlerFunc{unavailable, ok}, opts: tanmarket.Options{MaxRetries: new(0)},
			wantIs: tanmarket.ErrUnavailable, wantStatus: 503, wantAttempts: 1},
		{name: "400 is not retried", steps: []http.HandlerFunc{answer(400, ""), ok},
			wantIs: tanmarket.ErrRejected, wantStatus: 400, wantAttempts: 1},
		{name: "401 is not retried", steps: []http.HandlerFunc{answer(401, ""), ok},
			wantIs: tanmarket.ErrRejected, wantStatus: 401, wantAttempts: 1},
		{name: "non-zero code is not retried", steps: []http.HandlerFunc{answer(200, `{"code":40013,"message":"签名错误","data":null}`), ok},
			wantIs: tanmarket.ErrRejected, wantStatus: 200, wantAttempts: 1},
		{name: "malformed JSON is not retried", steps: []http.HandlerFunc{answer(200, `{"code":0,"data":[`), ok},
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200, wantAttempts: 1},
		{name: "429 with Retry-After seconds", steps: []http.HandlerFunc{answer(429, "", "Retry-After", "1"), ok},
			wantAttempts: 2, minElapsed: time.Second, maxElapsed: time.Second},
		{name: "503 with Retry-After date", steps: []http.HandlerFunc{retryAfterDate(2 * time.Second), ok},
			wantAttempts: 2, minElapsed: 2 * time.Second, maxElapsed: 2 * time.Second},
		{name: "Retry-After beyond the budget", steps: []http.HandlerFunc{answer(429, "", "Retry-After", "60"), ok},
			wantIs: tanmarket.ErrUnavailable, wantStatus: 429, wantAttempts: 1},
		{name: "Retry-After just beyond a short budget", steps: []http.HandlerFunc{answer(503, "", "Retry-After", "2"), ok},
			opts:   tanmarket.Options{Budget: 1500 * time.Millisecond},
			wantIs: tanmarket.ErrUnavailable, wantStatus: 503, wantAttempts: 1},
		{name: "Retry-After on a refusal is ignored", steps: []http.HandlerFunc{answer(403, "", "Retry-After", "1"), ok},
			wantIs: tanmarket.ErrRejected, wantStatus: 403, wantAttempts: 1},
		{name: "attempt timeout then success", steps: []http.HandlerFunc{hang, ok},
			wantAttempts: 2, minElapsed: 3 * time.Second, maxElapsed: 3*time.Second + 250*time.Millisecond},
		{name: "custom attempt timeout", steps: []http.HandlerFunc{hang, ok}, opts: tanmarket.Options{AttemptTimeout: time.Second},
			wantAttempts: 2, minElapsed: time.Second, maxElapsed: time.Second + 250*time.Millisecond},
		{name: "the budget bounds the whole call", steps: []http.HandlerFunc{hang},
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.DeadlineExceeded,
			// 3s, a wait, 3s, a wait, and the third attempt gets the rest.
			wantAttempts: 3, minElapsed: 8 * time.Second, maxElapsed: 8 * time.Second},
		{name: "budget cuts the second attempt", steps: []http.HandlerFunc{hang}, opts: tanmarket.Options{Budget: 5 * time.Second},
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.DeadlineExceeded,
			wantAttempts: 2, minElapsed: 5 * time.Second, maxElapsed: 5 * time.Second},
		{name: "budget shorter than an attempt", steps: []http.HandlerFunc{hang}, opts: tanmarket.Options{Budget: time.Second},
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.DeadlineExceeded,
			wantAttempts: 1, minElapsed: time.Second, maxElapsed: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &script{steps: tt.steps}
				c := newInMemoryClient(t, srv, tt.opts)

				start := time.Now()
				snap, err := c.OpportunityConfig(context.Background())
				elapsed := time.Since(start)

				if elapsed < tt.minElapsed || elapsed > tt.maxElapsed {
					t.Errorf("call took %v, want between %v and %v", elapsed, tt.minElapsed, tt.maxElapsed)
				}
				if got := srv.n.Load(); got != int64(tt.wantAttempts) {
					t.Errorf("server saw %d requests, want %d", got, tt.wantAttempts)
				}
				if got := c.Attempts(); got != int64(tt.wantAttempts) {
					t.Errorf("Attempts() = %d, want %d", got, tt.wantAttempts)
				}
				if tt.wantIs == nil {
					if err != nil || snap == nil {
						t.Fatalf("OpportunityConfig = %v, %v; want a snapshot", snap, err)
					}
					return
				}
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantIs)
				}
				if tt.wantAlso != nil && !errors.Is(err, tt.wantAlso) {
					t.Errorf("errors.Is(err, %v) = false; err: %v", tt.wantAlso, err)
				}
				e, ok := errors.AsType[*tanmarket.Error](err)
				if !ok {
					t.Fatalf("err is %T, want *tanmarket.Error", err)
				}
				if e.Status != tt.wantStatus {
					t.Errorf("Status = %d, want %d", e.Status, tt.wantStatus)
				}
				if e.Attempts != tt.wantAttempts {
					t.Errorf("Error.Attempts = %d, want %d", e.Attempts, tt.wantAttempts)
				}
				suffix := fmt.Sprintf("after %d attempts", tt.wantAttempts)
				if got := strings.Contains(err.Error(), suffix); got != (tt.wantAttempts > 1) {
					t.Errorf("Error() = %q; shows %q: %v, want %v", err, suffix, got, tt.wantAttempts > 1)
				}
				if errors.Is(err, tanmarket.ErrCircuitOpen) {
					t.Errorf("errors.Is(err, ErrCircuitOpen) = true for a call that was sent: %v", err)
				}
				assertNoSecrets(t, err)
			})
		})
	}
}

// The caller's cancellation ends the call at once, wherever it is, and the
// breaker does not count it against the upstream.
func TestOpportunityConfigCallerCancelStopsRetries(t *testing.T) {
	tests := []struct {
		name       string
		step       http.HandlerFunc
		wantAlso   error
		wantStatus int
	}{
		// The client is waiting between attempts: it returns the 503 it got.
		{"while waiting to retry", answer(http.StatusServiceUnavailable, ""), nil, 503},
		// The client is waiting for an answer.
		{"during an attempt", hang, context.Canceled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &script{steps: []http.HandlerFunc{tt.step}}
				c := newInMemoryClient(t, srv, tanmarket.Options{BreakerFailures: 1})

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				errc := make(chan error, 1)
				start := time.Now()
				go func() {
					_, err := c.OpportunityConfig(ctx)
					errc <- err
				}()
				// Every goroutine is blocked: the client is in its backoff
				// wait or waiting for the answer, and no fake time has passed.
				synctest.Wait()
				cancel()
				err := <-errc

				if elapsed := time.Since(start); elapsed != 0 {
					t.Errorf("call took %v after the cancellation, want no time", elapsed)
				}
				if got := srv.n.Load(); got != 1 {
					t.Errorf("server saw %d requests, want 1", got)
				}
				if !errors.Is(err, tanmarket.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				if tt.wantAlso != nil && !errors.Is(err, tt.wantAlso) {
					t.Errorf("errors.Is(err, %v) = false; err: %v", tt.wantAlso, err)
				}
				if e, _ := errors.AsType[*tanmarket.Error](err); e == nil || e.Status != tt.wantStatus || e.Attempts != 1 {
					t.Errorf("err = %#v, want an *Error with Status %d after 1 attempt", err, tt.wantStatus)
				}
				if got := c.BreakerState(); got != "closed" {
					t.Errorf("BreakerState() = %q after a cancelled call, want closed (BreakerFailures is 1)", got)
				}
			})
		})
	}
}

// breakerStep is one call in a breaker scenario.
type breakerStep struct {
	wait            time.Duration   // advance the fake clock this much first
	wantStateBefore string          // when set, BreakerState() after the wait, before the call
	fault           simulator.Fault // how the simulator answers this call
	wantIs          error           // nil: a snapshot
	wantState       string          // BreakerState() after the call
	wantCalls       int64           // requests the simulator has seen so far
}

func TestCircuitBreaker(t *testing.T) {
	// Every case keeps the test cool-down.
	const cooldown = testBreakerCooldown
	var (
		unavailable = tanmarket.ErrUnavailable
		open        = tanmarket.ErrCircuitOpen
		rejected    = tanmarket.ErrRejected
		bad         = tanmarket.ErrBadResponse
		serverError = simulator.FaultServerError
		none        = simulator.FaultNone
	)
	tests := []struct {
		name string
		opts tanmarket.Options
		// warm makes one successful call before the steps, whose wantCalls
		// do not count it: the configured cool-down applies only once a
		// configuration has been fetched.
		warm            bool
		steps           []breakerStep
		wantTransitions []string
	}{
		{
			name: "opens, fails fast, probes after the cool-down and closes",
			opts: tanmarket.Options{BreakerFailures: 3, MaxRetries: new(0)},
			warm: true,
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 1},
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 2},
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 3},
				// The upstream is back, but no request is sent to find out.
				{fault: none, wantIs: open, wantState: "open", wantCalls: 3},
				{wait: cooldown - time.Second, wantStateBefore: "open", fault: none, wantIs: open, wantState: "open", wantCalls: 3},
				{wait: 2 * time.Second, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 4},
				{fault: none, wantState: "closed", wantCalls: 5},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→closed"},
		},
		{
			name: "a failed probe reopens it, and a probe is one attempt",
			opts: tanmarket.Options{BreakerFailures: 2},
			warm: true,
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 3},
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 6},
				{wait: cooldown + time.Second, wantStateBefore: "half-open", fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 7},
				{fault: none, wantIs: open, wantState: "open", wantCalls: 7},
				{wait: cooldown + time.Second, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 8},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→open", "open→half-open", "half-open→closed"},
		},
		{
			name: "timeouts count as failures",
			opts: tanmarket.Options{BreakerFailures: 2, MaxRetries: new(0), AttemptTimeout: time.Second},
			steps: []breakerStep{
				{fault: simulator.FaultTimeout, wantIs: unavailable, wantState: "closed", wantCalls: 1},
				{fault: simulator.FaultTimeout, wantIs: unavailable, wantState: "open", wantCalls: 2},
				{fault: none, wantIs: open, wantState: "open", wantCalls: 2},
			},
			wantTransitions: []string{"closed→open"},
		},
		{
			name: "rejected answers do not open it",
			opts: tanmarket.Options{BreakerFailures: 2, MaxRetries: new(0)},
			steps: []breakerStep{
				{fault: simulator.FaultRejected, wantIs: rejected, wantState: "closed", wantCalls: 1},
				{fault: simulator.FaultRejected, wantIs: rejected, wantState: "closed", wantCalls: 2},
				{fault: simulator.FaultRejected, wantIs: rejected, wantState: "closed", wantCalls: 3},
			},
		},
		{
			name: "bad responses do not open it",
			opts: tanmarket.Options{BreakerFailures: 2, MaxRetries: new(0)},
			steps: []breakerStep{
				{fault: simulator.FaultMalformedJSON, wantIs: bad, wantState: "closed", wantCalls: 1},
				{fault: simulator.FaultWrongShape, wantIs: bad, wantState: "closed", wantCalls: 2},
				{fault: simulator.FaultMalformedJSON, wantIs: bad, wantState: "closed", wantCalls: 3},
			},
		},
		{
			name: "an answer between failures restarts the count",
			opts: tanmarket.Options{BreakerFailures: 2, MaxRetries: new(0)},
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 1},
				{fault: simulator.FaultRejected, wantIs: rejected, wantState: "closed", wantCalls: 2},
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 3},
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 4},
			},
			wantTransitions: []string{"closed→open"},
		},
		{
			name: "a refused probe closes it: the upstream answered",
			opts: tanmarket.Options{BreakerFailures: 1, MaxRetries: new(0)},
			warm: true,
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 1},
				{wait: cooldown + time.Second, wantStateBefore: "half-open", fault: simulator.FaultRejected, wantIs: rejected, wantState: "closed", wantCalls: 2},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→closed"},
		},
		{
			name: "five failures open it, as testOptions sets",
			opts: tanmarket.Options{MaxRetries: new(0)},
			warm: true,
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 1},
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 2},
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 3},
				{fault: serverError, wantIs: unavailable, wantState: "closed", wantCalls: 4},
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 5},
				{wait: cooldown - time.Second, wantStateBefore: "open", fault: none, wantIs: open, wantState: "open", wantCalls: 5},
				{wait: 2 * time.Second, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 6},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→closed"},
		},
		{
			// An upstream down at start-up: with nothing to serve, the
			// breaker probes within ColdBreakerCooldown, not the 30 s
			// configured; after the first configuration the 30 s apply.
			name: "with no configuration yet, it probes after the cold cool-down",
			opts: tanmarket.Options{BreakerFailures: 1, MaxRetries: new(0)},
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 1},
				{wait: tanmarket.ColdBreakerCooldown - 100*time.Millisecond, wantStateBefore: "open", fault: none, wantIs: open, wantState: "open", wantCalls: 1},
				{wait: 200 * time.Millisecond, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 2},
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 3},
				{wait: tanmarket.ColdBreakerCooldown + time.Second, wantStateBefore: "open", fault: none, wantIs: open, wantState: "open", wantCalls: 3},
				{wait: cooldown, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 4},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→closed", "closed→open", "open→half-open", "half-open→closed"},
		},
		{
			name: "a failed cold probe keeps the cold cool-down",
			opts: tanmarket.Options{BreakerFailures: 1, MaxRetries: new(0)},
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 1},
				{wait: tanmarket.ColdBreakerCooldown + 100*time.Millisecond, wantStateBefore: "half-open", fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 2},
				{wait: tanmarket.ColdBreakerCooldown + 100*time.Millisecond, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 3},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→open", "open→half-open", "half-open→closed"},
		},
		{
			name: "a configured cool-down shorter than the cold one is kept",
			opts: tanmarket.Options{BreakerFailures: 1, MaxRetries: new(0), BreakerCooldown: 500 * time.Millisecond},
			steps: []breakerStep{
				{fault: serverError, wantIs: unavailable, wantState: "open", wantCalls: 1},
				{wait: 600 * time.Millisecond, wantStateBefore: "half-open", fault: none, wantState: "closed", wantCalls: 2},
			},
			wantTransitions: []string{"closed→open", "open→half-open", "half-open→closed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim := simulator.New(simulator.Options{Credentials: testCreds, Recipe: signature.Default(), Now: clock})
				var (
					mu          sync.Mutex
					transitions []string
				)
				opts := tt.opts
				opts.OnStateChange = func(from, to string) {
					mu.Lock()
					defer mu.Unlock()
					transitions = append(transitions, from+"→"+to)
				}
				c := newInMemoryClient(t, sim, opts)
				if got := c.BreakerState(); got != "closed" {
					t.Fatalf("new client's BreakerState() = %q, want closed", got)
				}
				var base int64 // requests before the steps
				if tt.warm {
					if _, err := c.OpportunityConfig(context.Background()); err != nil {
						t.Fatalf("warming call: %v", err)
					}
					base = sim.Calls()
				}

				for i, st := range tt.steps {
					time.Sleep(st.wait) // on the bubble's fake clock
					if st.wantStateBefore != "" {
						if got := c.BreakerState(); got != st.wantStateBefore {
							t.Errorf("step %d: BreakerState() before the call = %q, want %q", i, got, st.wantStateBefore)
						}
					}
					sim.SetFault(st.fault)
					snap, err := c.OpportunityConfig(context.Background())
					switch {
					case st.wantIs == nil && (err != nil || snap == nil):
						t.Errorf("step %d: OpportunityConfig = %v, %v; want a snapshot", i, snap, err)
					case st.wantIs != nil && !errors.Is(err, st.wantIs):
						t.Errorf("step %d: err = %v, want %v", i, err, st.wantIs)
					}
					if got, want := errors.Is(err, tanmarket.ErrCircuitOpen), st.wantIs == tanmarket.ErrCircuitOpen; got != want {
						t.Errorf("step %d: errors.Is(err, ErrCircuitOpen) = %v, want %v; err: %v", i, got, want, err)
					}
					if st.wantIs == tanmarket.ErrCircuitOpen {
						assertCircuitOpen(t, err)
					}
					if got := c.BreakerState(); got != st.wantState {
						t.Errorf("step %d: BreakerState() = %q, want %q", i, got, st.wantState)
					}
					if got := sim.Calls() - base; got != st.wantCalls {
						t.Errorf("step %d: simulator saw %d requests, want %d", i, got, st.wantCalls)
					}
					if got := c.Attempts() - base; got != st.wantCalls {
						t.Errorf("step %d: Attempts() = %d, want %d", i, got, st.wantCalls)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(transitions, tt.wantTransitions) {
					t.Errorf("transitions = %q, want %q", transitions, tt.wantTransitions)
				}
			})
		})
	}
}

// assertCircuitOpen checks the breaker's fail-fast error.
func assertCircuitOpen(t *testing.T, err error) {
	t.Helper()
	e, ok := errors.AsType[*tanmarket.Error](err)
	if !ok {
		t.Fatalf("err is %T, want *tanmarket.Error", err)
	}
	if e.Kind != tanmarket.KindUnavailable || e.Message != "circuit breaker open" || e.Attempts != 0 || e.Status != 0 {
		t.Errorf("err = %#v, want KindUnavailable, Message \"circuit breaker open\", no status, 0 attempts", e)
	}
	if !errors.Is(err, tanmarket.ErrUnavailable) {
		t.Errorf("errors.Is(err, ErrUnavailable) = false for %v", err)
	}
}

// While the half-open probe is in flight, other calls fail fast instead of
// joining it.
func TestCircuitBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const cooldown = 10 * time.Second
		sim := simulator.New(simulator.Options{Credentials: testCreds, Recipe: signature.Default(), Now: clock})
		c := newInMemoryClient(t, sim, tanmarket.Options{BreakerFailures: 1, BreakerCooldown: cooldown, MaxRetries: new(0)})

		sim.SetFault(simulator.FaultServerError)
		if _, err := c.OpportunityConfig(context.Background()); !errors.Is(err, tanmarket.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		time.Sleep(cooldown + time.Second)
		sim.SetFault(simulator.FaultNone)
		sim.SetLatency(time.Second)

		probe := make(chan error, 1)
		go func() {
			_, err := c.OpportunityConfig(context.Background())
			probe <- err
		}()
		synctest.Wait() // the probe is at the simulator, waiting out its latency
		if got := c.BreakerState(); got != "half-open" {
			t.Errorf("BreakerState() during the probe = %q, want half-open", got)
		}
		_, err := c.OpportunityConfig(context.Background())
		if !errors.Is(err, tanmarket.ErrCircuitOpen) {
			t.Errorf("second call during the probe: err = %v, want ErrCircuitOpen", err)
		}
		assertCircuitOpen(t, err)
		if err := <-probe; err != nil {
			t.Fatalf("probe: %v", err)
		}
		if got := c.BreakerState(); got != "closed" {
			t.Errorf("BreakerState() after the probe = %q, want closed", got)
		}
		if got := sim.Calls(); got != 2 {
			t.Errorf("simulator saw %d requests, want 2", got)
		}
	})
}

// NewClient has no defaults to fall back on: every option the client needs
// must be given, and a zero or negative one is refused by name, all at once.
func TestNewClientRequiresOptions(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *tanmarket.Options) // applied to a complete set
		want []string                   // in the error; nil: no error
	}{
		{"every option set", func(*tanmarket.Options) {}, nil},
		{"no retries", func(o *tanmarket.Options) { o.MaxRetries = new(0) }, nil},
		{"five retries", func(o *tanmarket.Options) { o.MaxRetries = new(5) }, nil},
		{"no clock and no state hook", func(o *tanmarket.Options) { o.Now, o.OnStateChange = nil, nil }, nil},
		{"MaxRetries not set", func(o *tanmarket.Options) { o.MaxRetries = nil }, []string{"MaxRetries is not set"}},
		{"MaxRetries negative", func(o *tanmarket.Options) { o.MaxRetries = new(-1) }, []string{"MaxRetries is -1"}},
		{"AttemptTimeout zero", func(o *tanmarket.Options) { o.AttemptTimeout = 0 }, []string{"AttemptTimeout is 0s"}},
		{"AttemptTimeout negative", func(o *tanmarket.Options) { o.AttemptTimeout = -time.Second }, []string{"AttemptTimeout is -1s"}},
		{"Budget zero", func(o *tanmarket.Options) { o.Budget = 0 }, []string{"Budget is 0s"}},
		{"BreakerFailures zero", func(o *tanmarket.Options) { o.BreakerFailures = 0 }, []string{"BreakerFailures is 0"}},
		{"BreakerFailures negative", func(o *tanmarket.Options) { o.BreakerFailures = -3 }, []string{"BreakerFailures is -3"}},
		{"BreakerCooldown zero", func(o *tanmarket.Options) { o.BreakerCooldown = 0 }, []string{"BreakerCooldown is 0s"}},
		{"MaxBodyBytes zero", func(o *tanmarket.Options) { o.MaxBodyBytes = 0 }, []string{"MaxBodyBytes is 0"}},
		{"MaxBodyBytes negative", func(o *tanmarket.Options) { o.MaxBodyBytes = -1 }, []string{"MaxBodyBytes is -1"}},
		{"the zero Options", func(o *tanmarket.Options) { *o = tanmarket.Options{} },
			[]string{"AttemptTimeout", "Budget", "MaxRetries", "BreakerFailures", "BreakerCooldown", "MaxBodyBytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(tanmarket.Options{OnStateChange: func(string, string) {}})
			tt.edit(&opts)
			c, err := tanmarket.NewClient("https://example.com", testCreds, signature.Default(), nil, opts)
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("NewClient = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil || c != nil {
				t.Fatalf("NewClient = %v, %v; want only an error", c, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestErrorShowsAttempts(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		want     string
	}{
		{"breaker refusal", 0, "tanmarket: upstream unavailable: unexpected HTTP status 503 Service Unavailable (HTTP 503)"},
		{"one attempt", 1, "tanmarket: upstream unavailable: unexpected HTTP status 503 Service Unavailable (HTTP 503)"},
		{"three attempts", 3, "tanmarket: upstream unavailable: unexpected HTTP status 503 Service Unavailable (HTTP 503) after 3 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &tanmarket.Error{Kind: tanmarket.KindUnavailable, Status: 503,
				Message: "unexpected HTTP status 503 Service Unavailable", Attempts: tt.attempts}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
