package tanmarket

import (
	"errors"
	"fmt"
)

// Kind classifies an upstream failure by what a caller can do about it.
type Kind int

const (
	// KindUnavailable: the upstream could not be reached or answered 5xx/408/429
	// or timed out; retrying later may help.
	KindUnavailable Kind = iota + 1
	// KindRejected: the upstream answered but refused the call (non-zero code,
	// or a 4xx such as bad credentials); retrying will not help until config changes.
	KindRejected
	// KindBadResponse: the upstream answered 2xx with a body that is not the
	// documented JSON, or one over the size limit.
	KindBadResponse
)

// Sentinels for errors.Is; an *Error matches the sentinel of its Kind.
var (
	ErrUnavailable = errors.New("tanmarket: upstream unavailable")
	ErrRejected    = errors.New("tanmarket: upstream rejected the request")
	ErrBadResponse = errors.New("tanmarket: upstream sent a malformed response")
	// ErrCircuitOpen matches the error of a call the circuit breaker refused
	// without sending a request. Such an error also matches ErrUnavailable.
	ErrCircuitOpen = errors.New("tanmarket: circuit breaker open")
)

// Error is every failure the client returns. Its text never holds a credential
// or signature: Message is scrubbed of them before the Error is built.
type Error struct {
	Kind    Kind
	Status  int    // HTTP status, 0 when no response arrived
	Code    int    // the upstream's `code` when it sent one, else 0
	Message string // the upstream's `message` (scrubbed), or what went wrong
	Err     error  // the cause, when there is one (network error, JSON error)
	// Attempts is how many HTTP requests the call sent before giving up: the
	// Error describes the last of them. 0 when none was sent (the circuit
	// breaker was open, or the caller's context was already done).
	Attempts int

	// circuitOpen marks the breaker's fail-fast answer, so that it matches
	// ErrCircuitOpen without a cause that would repeat the Message in Error().
	circuitOpen bool
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%v: %s", e.sentinel(), e.Message)
	if e.Code != 0 {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause so that errors.Is(err, context.DeadlineExceeded) works.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's Kind, and ErrCircuitOpen when the circuit
// breaker refused the call.
func (e *Error) Is(target error) bool {
	return target == e.sentinel() || (e.circuitOpen && target == ErrCircuitOpen)
}

func (e *Error) sentinel() error {
	switch e.Kind {
	case KindRejected:
		return ErrRejected
	case KindBadResponse:
		return ErrBadResponse
	default:
		return ErrUnavailable
	}
}

// Outcome names what became of a call, for metrics: ok, circuit_open,
// unavailable, rejected or bad_response.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrBadResponse):
		return "bad_response"
	default:
		return "unavailable"
	}
}
