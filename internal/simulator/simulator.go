// Package simulator fakes tanmarket's opportunity config endpoint over real HTTP: demo dataset, signature check, faults.
package simulator

import (
	"bytes"
	"crypto/subtle"
	_ "embed" // for the demo dataset
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
)

// Path is the one endpoint the simulator serves.
const Path = "/api/v3/opportunity/config/get"

// Codes the simulator puts in the envelope's `code`. The vendor's page documents
// only 0; the others are this simulator's choice, in the vendor's style of
// answering HTTP 200 with a non-zero code.
const (
	CodeOK            = 0
	CodeMissingHeader = 40001 // appId, appKey, timestamp or sign absent or empty
	CodeUnknownApp    = 40002 // appId/appKey pair not the configured one
	CodeBadTimestamp  = 40003 // not an integer, or further than MaxSkew from now
	CodeBadSignature  = 40004 // sign does not match the recipe
	CodeBusy          = 50001 // FaultRejected
)

// maxRequestBody bounds the body read (1 MiB): the endpoint takes no
// parameters, so anything larger is a caller's bug.
const maxRequestBody = 1 << 20

// DefaultMaxSkew is the allowed |now - timestamp| when Options.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// Field type codes used in dataset.json. The vendor's page types `type` as an
// integer without listing the codes, so these are this simulator's own choice:
//
//	1 单行文本 (single-line text)   6 金额 (amount, scale = decimals)
//	2 多行文本 (multi-line text)    7 日期 (date)
//	3 单选 (single select, options) 8 日期时间 (date and time)
//	4 多选 (multi select, options)  9 手机号 (mobile number)
//	5 数字 (number, scale = decimals) 10 邮箱 (email)
//
// customerFields use the same codes.

//go:embed dataset.json
var demoDataset []byte // read-only: DemoDataset hands out copies

// DemoDataset returns a copy of the embedded dataset.json: four realistic
// opportunity types in the vendor's wire shape. The copy is the caller's to keep
// or change.
func DemoDataset() []byte { return bytes.Clone(demoDataset) }

// demoWire is the demo dataset as the simulator sends it: compact, as an API
// answers. dataset.json is indented for people to read; sent as it is, its
// whitespace would be half the bytes every client reads and decodes.
var demoWire = func() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, demoDataset); err != nil {
		panic("simulator: dataset.json is not JSON: " + err.Error()) // TestDemoDataset keeps it valid
	}
	return b.Bytes()
}()

// Fault is a failure the simulator injects into every request after SetFault.
type Fault int32

// The faults. Unknown values behave like FaultNone.
const (
	FaultNone          Fault = iota // answer normally
	FaultServerError                // HTTP 503 with a small HTML body, as a gateway would send
	FaultTimeout                    // never answer; return when the request's context is done
	FaultMalformedJSON              // HTTP 200 with the success body cut in half
	FaultRejected                   // HTTP 200 with code CodeBusy and data null
	FaultWrongShape                 // HTTP 200, code 0, but data is an object instead of an array
)

// String returns the constant's name without the Fault prefix, e.g. "timeout".
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultServerError:
		return "server-error"
	case FaultTimeout:
		return "timeout"
	case FaultMalformedJSON:
		return "malformed-json"
	case FaultRejected:
		return "rejected"
	case FaultWrongShape:
		return "wrong-shape"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// Options configures a Simulator.
type Options struct {
	Credentials signature.Credentials // what a caller must present; its AppID/AppKey must match the headers
	Recipe      signature.Recipe      // how the sign header is checked (the same recipe the client uses)
	Dataset     []byte                // JSON array of types, served verbatim; nil means DemoDataset(), compacted
	MaxSkew     time.Duration         // allowed |now - timestamp|; 0 means DefaultMaxSkew
	Now         func() time.Time      // nil means time.Now
}

// Simulator is an http.Handler that answers like tanmarket's config endpoint.
// It is safe for concurrent use, and the setters take effect for requests that
// arrive after they return. It never logs.
type Simulator struct {
	creds   signature.Credentials
	recipe  signature.Recipe
	maxSkew time.Duration
	now     func() time.Time

	latency atomic.Int64           // nanoseconds
	fault   atomic.Int32           // a Fault
	body    atomic.Pointer[[]byte] // the whole success response, built once per dataset
	calls   atomic.Int64
	respell atomic.Bool
}

// New returns a Simulator serving opts.Dataset (or the demo dataset) to callers
// that present opts.Credentials signed with opts.Recipe.
func New(opts Options) *Simulator {
	s := &Simulator{
		creds:   opts.Credentials,
		recipe:  opts.Recipe,
		maxSkew: opts.MaxSkew,
		now:     opts.Now,
	}
	if s.maxSkew <= 0 {
		s.maxSkew = DefaultMaxSkew
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.SetDataset(opts.Dataset)
	return s
}

// SetDataset swaps the served data; nil restores the demo dataset (compacted).
// Other bytes are copied and served verbatim, not validated, so that tests can
// serve any bytes they like.
func (s *Simulator) SetDataset(b []byte) {
	if b == nil {
		b = demoWire
	}
	body := wire.AppendEnvelope(nil, CodeOK, okMessage, b)
	s.body.Store(&body)
}

// okMessage is the message of a success, as the vendor words it.
const okMessage = "success"

// SetRespell makes every later success answer differ from the one before in
// its bytes but not in its data (1 to 16 spaces before the envelope's closing
// brace, by call), as an upstream whose configuration changes on every call
// would look to a client that only compares bytes. The load benchmark uses it
// to measure a refresh that must decode.
func (s *Simulator) SetRespell(on bool) { s.respell.Store(on) }

// SetLatency delays every later answer by d (negative means zero). A request
// whose context ends during the delay gets no answer.
func (s *Simulator) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetFault makes later requests fail with f; FaultNone restores normal answers.
func (s *Simulator) SetFault(f Fault) { s.fault.Store(int32(f)) }

// Calls returns how many requests reached Path so far, whatever their method,
// headers or fault: it is what the upstream would have billed or rate-limited.
func (s *Simulator) Calls() int64 { return s.calls.Load() }

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	s.calls.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	// Read the body to EOF before waiting: net/http cancels r.Context() when the
	// client hangs up only once the body is consumed, and the latency and
	// FaultTimeout rely on that cancellation to return instead of leaking.
	if n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody+1)); n > maxRequestBody {
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return
	}
	if !s.wait(r) {
		return
	}
	// Faults come before the credential check: they stand for trouble in front of
	// the vendor's application (gateway, overload), which does not read headers.
	switch Fault(s.fault.Load()) {
	case FaultServerError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n"))
		return
	case FaultTimeout:
		<-r.Context().Done()
		return
	case FaultMalformedJSON:
		// A strict prefix of a JSON object is never valid JSON: its closing brace is missing.
		body := *s.body.Load()
		writeJSON(w, body[:len(body)/2])
		return
	case FaultRejected:
		writeCode(w, CodeBusy, "系统繁忙,请稍后再试")
		return
	case FaultWrongShape:
		writeJSON(w, wire.AppendEnvelope(nil, CodeOK, okMessage, []byte(`{"list":[],"total":0}`)))
		return
	}
	if code, msg := s.check(r.Header); code != CodeOK {
		writeCode(w, code, msg)
		return
	}
	body := *s.body.Load()
	if s.respell.Load() {
		// Whitespace inside the object, after data: any JSON object ends in its brace.
		spaces := int(s.calls.Load()%16) + 1
		body = slices.Concat(body[:len(body)-1], bytes.Repeat([]byte(" "), spaces), body[len(body)-1:])
	}
	writeJSON(w, body)
}

// wait applies the latency and reports whether the request is still wanted.
func (s *Simulator) wait(r *http.Request) bool {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// check validates the four signed headers in the order a caller would fix them,
// and returns the envelope code and message of the first problem.
func (s *Simulator) check(h http.Header) (code int, msg string) {
	values := map[string]string{}
	for _, name := range []string{"appId", "appKey", "timestamp", "sign"} {
		// Header.Get canonicalises the name, so "appId" finds the server's "Appid".
		v := h.Get(name)
		if v == "" {
			return CodeMissingHeader, "缺少请求头 " + name
		}
		values[name] = v
	}
	// Both comparisons always run, so timing tells nothing about which one failed.
	idOK := subtle.ConstantTimeCompare([]byte(values["appId"]), []byte(s.creds.AppID))
	keyOK := subtle.ConstantTimeCompare([]byte(values["appKey"]), []byte(s.creds.AppKey.Reveal()))
	if idOK&keyOK != 1 {
		return CodeUnknownApp, "appId 或 appKey 无效"
	}
	ts, err := strconv.ParseInt(values["timestamp"], 10, 64)
	if err != nil {
		return CodeBadTimestamp, "timestamp 格式错误"
	}
	at := time.UnixMilli(ts)
	if s.recipe.Unit() == signature.Seconds {
		at = time.Unix(ts, 0)
	}
	// Sub saturates instead of overflowing, so absurd timestamps land outside the window.
	if skew := s.now().Sub(at); skew > s.maxSkew || skew < -s.maxSkew {
		return CodeBadTimestamp, "timestamp 已过期"
	}
	if !s.recipe.Verify(s.creds, values["timestamp"], values["sign"]) {
		return CodeBadSignature, "签名错误"
	}
	return CodeOK, ""
}

// writeCode answers HTTP 200 with a non-zero code and null data, as the vendor does.
func writeCode(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, wire.AppendEnvelope(nil, code, msg, nil))
}

// writeJSON answers HTTP 200 with body. Write errors are dropped: the client has
// gone, and the simulator never logs.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
