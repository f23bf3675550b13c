// Package tanmarket is the signed client of tanmarket's open API endpoint
// POST /api/v3/opportunity/config/get (查询商机配置).
package tanmarket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
)

// ConfigPath is the endpoint's path below the base URL.
const ConfigPath = "/api/v3/opportunity/config/get"

// Options tunes a Client. Every field but OnStateChange and Now is required:
// NewClient refuses a zero or negative value instead of guessing one. The
// service's defaults are documented, once, in internal/config's Variables.
type Options struct {
	// AttemptTimeout bounds one HTTP request, reading the body included.
	AttemptTimeout time.Duration
	// Budget bounds a whole OpportunityConfig call: every attempt and every
	// wait between attempts. The caller's context may end it sooner.
	Budget time.Duration
	// MaxRetries is how many times a KindUnavailable failure is retried. It is
	// a pointer so that "no retries" (a pointer to 0) is said, not left out:
	// nil and negative values are refused by NewClient.
	MaxRetries *int
	// BreakerFailures is how many calls in a row must end KindUnavailable
	// (after their retries) before the circuit breaker opens.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before it lets one
	// probe call through, once the client has fetched a configuration; until
	// then it is at most ColdBreakerCooldown.
	BreakerCooldown time.Duration
	// MaxBodyBytes bounds a response's body; larger ones are refused as
	// KindBadResponse.
	MaxBodyBytes int64
	// Limiter, when set, paces every HTTP request to the upstream, retries
	// included; a request it holds back past the budget is not sent.
	Limiter CallLimiter
	// OnStateChange, when set, is told every breaker transition with the
	// states named as BreakerState names them. It runs synchronously while the
	// breaker holds its lock, so it must be quick and must not call the Client.
	OnStateChange func(from, to string)
	// Now is the wall clock for the timestamp header, and for a Retry-After
	// date when the response has no Date; nil means time.Now.
	Now func() time.Time
}

// check reports every required option that is missing or out of range, so
// that a caller passing the zero Options learns all of them at once.
func (o Options) check() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"AttemptTimeout", o.AttemptTimeout}, {"Budget", o.Budget}, {"BreakerCooldown", o.BreakerCooldown}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("options: %s is %v, want more than 0", d.name, d.v))
		}
	}
	switch {
	case o.MaxRetries == nil:
		errs = append(errs, errors.New("options: MaxRetries is not set, want a pointer to 0 or more"))
	case *o.MaxRetries < 0:
		errs = append(errs, fmt.Errorf("options: MaxRetries is %d, want 0 or more", *o.MaxRetries))
	}
	if o.BreakerFailures <= 0 {
		errs = append(errs, fmt.Errorf("options: BreakerFailures is %d, want 1 or more", o.BreakerFailures))
	}
	if o.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("options: MaxBodyBytes is %d, want 1 or more", o.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// Client calls the endpoint with signed headers, retrying and guarding the
// upstream with a circuit breaker. It is safe for concurrent use.
type Client struct {
	endpoint       string
	creds          signature.Credentials
	signer         signature.Signer
	http           *http.Client
	attemptTimeout time.Duration
	budget         time.Duration
	maxTries       uint // attempts per call: MaxRetries + 1
	maxBody        int64
	now            func() time.Time

	// breaker is the one in use: cold until the first configuration is
	// fetched, then warm, for good (see ColdBreakerCooldown).
	breaker  atomic.Pointer[gobreaker.CircuitBreaker[*Answer]]
	warm     *gobreaker.CircuitBreaker[*Answer]
	limiter  CallLimiter
	attempts atomic.Int64
	last     atomic.Pointer[lastAnswer]
}

// Answer is one configuration as the upstream sent it: the snapshot decoded
// from it, and the body it came in, which Decode turns back into the same
// snapshot. Replicas share the body (internal/redis), not the snapshot.
type Answer struct {
	Snapshot *opportunity.Snapshot
	Body     []byte // the whole response body; read-only
}

// CallLimiter paces the calls sent to the upstream (UPSTREAM_RATE_LIMIT):
// Wait returns when the next call may go, or an error when it may not go
// before ctx ends. *rate.Limiter is one; internal/redis shares one budget
// among replicas.
type CallLimiter interface {
	Wait(ctx context.Context) error
}

// lastAnswer is the last answer decoded, by a hash of its whole body.
type lastAnswer struct {
	sum    [sha256.Size]byte
	answer *Answer
}

// NewClient checks baseURL (scheme and host, optional path prefix) and opts and
// returns a client. httpClient may be nil for http.DefaultClient's transport with
// no client-wide timeout; the per-attempt timeout and the budget still apply.
func NewClient(baseURL string, creds signature.Credentials, signer signature.Signer, httpClient *http.Client, opts Options) (*Client, error) {
	// The URL is never quoted in these errors: it may carry user:password, and a
	// URL that fails to parse cannot be redacted.
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, errors.New("base URL: not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("base URL: want http(s)://host[/prefix]")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, errors.New("base URL: must not have a query or fragment")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	c := &Client{
		endpoint:       strings.TrimRight(u.String(), "/") + ConfigPath,
		creds:          creds,
		signer:         signer,
		http:           httpClient,
		attemptTimeout: opts.AttemptTimeout,
		budget:         opts.Budget,
		maxTries:       uint(*opts.MaxRetries) + 1,
		maxBody:        opts.MaxBodyBytes,
		now:            opts.Now,
		limiter:        opts.Limiter,
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.breaker.Store(newBreaker(opts, min(opts.BreakerCooldown, ColdBreakerCooldown)))
	c.warm = newBreaker(opts, opts.BreakerCooldown)
	return c, nil
}

// Attempts returns how many HTTP requests the client has sent so far, retries
// included; calls refused by the circuit breaker send none.
func (c *Client) Attempts() int64 { return c.attempts.Load() }

// attempt sends one signed request, bounded by the attempt timeout, and
// returns the answer or the failure with the response's header (nil when no
// response arrived), which may hold a Retry-After.
func (c *Client) attempt(ctx context.Context) (*Answer, http.Header, *Error) {
	if c.limiter != nil {
		// Before the attempt's own timeout starts: waiting for the shared
		// budget is not the upstream being slow.
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, nil, &Error{Kind: KindUnavailable, Message: "upstream call limit (UPSTREAM_RATE_LIMIT) leaves no call within the budget", Err: err}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader([]byte("{}")))
	if err != nil {
		// Unreachable with the URL NewClient checked. KindRejected because, as
		// with a refused call, only a change of configuration can help.
		return nil, nil, &Error{Kind: KindRejected, Message: "build request failed", Err: c.scrubErr(err)}
	}
	ts, sign := c.signer.Sign(c.creds, c.now())
	signature.SetHeaders(req.Header, c.creds, ts, sign)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	c.attempts.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &Error{Kind: KindUnavailable, Message: "request failed", Err: c.scrubErr(err)}
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, resp.Header, &Error{Kind: KindUnavailable, Status: resp.StatusCode, Message: "reading response failed", Err: c.scrubErr(err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		kind := KindRejected
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			kind = KindUnavailable
		}
		// Neither the body of an error page (HTML of any size) nor the upstream's
		// reason phrase (free text that could echo a header) is shown.
		return nil, resp.Header, &Error{Kind: kind, Status: resp.StatusCode, Message: fmt.Sprintf("unexpected HTTP status %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	if int64(len(body)) > c.maxBody {
		return nil, resp.Header, &Error{Kind: KindBadResponse, Status: resp.StatusCode, Message: fmt.Sprintf("response larger than %d bytes", c.maxBody)}
	}
	answer, derr := c.decodeUnlessUnchanged(resp.StatusCode, body, sign)
	return answer, resp.Header, derr
}

// decodeUnlessUnchanged returns the last snapshot when the body is byte for
// byte the last one decoded. The configuration changes a few times a day and
// is fetched every CACHE_TTL, so most refreshes bring the same bytes: hashing
// them (25 KiB: ~15 µs) saves decoding and indexing them (~350 µs), which a
// request waiting for the refresh would pay. Snapshots are immutable, so the
// same one can be handed out again.
func (c *Client) decodeUnlessUnchanged(status int, body []byte, sign string) (*Answer, *Error) {
	sum := sha256.Sum256(body)
	if last := c.last.Load(); last != nil && last.sum == sum {
		return last.answer, nil
	}
	snap, err := c.decode(status, body, sign)
	if err != nil {
		return nil, err
	}
	answer := &Answer{Snapshot: snap, Body: body}
	c.last.Store(&lastAnswer{sum: sum, answer: answer})
	return answer, nil
}

// Decode turns the body of a successful answer, as Answer.Body holds it,
// back into its snapshot, checked and indexed as the client does: what a
// replica does with the body another replica fetched. A body that is not a
// configuration is an *Error of KindBadResponse (or KindRejected for a
// refusal, whose message is not shown: a stored body should never be one).
func Decode(body []byte) (*opportunity.Snapshot, error) {
	resp, err := wire.Decode(body)
	if err != nil {
		return nil, &Error{Kind: KindBadResponse, Message: "stored answer is not the documented JSON", Err: err}
	}
	if resp.Code != 0 {
		return nil, &Error{Kind: KindRejected, Code: resp.Code, Message: "stored answer is a refusal"}
	}
	snap, e := snapshot(0, resp.Types, resp.Data)
	if e != nil {
		return nil, e
	}
	return snap, nil
}

// decode classifies what wire.Decode makes of the body: a refusal is
// KindRejected with its code and scrubbed message, a body that is not the
// documented shape KindBadResponse, and a configuration is checked and indexed.
func (c *Client) decode(status int, body []byte, sign string) (*opportunity.Snapshot, *Error) {
	resp, err := wire.Decode(body)
	if err != nil {
		e := &Error{Kind: KindBadResponse, Status: status, Message: "response is not the documented JSON", Err: err}
		if shape, ok := errors.AsType[*wire.ShapeError](err); ok {
			e.Message, e.Err = shape.Problem, shape.Err
		}
		return nil, e
	}
	if resp.Code != 0 {
		return nil, &Error{Kind: KindRejected, Status: status, Code: resp.Code, Message: c.scrub(resp.Message, sign)}
	}
	return snapshot(status, resp.Types, resp.Data)
}

// snapshot checks the decoded types by opportunity.Check and indexes them;
// the version is a hash of data's bytes, so it changes exactly when the
// configuration does. A configuration that breaks a rule is KindBadResponse
// wrapping the *opportunity.Violation: the cache keeps serving the last good
// copy, and configsource meters and logs the rule.
func snapshot(status int, types []wire.Type, data []byte) (*opportunity.Snapshot, *Error) {
	domain := toTypes(types)
	if err := opportunity.Check(domain); err != nil {
		return nil, &Error{Kind: KindBadResponse, Status: status, Message: "the configuration breaks a rule", Err: err}
	}
	sum := sha256.Sum256(data)
	return opportunity.NewSnapshot(domain, hex.EncodeToString(sum[:8])), nil
}

// scrub removes the credentials (and the request's signature, when given) from
// text the upstream wrote, in case it echoes a header back.
func (c *Client) scrub(s string, sign ...string) string {
	for _, secret := range append([]string{c.creds.AppKey.Reveal(), c.creds.AppSecret.Reveal()}, sign...) {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	return s
}

// scrubErr keeps the error chain (errors.Is still sees context.DeadlineExceeded)
// while making sure its text cannot carry a credential.
func (c *Client) scrubErr(err error) error {
	if text := err.Error(); c.scrub(text) != text {
		return &scrubbedError{text: c.scrub(text), err: err}
	}
	return err
}

type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return errors.Unwrap(e.err) }

// toTypes is the one conversion from the vendor's shape to the domain's.
func toTypes(in []wire.Type) []*opportunity.Type {
	out := make([]*opportunity.Type, len(in))
	for i, w := range in {
		out[i] = &opportunity.Type{
			TypeName:               w.TypeName,
			TypeID:                 w.TypeID,
			DefaultType:            w.DefaultType,
			AllowSkip:              w.AllowSkip,
			AllowGoBack:            w.AllowGoBack,
			Stages:                 toStages(w.Stages),
			Fields:                 toFields(w.Fields),
			AllowInvalidGoBack:     w.AllowInvalidGoBack,
			AllowDeleteOpportunity: w.AllowDeleteOpportunity,
			DeleteOpportunityDate:  w.DeleteOpportunityDate,
		}
	}
	return out
}

// Every list is made non-nil here: the schema promises [] where the upstream sent null.
func toStages(in []wire.Stage) []*opportunity.Stage {
	out := make([]*opportunity.Stage, len(in))
	for i, w := range in {
		s := &opportunity.Stage{
			ID:                    w.ID,
			Name:                  w.Name,
			Rank:                  w.Rank,
			Possibility:           w.Possibility,
			Requirement:           w.Requirement,
			Remind:                w.Remind,
			RemindAfterDays:       nonNil(w.RemindAfterDays),
			Children:              toStages(w.Children),
			CustomerFields:        make([]*opportunity.CustomerField, len(w.CustomerFields)),
			RequiredOppTypeFields: make([]*opportunity.RequiredOppTypeField, len(w.RequiredOppTypeFields)),
		}
		for j, cf := range w.CustomerFields {
			s.CustomerFields[j] = &opportunity.CustomerField{FieldID: cf.FieldID, Name: cf.Name, Type: cf.Type}
		}
		for j, r := range w.RequiredOppTypeFields {
			s.RequiredOppTypeFields[j] = &opportunity.RequiredOppTypeField{
				Name: r.Name, Required: r.Required, Rank: r.Rank, Type: r.Type,
				MaxUnicode: r.MaxUnicode, ID: r.ID, Options: toOptions(r.Options), Scale: r.Scale,
			}
		}
		out[i] = s
	}
	return out
}

func toFields(in []wire.Field) []*opportunity.Field {
	out := make([]*opportunity.Field, len(in))
	for i, w := range in {
		out[i] = &opportunity.Field{
			ID: w.ID, Name: w.Name, Required: w.Required, Type: w.Type,
			Options: toOptions(w.Options), Scale: w.Scale, MaxUnicode: w.MaxUnicode,
			MinUnicode: w.MinUnicode, Pattern: w.Pattern, Rank: w.Rank,
		}
	}
	return out
}

func toOptions(in []wire.Option) []*opportunity.FieldOption {
	out := make([]*opportunity.FieldOption, len(in))
	for i, w := range in {
		out[i] = &opportunity.FieldOption{ID: w.ID, Name: w.Name}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
