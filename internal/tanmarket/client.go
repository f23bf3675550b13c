// Package tanmarket is the signed client of tanmarket's open API endpoint
// POST /api/v3/opportunity/config/get (查询商机配置).
package tanmarket

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/sony/gobreaker/v2"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// ConfigPath is the endpoint's path below the base URL.
const ConfigPath = "/api/v3/opportunity/config/get"

// Defaults for Options left zero.
const (
	DefaultAttemptTimeout = 3 * time.Second
	// DefaultBudget leaves room for two full attempts and the waits before
	// them; a third attempt gets what is left.
	DefaultBudget          = 8 * time.Second
	DefaultMaxRetries      = 2
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultMaxBodyBytes    = 16 << 20 // 16 MiB: the 40-type × 150-field case is about 3 MiB
)

// Options tunes a Client; zero values take the defaults above.
type Options struct {
	// AttemptTimeout bounds one HTTP request, reading the body included.
	AttemptTimeout time.Duration
	// Budget bounds a whole OpportunityConfig call: every attempt and every
	// wait between attempts. The caller's context may end it sooner.
	Budget time.Duration
	// MaxRetries is how many times a KindUnavailable failure is retried. It is
	// a pointer so that the zero Options gets DefaultMaxRetries (nil) while a
	// pointer to 0 turns retries off; a negative value is refused by NewClient.
	MaxRetries *int
	// BreakerFailures is how many calls in a row must end KindUnavailable
	// (after their retries) before the circuit breaker opens.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before it lets one
	// probe call through.
	BreakerCooldown time.Duration
	// OnStateChange, when set, is told every breaker transition with the
	// states named as BreakerState names them. It runs synchronously while the
	// breaker holds its lock, so it must be quick and must not call the Client.
	OnStateChange func(from, to string)
	MaxBodyBytes  int64            // larger responses are refused as KindBadResponse
	Now           func() time.Time // wall clock for the timestamp header, and for a Retry-After date when the response has no Date

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

	breaker  *gobreaker.CircuitBreaker[*opportunity.Snapshot]
	attempts atomic.Int64
	last     atomic.Pointer[lastAnswer]
}

// lastAnswer is the last answer decoded, by a hash of its whole body.
type lastAnswer struct {
	sum  [sha256.Size]byte
	snap *opportunity.Snapshot
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
	retries := DefaultMaxRetries
	if opts.MaxRetries != nil {
		if retries = *opts.MaxRetries; retries < 0 {
			return nil, fmt.Errorf("options: MaxRetries is %d, want 0 or more", retries)
		}
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
		maxTries:       uint(retries) + 1,
		maxBody:        opts.MaxBodyBytes,
		now:            opts.Now,
	}
	if c.attemptTimeout <= 0 {
		c.attemptTimeout = DefaultAttemptTimeout
	}
	if c.budget <= 0 {
		c.budget = DefaultBudget
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.breaker = newBreaker(opts)
	return c, nil
}

// Attempts returns how many HTTP requests the client has sent so far, retries
// included; calls refused by the circuit breaker send none.
func (c *Client) Attempts() int64 { return c.attempts.Load() }

// Wire shapes, as the vendor's page documents them. They stay unexported: the
// rest of the service sees only the opportunity domain.
type (
	envelope struct {
		Code    *int            `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	wireType struct {
		TypeName               string      `json:"typeName"`
		TypeID                 int         `json:"typeId"`
		DefaultType            bool        `json:"defaultType"`
		AllowSkip              bool        `json:"allowSkip"`
		AllowGoBack            bool        `json:"allowGoBack"`
		Stages                 []wireStage `json:"stages"`
		Fields                 []wireField `json:"fields"`
		AllowInvalidGoBack     bool        `json:"allowInvalidGoBack"`
		AllowDeleteOpportunity bool        `json:"allowDeleteOpportunity"`
		DeleteOpportunityDate  int         `json:"deleteOpportunityDate"`
	}
	wireStage struct {
		ID                    int                 `json:"id"`
		Name                  string              `json:"name"`
		Rank                  int                 `json:"rank"`
		Possibility           int                 `json:"possibility"`
		Requirement           string              `json:"requirement"`
		Remind                bool                `json:"remind"`
		RemindAfterDays       []string            `json:"remindAfterDays"`
		Children              []wireStage         `json:"children"`
		CustomerFields        []wireCustomerField `json:"customerFields"`
		RequiredOppTypeFields []wireRequiredField `json:"requiredOppTypeFields"`
	}
	wireCustomerField struct {
		FieldID int    `json:"fieldId"`
		Name    string `json:"name"`
		Type    int    `json:"type"`
	}
	wireRequiredField struct {
		Name       string       `json:"name"`
		Required   bool         `json:"required"`
		Rank       int          `json:"rank"`
		Type       int          `json:"type"`
		MaxUnicode int          `json:"maxUnicode"`
		ID         int          `json:"id"`
		Options    []wireOption `json:"options"`
		Scale      int          `json:"scale"`
	}
	wireField struct {
		ID         int          `json:"id"`
		Name       string       `json:"name"`
		Required   bool         `json:"required"`
		Type       int          `json:"type"`
		Options    []wireOption `json:"options"`
		Scale      int          `json:"scale"`
		MaxUnicode int          `json:"maxUnicode"`
		MinUnicode *int         `json:"minUnicode"`
		Pattern    *string      `json:"pattern"`
		Rank       int          `json:"rank"`
	}
	wireOption struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
)

// attempt sends one signed request, bounded by the attempt timeout, and
// returns the snapshot or the failure with the response's header (nil when no
// response arrived), which may hold a Retry-After.
func (c *Client) attempt(ctx context.Context) (*opportunity.Snapshot, http.Header, *Error) {
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
	snap, derr := c.decodeUnlessUnchanged(resp.StatusCode, body, sign)
	return snap, resp.Header, derr
}

// decodeUnlessUnchanged returns the last snapshot when the body is byte for
// byte the last one decoded. The configuration changes a few times a day and
// is fetched every CACHE_TTL, so most refreshes bring the same bytes: hashing
// them (25 KiB: ~15 µs) saves decoding and indexing them (~350 µs), which a
// request waiting for the refresh would pay. Snapshots are immutable, so the
// same one can be handed out again.
func (c *Client) decodeUnlessUnchanged(status int, body []byte, sign string) (*opportunity.Snapshot, *Error) {
	sum := sha256.Sum256(body)
	if last := c.last.Load(); last != nil && last.sum == sum {
		return last.snap, nil
	}
	snap, err := c.decode(status, body, sign)
	if err == nil {
		c.last.Store(&lastAnswer{sum: sum, snap: snap})
	}
	return snap, err
}

// decode reads the vendor's envelope with the v1 semantics of encoding/json
// (case-insensitive names, duplicates allowed, invalid UTF-8 replaced) but
// the faster engine of its v2 (go-json-experiment, what Go's
// GOEXPERIMENT=jsonv2 builds in): a refresh decodes the whole configuration,
// and every request that waits for a refresh pays for it.
//
// A well-formed answer is decoded in one pass (see directData); anything
// else, an error or an odd shape, is decoded again the slower, careful way.
func (c *Client) decode(status int, body []byte, sign string) (*opportunity.Snapshot, *Error) {
	env := directEnvelope{Data: directData{body: body}}
	if err := jsonv1.Unmarshal(body, &env); err == nil && env.Code != nil && *env.Code == 0 && env.Data.ok() {
		return c.snapshot(status, env.Data.types, env.Data.raw)
	}
	return c.decodeCarefully(status, body, sign)
}

// decodeCarefully decodes the envelope first, keeping data raw, so that a
// refusal is reported by its code and message, and data that is not quite
// the documented shape can be repaired.
func (c *Client) decodeCarefully(status int, body []byte, sign string) (*opportunity.Snapshot, *Error) {
	var env envelope
	if err := jsonv1.Unmarshal(body, &env); err != nil {
		return nil, &Error{Kind: KindBadResponse, Status: status, Message: "response is not the documented JSON", Err: err}
	}
	if env.Code == nil {
		return nil, &Error{Kind: KindBadResponse, Status: status, Message: "response has no code"}
	}
	if *env.Code != 0 {
		return nil, &Error{Kind: KindRejected, Status: status, Code: *env.Code, Message: c.scrub(env.Message, sign)}
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return nil, &Error{Kind: KindBadResponse, Status: status, Message: "response has no data"}
	}
	var wire []wireType
	if err := jsonv1.Unmarshal(env.Data, &wire); err != nil {
		// The vendor's own documented sample ends its recursion with
		// "children": ["string"]; one odd entry must not discard the whole
		// configuration, so such entries are dropped and decoding retried.
		// Only a response that failed the strict decode pays for this.
		var typeErr *jsonv1.UnmarshalTypeError
		cleaned, cleanErr := dropNonObjectChildren(env.Data)
		if !errors.As(err, &typeErr) || cleanErr != nil || jsonv1.Unmarshal(cleaned, &wire) != nil {
			return nil, &Error{Kind: KindBadResponse, Status: status, Message: "data is not a list of opportunity types", Err: err}
		}
	}
	return c.snapshot(status, wire, env.Data)
}

// snapshot checks the decoded types and indexes them; the version is a hash
// of data's bytes, so it changes exactly when the configuration does.
func (c *Client) snapshot(status int, wire []wireType, data []byte) (*opportunity.Snapshot, *Error) {
	if d := stageDepth(wire); d > MaxStageDepth {
		return nil, &Error{Kind: KindBadResponse, Status: status, Message: fmt.Sprintf("stages nest %d levels deep; at most %d are accepted", d, MaxStageDepth)}
	}
	sum := sha256.Sum256(data)
	return opportunity.NewSnapshot(toTypes(wire), hex.EncodeToString(sum[:8])), nil
}

// directEnvelope is the envelope with data decoded in the same pass.
type directEnvelope struct {
	Code *int       `json:"code"`
	Data directData `json:"data"`
}

// directData decodes data straight into wire types and keeps where its bytes
// lie in the body, for the version hash. Holding data as a RawMessage and
// decoding it afterwards reads it twice, a fifth of a refresh's cost.
type directData struct {
	body  []byte // the whole response, set before decoding
	types []wireType
	raw   []byte // data's bytes, within body
}

// UnmarshalJSONFrom implements jsonv2.UnmarshalerFrom; the decoder carries the
// v1 options of the outer call.
func (d *directData) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset()
	if err := jsonv2.UnmarshalDecode(dec, &d.types); err != nil {
		return err
	}
	end := dec.InputOffset()
	if start < 0 || end > int64(len(d.body)) || start > end {
		return errors.New("data: offsets outside the body") // not a decoder over body
	}
	// The offset before the value may sit before the name's colon.
	d.raw = bytes.TrimLeft(d.body[start:end], ": \t\r\n")
	return nil
}

// ok reports whether data was present and not null.
func (d *directData) ok() bool { return len(d.raw) > 0 && !bytes.Equal(d.raw, []byte("null")) }

// MaxStageDepth bounds stage nesting. Real pipelines nest a few levels; the
// bound keeps a hostile or broken response from costing depth² (every stage
// holds its path from the top).
const MaxStageDepth = 32

func stageDepth(types []wireType) int {
	var walk func([]wireStage) int
	walk = func(stages []wireStage) int {
		deepest := 0
		for _, s := range stages {
			deepest = max(deepest, walk(s.Children))
		}
		if len(stages) == 0 {
			return 0
		}
		return deepest + 1
	}
	deepest := 0
	for _, t := range types {
		deepest = max(deepest, walk(t.Stages))
	}
	return deepest
}

// dropNonObjectChildren rewrites data with every "children" entry that is not
// an object removed. It decodes generically once (numbers kept exact), so its
// cost is linear in the size of data.
func dropNonObjectChildren(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var clean func(any)
	clean = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if children, ok := v["children"].([]any); ok {
				kept := children[:0]
				for _, c := range children {
					if _, isObject := c.(map[string]any); isObject {
						kept = append(kept, c)
					}
				}
				v["children"] = kept
			}
			for _, x := range v {
				clean(x)
			}
		case []any:
			for _, x := range v {
				clean(x)
			}
		}
	}
	clean(v)
	return json.Marshal(v)
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

func toTypes(wire []wireType) []*opportunity.Type {
	out := make([]*opportunity.Type, len(wire))
	for i, w := range wire {
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
func toStages(wire []wireStage) []*opportunity.Stage {
	out := make([]*opportunity.Stage, len(wire))
	for i, w := range wire {
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

func toFields(wire []wireField) []*opportunity.Field {
	out := make([]*opportunity.Field, len(wire))
	for i, w := range wire {
		out[i] = &opportunity.Field{
			ID: w.ID, Name: w.Name, Required: w.Required, Type: w.Type,
			Options: toOptions(w.Options), Scale: w.Scale, MaxUnicode: w.MaxUnicode,
			MinUnicode: w.MinUnicode, Pattern: w.Pattern, Rank: w.Rank,
		}
	}
	return out
}

func toOptions(wire []wireOption) []*opportunity.FieldOption {
	out := make([]*opportunity.FieldOption, len(wire))
	for i, w := range wire {
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
