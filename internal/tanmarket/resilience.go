package tanmarket

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// Backoff between attempts: exponential from backoffBase, doubling, capped at
// backoffCap, with full jitter. With the two retries config documents the
// waits are uniform in [0, 250ms] and then [0, 500ms], a small part of its
// 8 s budget.
const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 2 * time.Second
)

// OpportunityConfig fetches the configuration and returns it indexed. The
// snapshot's version is a hash of the `data` bytes, so an unchanged
// configuration keeps its version across fetches.
//
// KindUnavailable failures are retried (see Options) within the budget; when
// every attempt fails, the last attempt's *Error is returned, with Attempts set.
// If the caller's context ends while waiting between attempts, the wait stops
// at once and the last attempt's *Error is returned too: it is the last word
// heard from the upstream, and the caller knows its own ctx.Err().
// While the circuit breaker is open the call fails at once, without a request,
// with an *Error matching both ErrUnavailable and ErrCircuitOpen.
func (c *Client) OpportunityConfig(ctx context.Context) (*opportunity.Snapshot, error) {
	answer, err := c.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return answer.Snapshot, nil
}

// Fetch is OpportunityConfig with the body the snapshot was decoded from.
func (c *Client) Fetch(ctx context.Context) (*Answer, error) {
	// A caller already gone gets no request and the breaker hears nothing: the
	// call tells nothing about the upstream, and must not use up the one
	// half-open probe.
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindUnavailable, Message: "request not sent", Err: err}
	}
	// The breaker wraps the whole call, retries inside, not each attempt:
	// BreakerFailures then counts calls, as an operator reading "refresh
	// failed" logs counts them; a breaker cannot trip between two attempts of
	// one call, which would need its refusal turned into a permanent error
	// mid-retry; and the half-open probe is exactly one call.
	b := c.breaker.Load()
	answer, err := b.Execute(func() (*Answer, error) {
		// MaxRequests is 1, so a call running while the breaker is half-open
		// is the probe. It makes a single attempt: it asks whether the
		// upstream is back, and retrying it would hammer an upstream that is
		// just recovering, while every other caller is failing fast.
		probe := b.State() == gobreaker.StateHalfOpen
		answer, err := c.retry(ctx, probe)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &callerGone{err: err}
			}
			return nil, err
		}
		return answer, nil
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		// ErrTooManyRequests is half-open with the probe in flight: for this
		// caller that is the same as open.
		return nil, &Error{Kind: KindUnavailable, Message: "circuit breaker open", circuitOpen: true}
	}
	if gone, ok := errors.AsType[*callerGone](err); ok {
		return nil, gone.err
	}
	if err == nil && b != c.warm {
		// The first configuration: from now on the service has a copy to
		// serve while the upstream is away, so the breaker can spare it for
		// the configured cool-down. The cold breaker is closed (this call
		// succeeded through it), as the warm one starts.
		c.breaker.CompareAndSwap(b, c.warm)
	}
	return answer, err
}

// ColdBreakerCooldown bounds the breaker's cool-down until the client has
// fetched a configuration. With no copy to serve, every request fails until
// the upstream is found to be back, so the probe comes within seconds, not
// after BREAKER_COOLDOWN (30 s by default): an upstream down at start-up and
// back a moment later is otherwise 30 s of failed requests for nothing. One
// single-attempt probe per 2 s still spares a down upstream the retries of
// every request, which is what the open breaker is for. Once a copy exists
// it is served during the cool-down, and the configured one applies.
//
// gobreaker fixes the open-state timeout per breaker, so the client holds
// two, cold and warm, and moves to the warm one at its first success; both
// report to OnStateChange.
const ColdBreakerCooldown = 2 * time.Second

// retry makes up to c.maxTries attempts (one for a probe) within the budget,
// and returns the answer or the last attempt's error.
func (c *Client) retry(ctx context.Context, probe bool) (*Answer, *Error) {
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()

	tries := c.maxTries
	if probe {
		tries = 1
	}
	var (
		last *Error
		n    int
	)
	answer, err := backoff.Retry(ctx, func() (*Answer, error) {
		n++
		answer, header, err := c.attempt(ctx)
		if err == nil {
			return answer, nil
		}
		last = err
		if err.Kind != KindUnavailable {
			// Asking again gets the same refusal or the same bad body.
			return nil, backoff.Permanent(err)
		}
		if d, ok := retryAfter(header, c.now()); ok {
			// Retry waits d instead of its jittered backoff, or stops at once
			// when d would outlast the budget (WithMaxElapsedTime below).
			// Only the wait is read from this error: last keeps the answer.
			return nil, &backoff.RetryAfterError{Duration: d}
		}
		return nil, err
	},
		backoff.WithBackOff(newFullJitter()),
		backoff.WithMaxTries(tries),
		// The budget again, as ctx's deadline already bounds it: Retry checks
		// this before each wait, so it does not start a wait, be it backoff or
		// Retry-After, that would leave no budget for the attempt after it.
		backoff.WithMaxElapsedTime(c.budget),
	)
	if err == nil {
		return answer, nil
	}
	// Retry's own error may be the context's or a RetryAfterError; the caller
	// wants the upstream's last answer. The operation ran at least once, so
	// last is set.
	last.Attempts = n
	return nil, last
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds or
// an HTTP-date. A date in the past means no wait.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	// 32 bits: any larger number of seconds would overflow a Duration, and no
	// budget is that long anyway.
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	// Against the response's own Date when it has one: the difference of two
	// upstream timestamps does not depend on how far our clock is from theirs.
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return max(at.Sub(now), 0), true
}

// fullJitter is exponential backoff with full jitter (each wait uniform in
// [0, interval]), as in the AWS Architecture Blog's "Exponential Backoff And
// Jitter": it spreads the retries of many clients best. The library's
// ExponentialBackOff only randomises ±RandomizationFactor around the interval,
// so with the factor at 0 it supplies the capped exponential interval and this
// type draws the wait below it.
type fullJitter struct{ exp *backoff.ExponentialBackOff }

func newFullJitter() *fullJitter {
	// A new one per call: ExponentialBackOff is not safe for concurrent use.
	return &fullJitter{exp: &backoff.ExponentialBackOff{
		InitialInterval:     backoffBase,
		RandomizationFactor: 0,
		Multiplier:          2,
		MaxInterval:         backoffCap,
	}}
}

// NextBackOff implements backoff.BackOff.
func (b *fullJitter) NextBackOff() time.Duration {
	d := b.exp.NextBackOff()
	if d <= 0 {
		return d // backoff.Stop, or no wait
	}
	return rand.N(d + 1)
}

// Reset implements backoff.BackOff.
func (b *fullJitter) Reset() { b.exp.Reset() }

// callerGone marks a failure caused by the caller's context ending, so that
// the breaker leaves it out of its counts (IsExcluded): it says nothing about
// the upstream's health. OpportunityConfig unwraps it before returning.
type callerGone struct{ err *Error }

func (g *callerGone) Error() string { return g.err.Error() }
func (g *callerGone) Unwrap() error { return g.err }

// newBreaker returns a breaker with opts' settings and the given cool-down.
func newBreaker(opts Options, cooldown time.Duration) *gobreaker.CircuitBreaker[*Answer] {
	// NewClient has checked that both are positive.
	trip := uint32(min(opts.BreakerFailures, math.MaxUint32))
	st := gobreaker.Settings{
		Name:        "tanmarket",
		MaxRequests: 1, // one probe while half-open; its success closes the breaker
		// Interval 0: the closed state's counts are never cleared on a timer;
		// only ConsecutiveFailures matters, and any answer resets it.
		Timeout:      cooldown,
		ReadyToTrip:  func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= trip },
		IsSuccessful: upstreamAnswered,
		IsExcluded: func(err error) bool {
			_, ok := errors.AsType[*callerGone](err)
			return ok
		},
	}
	if f := opts.OnStateChange; f != nil {
		st.OnStateChange = func(_ string, from, to gobreaker.State) { f(from.String(), to.String()) }
	}
	return gobreaker.NewCircuitBreaker[*Answer](st)
}

// upstreamAnswered is the breaker's IsSuccessful: only KindUnavailable counts
// against the upstream. A refusal or a malformed body is an answer: the
// upstream is up, failing fast would spare it nothing, and the caller would
// see "unavailable" instead of the real fault. Counting it as a success rather
// than excluding it resets the run of failures, so "BreakerFailures in a row"
// means that many with no answer in between, and a refused probe closes the
// breaker: the probe asks whether the upstream answers, and it did.
func upstreamAnswered(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return err == nil || (ok && e.Kind != KindUnavailable)
}

// BreakerState returns the circuit breaker's state: "closed", "open" or
// "half-open". Reading it moves an open breaker whose cool-down has passed to
// half-open, and OnStateChange hears of it then.
func (c *Client) BreakerState() string { return c.breaker.Load().State().String() }
