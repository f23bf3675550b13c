package tanmarket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// testkit's known credentials, distinctive, so that a leak is found by a
// plain substring search; the names below spell them out for the checks.
var (
	testCreds     = testkit.Creds()
	testAppID     = testCreds.AppID
	testAppKey    = testCreds.AppKey.Reveal()
	testAppSecret = testCreds.AppSecret.Reveal()
)

// fixedNow is the injected clock: 2023-11-14T22:13:20.123Z.
var fixedNow = time.UnixMilli(1700000000123)

func clock() time.Time { return fixedNow }

// The options a test client has unless its case says otherwise: the values
// internal/config documents as the service's defaults, written out because
// the client has no defaults of its own. The timings the tests expect (three
// attempts, an 8 s budget, five failures to open the breaker) follow from them.
const (
	testAttemptTimeout  = 3 * time.Second
	testBudget          = 8 * time.Second
	testMaxRetries      = 2
	testBreakerFailures = 5
	testBreakerCooldown = 30 * time.Second
	testMaxBodyBytes    = 16 << 20
)

// testOptions returns opts with every field it leaves zero set to the test
// value above, and the clock to clock, so that a case names only what it varies.
func testOptions(opts tanmarket.Options) tanmarket.Options {
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = testAttemptTimeout
	}
	if opts.Budget == 0 {
		opts.Budget = testBudget
	}
	if opts.MaxRetries == nil {
		opts.MaxRetries = new(testMaxRetries)
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = testBreakerFailures
	}
	if opts.BreakerCooldown == 0 {
		opts.BreakerCooldown = testBreakerCooldown
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = testMaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = clock
	}
	return opts
}

func newClient(t *testing.T, baseURL string, signer signature.Signer, opts tanmarket.Options) *tanmarket.Client {
	t.Helper()
	c, err := tanmarket.NewClient(baseURL, testCreds, signer, nil, testOptions(opts))
	if err != nil {
		t.Fatalf("NewClient(%q): %v", baseURL, err)
	}
	return c
}

// readTestdata reads a file of testdata/; "wire/" names one of wire's, such as
// the vendor's sample, which lives with the vendor's shape.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	dir := "testdata"
	if rest, ok := strings.CutPrefix(name, "wire/"); ok {
		dir, name = filepath.Join("wire", "testdata"), rest
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveJSON answers every request with status 200 and body.
func serveJSON(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(body)
	}
}

const emptyOK = `{"code":0,"message":"success","data":[]}`

// recorded is what the server saw of one request.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

func recorder(got *recorded, mu *sync.Mutex) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		*got = recorded{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body}
		mu.Unlock()
		serveJSON([]byte(emptyOK))(w, r)
	}
}

func TestOpportunityConfigRequest(t *testing.T) {
	secondsRecipe, err := signature.NewRecipe(signature.SHA256, signature.DefaultTemplate, signature.Seconds)
	if err != nil {
		t.Fatal(err)
	}
	hmacRecipe, err := signature.NewRecipe(signature.HMACSHA256, "{appId}:{timestamp}:{appKey}", signature.Milliseconds)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		prefix        string // appended to the server's URL to make the base URL
		recipe        signature.Recipe
		wantPath      string
		wantTimestamp string
	}{
		{"bare host, default recipe", "", signature.Default(), tanmarket.ConfigPath, "1700000000123"},
		{"trailing slash", "/", signature.Default(), tanmarket.ConfigPath, "1700000000123"},
		{"path prefix", "/gateway", signature.Default(), "/gateway" + tanmarket.ConfigPath, "1700000000123"},
		{"path prefix with trailing slash", "/gateway/v1/", signature.Default(), "/gateway/v1" + tanmarket.ConfigPath, "1700000000123"},
		{"seconds recipe", "", secondsRecipe, tanmarket.ConfigPath, "1700000000"},
		{"hmac recipe", "/", hmacRecipe, tanmarket.ConfigPath, "1700000000123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got recorded
			)
			srv := httptest.NewServer(recorder(&got, &mu))
			defer srv.Close()

			c := newClient(t, srv.URL+tt.prefix, tt.recipe, tanmarket.Options{})
			if _, err := c.OpportunityConfig(context.Background()); err != nil {
				t.Fatalf("OpportunityConfig: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()

			if got.method != http.MethodPost {
				t.Errorf("method = %q, want POST", got.method)
			}
			if got.path != tt.wantPath {
				t.Errorf("path = %q, want %q", got.path, tt.wantPath)
			}
			if got.rawQuery != "" {
				t.Errorf("query = %q, want none", got.rawQuery)
			}
			// Header.Get canonicalises, so these find "appId" however the server stored it.
			for name, want := range map[string]string{
				"appId":        testAppID,
				"appKey":       testAppKey,
				"timestamp":    tt.wantTimestamp,
				"Content-Type": "application/json",
				"Accept":       "application/json",
			} {
				if vs := got.header.Values(name); len(vs) != 1 || vs[0] != want {
					t.Errorf("header %s = %q, want exactly [%q]", name, vs, want)
				}
			}
			sign := got.header.Get("sign")
			if sign == "" {
				t.Fatal("no sign header")
			}
			if !tt.recipe.Verify(testCreds, got.header.Get("timestamp"), sign) {
				t.Errorf("sign %q does not verify for timestamp %q", sign, got.header.Get("timestamp"))
			}
			if want := tt.recipe.SignTimestamp(testCreds, tt.wantTimestamp); sign != want {
				t.Errorf("sign = %q, want %q", sign, want)
			}

			// The secret signs; it never travels.
			allowed := []string{"Appid", "Appkey", "Timestamp", "Sign", "Content-Type", "Accept",
				"Accept-Encoding", "User-Agent", "Content-Length"}
			for name, vs := range got.header {
				if !slices.Contains(allowed, name) {
					t.Errorf("unexpected request header %s: %q", name, vs)
				}
				for _, v := range vs {
					if strings.Contains(v, testAppSecret) {
						t.Errorf("header %s carries the app secret", name)
					}
				}
			}
			if bytes.Contains(got.body, []byte(testAppSecret)) || bytes.Contains(got.body, []byte(testAppKey)) {
				t.Errorf("body carries a credential: %q", got.body)
			}
			if !json.Valid(got.body) {
				t.Errorf("body %q is not JSON", got.body)
			}
		})
	}
}

// tapListener records every byte the server reads, so that a test can check the
// request exactly as it crossed the wire.
type tapListener struct {
	net.Listener
	read testkit.LogBuffer // locked: each connection is read on its own goroutine
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, l: l}, nil
}

// String returns every byte read so far.
func (l *tapListener) String() string { return l.read.String() }

type tapConn struct {
	net.Conn
	l *tapListener
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	_, _ = c.l.read.Write(p[:n]) // a LogBuffer's Write does not fail
	return n, err
}

// The vendor documents the header names as appId and appKey; net/http would
// canonicalise them to Appid and Appkey, which a case-sensitive gateway refuses.
func TestOpportunityConfigHeaderSpellingOnTheWire(t *testing.T) {
	srv := httptest.NewUnstartedServer(serveJSON([]byte(emptyOK)))
	tap := &tapListener{Listener: srv.Listener}
	srv.Listener = tap
	srv.Start()
	defer srv.Close()

	recipe := signature.Default()
	c := newClient(t, srv.URL, recipe, tanmarket.Options{})
	if _, err := c.OpportunityConfig(context.Background()); err != nil {
		t.Fatalf("OpportunityConfig: %v", err)
	}
	raw := tap.String()
	ts := recipe.Timestamp(fixedNow)
	tests := []struct {
		name string
		want string
	}{
		{"request line", "POST " + tanmarket.ConfigPath + " HTTP/1.1\r\n"},
		{"appId", "\r\nappId: " + testAppID + "\r\n"},
		{"appKey", "\r\nappKey: " + testAppKey + "\r\n"},
		{"timestamp", "\r\ntimestamp: " + ts + "\r\n"},
		{"sign", "\r\nsign: " + recipe.SignTimestamp(testCreds, ts) + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(raw, tt.want) {
				t.Errorf("raw request lacks %q:\n%s", tt.want, raw)
			}
		})
	}
	if strings.Contains(raw, testAppSecret) {
		t.Errorf("raw request carries the app secret:\n%s", raw)
	}
}

func intPtr(i int) *int       { return &i }
func strPtr(s string) *string { return &s }
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantFull is testdata/full.json in domain form. Nil slices are never expected:
// the schema promises [] where the upstream sent null.
func wantFull() []*opportunity.Type {
	budgetOptions := func() []*opportunity.FieldOption {
		return []*opportunity.FieldOption{{ID: 9001, Name: "10万以下"}, {ID: 9002, Name: "10万以上"}}
	}
	return []*opportunity.Type{
		{
			TypeName:    "新客户商机",
			TypeID:      101,
			DefaultType: true,
			AllowSkip:   false,
			AllowGoBack: true,
			Stages: []*opportunity.Stage{
				{
					ID: 11, Name: "初步接洽", Rank: 2, Possibility: 10, Requirement: "确认需求", Remind: true,
					RemindAfterDays: []string{"3", "7"},
					Children: []*opportunity.Stage{{
						ID: 111, Name: "电话沟通", Rank: 1, Possibility: 15, Requirement: "", Remind: false,
						RemindAfterDays:       []string{},
						Children:              []*opportunity.Stage{},
						CustomerFields:        []*opportunity.CustomerField{},
						RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{},
					}},
					CustomerFields: []*opportunity.CustomerField{
						{FieldID: 501, Name: "公司名称", Type: 1},
						{FieldID: 502, Name: "联系电话", Type: 3},
					},
					RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{{
						Name: "预算", Required: true, Rank: 2, Type: 5, MaxUnicode: 20, ID: 1002,
						Options: budgetOptions(), Scale: 2,
					}},
				},
				{
					ID: 12, Name: "赢单", Rank: 1, Possibility: 100, Requirement: "签约", Remind: false,
					RemindAfterDays: []string{},
					Children:        []*opportunity.Stage{},
					CustomerFields:  []*opportunity.CustomerField{},
					RequiredOppTypeFields: []*opportunity.RequiredOppTypeField{{
						Name: "备注", Required: false, Rank: 3, Type: 2, MaxUnicode: 500, ID: 1003,
						Options: []*opportunity.FieldOption{}, Scale: 0,
					}},
				},
			},
			Fields: []*opportunity.Field{
				{
					ID: 1001, Name: "商机名称", Required: true, Type: 1, Options: []*opportunity.FieldOption{},
					Scale: 0, MaxUnicode: 50, MinUnicode: intPtr(2), Pattern: strPtr("^[A-Z].*$"), Rank: 1,
				},
				{
					ID: 1002, Name: "预算", Required: false, Type: 5, Options: budgetOptions(),
					Scale: 2, MaxUnicode: 20, MinUnicode: nil, Pattern: nil, Rank: 2,
				},
				{
					// 0 and "" are values, not absence: they must stay non-nil.
					ID: 1003, Name: "备注", Required: false, Type: 2, Options: []*opportunity.FieldOption{},
					Scale: 0, MaxUnicode: 500, MinUnicode: intPtr(0), Pattern: strPtr(""), Rank: 3,
				},
			},
			AllowInvalidGoBack:     false,
			AllowDeleteOpportunity: true,
			DeleteOpportunityDate:  30,
		},
		{
			TypeName:               "续约商机",
			TypeID:                 102,
			DefaultType:            false,
			AllowSkip:              true,
			AllowGoBack:            false,
			Stages:                 []*opportunity.Stage{},
			Fields:                 []*opportunity.Field{},
			AllowInvalidGoBack:     true,
			AllowDeleteOpportunity: false,
			DeleteOpportunityDate:  7,
		},
	}
}

func TestOpportunityConfigDecodesFullResponse(t *testing.T) {
	srv := httptest.NewServer(serveJSON(readTestdata(t, "full.json")))
	defer srv.Close()
	snap, err := newClient(t, srv.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(context.Background())
	if err != nil {
		t.Fatalf("OpportunityConfig: %v", err)
	}
	// JSON of the exported fields compares every value, tells nil (null) from
	// empty ([]) and a nil pointer from a pointer to zero, and skips the
	// snapshot's back-pointers.
	if got, want := asJSON(t, snap.Types()), asJSON(t, wantFull()); got != want {
		t.Errorf("decoded types differ\ngot:\n%s\nwant:\n%s", got, want)
	}

	// The snapshot is indexed, not just decoded.
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"default type", snap.Default().TypeID, 101},
		{"type by id", snap.Type(102).TypeName, "续约商机"},
		{"child stage by id", snap.Type(101).Stage(111).Name, "电话沟通"},
		{"child's parent", snap.Type(101).Stage(111).Parent().ID, 11},
		{"field by id", snap.Field(101, 1002).Name, "预算"},
		{"required field's type", snap.Type(101).Stage(11).RequiredOppTypeFields[0].TypeID(), 101},
		{"stages in rank order", len(snap.Type(101).AllStages()), 3},
		{"first stage by rank", snap.Type(101).AllStages()[0].ID, 12},
		{"version is set", snap.Version() != "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// The upstream sends null for empty lists; every list must come out as a
// non-nil empty slice so that GraphQL answers [] and callers can range freely.
func TestOpportunityConfigNullListsBecomeEmpty(t *testing.T) {
	body := `{"code":0,"message":"","data":[
	  {"typeName":"a","typeId":1,"stages":null,"fields":null},
	  {"typeName":"b","typeId":2,
	   "stages":[{"id":1,"name":"s","remindAfterDays":null,"children":null,"customerFields":null,
	              "requiredOppTypeFields":[{"id":5,"name":"r","options":null}]}],
	   "fields":[{"id":5,"name":"f","options":null}]},
	  {"typeName":"c","typeId":3}
	]}`
	srv := httptest.NewServer(serveJSON([]byte(body)))
	defer srv.Close()
	snap, err := newClient(t, srv.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(context.Background())
	if err != nil {
		t.Fatalf("OpportunityConfig: %v", err)
	}
	a, b, c := snap.Type(1), snap.Type(2), snap.Type(3)
	if a == nil || b == nil || c == nil {
		t.Fatalf("types missing: %v %v %v", a, b, c)
	}
	tests := []struct {
		name  string
		isNil bool
		len   int
	}{
		{"null stages", a.Stages == nil, len(a.Stages)},
		{"null fields", a.Fields == nil, len(a.Fields)},
		{"absent stages", c.Stages == nil, len(c.Stages)},
		{"absent fields", c.Fields == nil, len(c.Fields)},
		{"null remindAfterDays", b.Stages[0].RemindAfterDays == nil, len(b.Stages[0].RemindAfterDays)},
		{"null children", b.Stages[0].Children == nil, len(b.Stages[0].Children)},
		{"null customerFields", b.Stages[0].CustomerFields == nil, len(b.Stages[0].CustomerFields)},
		{"null required field options", b.Stages[0].RequiredOppTypeFields[0].Options == nil, len(b.Stages[0].RequiredOppTypeFields[0].Options)},
		{"null field options", b.Fields[0].Options == nil, len(b.Fields[0].Options)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.isNil || tt.len != 0 {
				t.Errorf("nil = %v, len = %d; want a non-nil empty slice", tt.isNil, tt.len)
			}
		})
	}
}

// The brief asks that the vendor's own sample, copied verbatim, decodes. Its
// ids are all the placeholder 0, so its one child stage repeats its parent's
// id, which opportunity.Check refuses in any answer (stage_cycle): verbatim,
// the sample is refused by that rule, and with the child's id made 1 (every
// other byte as the vendor wrote it) it decodes field by field.
func TestOpportunityConfigDecodesVendorSample(t *testing.T) {
	sample := readTestdata(t, "wire/vendor_sample.json")
	verbatim := httptest.NewServer(serveJSON(sample))
	defer verbatim.Close()
	_, err := newClient(t, verbatim.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(context.Background())
	if v, ok := errors.AsType[*opportunity.Violation](err); !ok || v.Rule != opportunity.RuleStageCycle {
		t.Fatalf("OpportunityConfig on the verbatim sample: %v, want the %s rule", err, opportunity.RuleStageCycle)
	}

	// The child stage's is the second id of the sample.
	first := bytes.Index(sample, []byte(`"id": 0,`)) + 1
	child := first + bytes.Index(sample[first:], []byte(`"id": 0,`))
	numbered := slices.Concat(sample[:child], []byte(`"id": 1,`), sample[child+len(`"id": 0,`):])
	srv := httptest.NewServer(serveJSON(numbered))
	defer srv.Close()
	snap, err := newClient(t, srv.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(context.Background())
	if err != nil {
		t.Fatalf("OpportunityConfig on the vendor's sample: %v", err)
	}
	types := snap.Types()
	if len(types) != 1 {
		t.Fatalf("got %d types, want 1", len(types))
	}
	typ := types[0]
	st := typ.Stages[0]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"typeName", typ.TypeName, "string"},
		{"typeId", typ.TypeID, 0},
		{"defaultType", typ.DefaultType, true},
		{"allowSkip", typ.AllowSkip, true},
		{"allowGoBack", typ.AllowGoBack, true},
		{"allowInvalidGoBack", typ.AllowInvalidGoBack, true},
		{"allowDeleteOpportunity", typ.AllowDeleteOpportunity, true},
		{"deleteOpportunityDate", typ.DeleteOpportunityDate, 0},
		{"stage name", st.Name, "string"},
		{"stage remind", st.Remind, true},
		{"stage remindAfterDays", fmt.Sprint(st.RemindAfterDays), "[string]"},
		{"child count", len(st.Children), 1},
		{"child name", st.Children[0].Name, "string"},
		{"child customerFields non-nil", st.Children[0].CustomerFields != nil, true},
		{"child requiredOppTypeFields non-nil", st.Children[0].RequiredOppTypeFields != nil, true},
		{"customer field", *st.CustomerFields[0], opportunity.CustomerField{FieldID: 0, Name: "string", Type: 0}},
		{"required field required", st.RequiredOppTypeFields[0].Required, true},
		{"required field option", *st.RequiredOppTypeFields[0].Options[0], opportunity.FieldOption{ID: 0, Name: "string"}},
		{"field required", typ.Fields[0].Required, true},
		{"field option", *typ.Fields[0].Options[0], opportunity.FieldOption{ID: 0, Name: "string"}},
		{"field minUnicode nil", typ.Fields[0].MinUnicode == nil, true},
		{"field pattern nil", typ.Fields[0].Pattern == nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestSnapshotVersion(t *testing.T) {
	var (
		mu   sync.Mutex
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b := body
		mu.Unlock()
		serveJSON(b)(w, r)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, signature.Default(), tanmarket.Options{})
	versionOf := func(t *testing.T, b string) string {
		t.Helper()
		mu.Lock()
		body = []byte(b)
		mu.Unlock()
		snap, err := c.OpportunityConfig(context.Background())
		if err != nil {
			t.Fatalf("OpportunityConfig: %v", err)
		}
		if snap.Version() == "" {
			t.Fatal("empty version")
		}
		return snap.Version()
	}
	const (
		base        = `{"code":0,"message":"success","data":[{"typeName":"a","typeId":1}]}`
		otherMsg    = `{"code":0,"message":"ok","data":[{"typeName":"a","typeId":1}]}`
		renamed     = `{"code":0,"message":"success","data":[{"typeName":"b","typeId":1}]}`
		anotherType = `{"code":0,"message":"success","data":[{"typeName":"a","typeId":1},{"typeName":"c","typeId":2}]}`
	)
	tests := []struct {
		name      string
		a, b      string
		wantEqual bool
	}{
		{"same data twice", base, base, true},
		{"only the message differs", base, otherMsg, true},
		{"renamed type", base, renamed, false},
		{"added type", base, anotherType, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			va, vb := versionOf(t, tt.a), versionOf(t, tt.b)
			if (va == vb) != tt.wantEqual {
				t.Errorf("versions %q and %q: equal = %v, want %v", va, vb, va == vb, tt.wantEqual)
			}
		})
	}
}

// handlerMaker builds a case's handler; started is closed once the request
// has reached the server, for cases that cancel mid-flight.
type handlerMaker func(started chan<- struct{}) http.HandlerFunc

func status(code int) handlerMaker {
	return func(chan<- struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, "<html><body>error page</body></html>")
		}
	}
}

func respond(contentType, body string) handlerMaker {
	return func(chan<- struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			_, _ = io.WriteString(w, body)
		}
	}
}

// drainBody reads the request body to its end: only then does net/http watch
// the connection, so that r.Context() ends when the client goes away.
func drainBody(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }

func blockUntilGone(started chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		drainBody(r)
		close(started)
		<-r.Context().Done()
	}
}

// blockInBody sends the status line and part of the body, then stalls.
func blockInBody(started chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		drainBody(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"code":0,"data":[`)
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}
}

func TestOpportunityConfigFailures(t *testing.T) {
	sentinels := []error{tanmarket.ErrUnavailable, tanmarket.ErrRejected, tanmarket.ErrBadResponse}
	tests := []struct {
		name    string
		handler handlerMaker // nil: the server is closed before the call
		timeout time.Duration
		cancel  bool // cancel the caller's context once the request reaches the server

		wantIs      error
		wantAlso    error // a cause the chain must also hold, e.g. context.DeadlineExceeded
		wantStatus  int
		wantCode    int
		wantMessage string // exact Error.Message when set
	}{
		{name: "connection refused", handler: nil, wantIs: tanmarket.ErrUnavailable},
		{name: "timeout before headers", handler: blockUntilGone, timeout: 50 * time.Millisecond,
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.DeadlineExceeded},
		{name: "timeout inside the body", handler: blockInBody, timeout: 50 * time.Millisecond,
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.DeadlineExceeded, wantStatus: 200},
		{name: "caller cancels", handler: blockUntilGone, cancel: true,
			wantIs: tanmarket.ErrUnavailable, wantAlso: context.Canceled},
		{name: "500", handler: status(500), wantIs: tanmarket.ErrUnavailable, wantStatus: 500},
		{name: "502", handler: status(502), wantIs: tanmarket.ErrUnavailable, wantStatus: 502},
		{name: "503", handler: status(503), wantIs: tanmarket.ErrUnavailable, wantStatus: 503},
		{name: "429", handler: status(429), wantIs: tanmarket.ErrUnavailable, wantStatus: 429},
		{name: "408", handler: status(408), wantIs: tanmarket.ErrUnavailable, wantStatus: 408},
		{name: "401", handler: status(401), wantIs: tanmarket.ErrRejected, wantStatus: 401},
		{name: "403", handler: status(403), wantIs: tanmarket.ErrRejected, wantStatus: 403},
		{name: "404", handler: status(404), wantIs: tanmarket.ErrRejected, wantStatus: 404},
		{name: "non-zero code", handler: respond("application/json", `{"code":40013,"message":"签名错误","data":null}`),
			wantIs: tanmarket.ErrRejected, wantStatus: 200, wantCode: 40013, wantMessage: "签名错误"},
		{name: "non-zero code with data", handler: respond("application/json", `{"code":-1,"message":"busy","data":[]}`),
			wantIs: tanmarket.ErrRejected, wantStatus: 200, wantCode: -1, wantMessage: "busy"},
		{name: "malformed JSON", handler: respond("application/json", `{"code":0,"message":"success","data":[{"typeName":`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "empty body", handler: respond("application/json", ``),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "data is an object", handler: respond("application/json", `{"code":0,"message":"success","data":{"list":[],"total":0}}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "data is null", handler: respond("application/json", `{"code":0,"message":"success","data":null}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "data is missing", handler: respond("application/json", `{"code":0,"message":"success"}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "code is missing", handler: respond("application/json", `{"message":"success","data":[]}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "code is null", handler: respond("application/json", `{"code":null,"message":"success","data":[]}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "a type has the wrong shape", handler: respond("application/json", `{"code":0,"message":"","data":[{"typeId":"one"}]}`),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
		{name: "HTML 200 page", handler: respond("text/html", "<!DOCTYPE html><html><body>login</body></html>"),
			wantIs: tanmarket.ErrBadResponse, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			var srv *httptest.Server
			if tt.handler == nil {
				srv = httptest.NewServer(http.NotFoundHandler())
				srv.Close()
			} else {
				srv = httptest.NewServer(tt.handler(started))
				defer srv.Close()
			}
			// No retries: this table checks how one answer is classified;
			// resilience_test.go covers retrying.
			c := newClient(t, srv.URL, signature.Default(), tanmarket.Options{AttemptTimeout: tt.timeout, MaxRetries: new(0)})

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					<-started
					cancel()
				}()
			}
			snap, err := c.OpportunityConfig(ctx)
			if err == nil {
				t.Fatalf("got snapshot %v, want an error", snap)
			}
			if snap != nil {
				t.Errorf("got a snapshot alongside error %v", err)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tt.wantIs; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v; err: %v", s, got, want, err)
				}
			}
			if tt.wantAlso != nil && !errors.Is(err, tt.wantAlso) {
				t.Errorf("errors.Is(err, %v) = false; err: %v", tt.wantAlso, err)
			}
			var e *tanmarket.Error
			if !errors.As(err, &e) {
				t.Fatalf("errors.As(*tanmarket.Error) = false for %T %v", err, err)
			}
			wantKind := map[error]tanmarket.Kind{
				tanmarket.ErrUnavailable: tanmarket.KindUnavailable,
				tanmarket.ErrRejected:    tanmarket.KindRejected,
				tanmarket.ErrBadResponse: tanmarket.KindBadResponse,
			}[tt.wantIs]
			if e.Kind != wantKind {
				t.Errorf("Kind = %v, want %v", e.Kind, wantKind)
			}
			if e.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", e.Status, tt.wantStatus)
			}
			if e.Code != tt.wantCode {
				t.Errorf("Code = %d, want %d", e.Code, tt.wantCode)
			}
			if tt.wantMessage != "" && e.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", e.Message, tt.wantMessage)
			}
			if e.Message == "" {
				t.Error("empty Message")
			}
			if !strings.Contains(err.Error(), e.Message) {
				t.Errorf("Error() %q does not show Message %q", err.Error(), e.Message)
			}
			if strings.Contains(err.Error(), "<html") || strings.Contains(err.Error(), "<!DOCTYPE") {
				t.Errorf("Error() shows the HTML page: %q", err.Error())
			}
		})
	}
}

// A caller whose context is already done gets no request at all.
func TestOpportunityConfigCancelledBeforeTheCall(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		serveJSON([]byte(emptyOK))(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(t, srv.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(ctx)
	if !errors.Is(err, tanmarket.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("server saw %d calls, want 0", calls)
	}
}

func TestOpportunityConfigMaxBodyBytes(t *testing.T) {
	const limit = 4096
	// Trailing whitespace keeps the body valid JSON at any padded size.
	bodyOfSize := func(n int) string { return emptyOK + strings.Repeat(" ", n-len(emptyOK)) }
	tests := []struct {
		name    string
		size    int
		maxBody int64
		wantErr error
	}{
		{"well under the limit", len(emptyOK), limit, nil},
		{"one byte under the limit", limit - 1, limit, nil},
		{"exactly at the limit", limit, limit, nil},
		{"one byte over the limit", limit + 1, limit, tanmarket.ErrBadResponse},
		{"far over the limit", 10 * limit, limit, tanmarket.ErrBadResponse},
		{"the documented 16 MiB limit takes a 1 MiB body", 1 << 20, testMaxBodyBytes, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bodyOfSize(tt.size)
			if len(body) != tt.size {
				t.Fatalf("test body is %d bytes, want %d", len(body), tt.size)
			}
			srv := httptest.NewServer(serveJSON([]byte(body)))
			defer srv.Close()
			c := newClient(t, srv.URL, signature.Default(), tanmarket.Options{MaxBodyBytes: tt.maxBody})
			snap, err := c.OpportunityConfig(context.Background())
			if tt.wantErr == nil {
				if err != nil || snap == nil {
					t.Fatalf("OpportunityConfig = %v, %v; want a snapshot", snap, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var e *tanmarket.Error
			if !errors.As(err, &e) || e.Status != 200 || e.Kind != tanmarket.KindBadResponse {
				t.Errorf("err = %#v, want a KindBadResponse *Error with Status 200", err)
			}
		})
	}
}

// rawStatusLine answers with a hand-written status line, so that the upstream
// controls the reason phrase too (net/http only writes the standard one).
func rawStatusLine(code int, reason func(r *http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, reason(r))
		_ = buf.Flush()
	}
}

func echoCredentials(r *http.Request) string {
	return fmt.Sprintf("appKey=%s secret=%s sign=%s", r.Header.Get("appKey"), testAppSecret, r.Header.Get("sign"))
}

func TestErrorsDoNotShowSecrets(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: the server is closed before the call
		prefix  string           // appended to the base URL
		wantIs  error
		// wantAlso checks that scrubbing keeps the error chain intact.
		wantAlso error
	}{
		{
			name: "upstream message echoes the credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := json.Marshal(map[string]any{"code": 40013, "message": "bad request: " + echoCredentials(r), "data": nil})
				serveJSON(b)(w, r)
			},
			wantIs: tanmarket.ErrRejected,
		},
		{
			name: "upstream message is only the sign",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := json.Marshal(map[string]any{"code": 1, "message": r.Header.Get("sign")})
				serveJSON(b)(w, r)
			},
			wantIs: tanmarket.ErrRejected,
		},
		{
			name:   "network error on a URL holding the credentials",
			prefix: "/" + testAppKey + "/" + testAppSecret,
			wantIs: tanmarket.ErrUnavailable,
		},
		{
			name: "timeout on a URL holding the credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				drainBody(r)
				<-r.Context().Done()
			},
			prefix:   "/" + testAppKey + "/" + testAppSecret,
			wantIs:   tanmarket.ErrUnavailable,
			wantAlso: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			if tt.handler == nil {
				srv = httptest.NewServer(http.NotFoundHandler())
				srv.Close()
			} else {
				srv = httptest.NewServer(tt.handler)
				defer srv.Close()
			}
			c := newClient(t, srv.URL+tt.prefix, signature.Default(), tanmarket.Options{AttemptTimeout: 50 * time.Millisecond, MaxRetries: new(0)})
			_, err := c.OpportunityConfig(context.Background())
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			if tt.wantAlso != nil && !errors.Is(err, tt.wantAlso) {
				t.Errorf("errors.Is(err, %v) = false after scrubbing; err: %v", tt.wantAlso, err)
			}
			assertNoSecrets(t, err)
		})
	}
}

func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	sign := signature.Default().SignTimestamp(testCreds, signature.Default().Timestamp(fixedNow))
	for _, format := range []string{"%v", "%+v", "%s", "%q"} {
		text := fmt.Sprintf(format, err)
		for name, secret := range map[string]string{"appKey": testAppKey, "appSecret": testAppSecret, "sign": sign} {
			if strings.Contains(text, secret) {
				t.Errorf("%s of the error shows the %s: %s", format, name, text)
			}
		}
	}
	if text := err.Error(); strings.Contains(text, testAppKey) || strings.Contains(text, testAppSecret) || strings.Contains(text, sign) {
		t.Errorf("Error() shows a credential: %s", text)
	}
}

// The status line's reason phrase is upstream text like `message`, but it is
// shown unscrubbed.
func TestErrorsDoNotShowSecretsFromStatusLine(t *testing.T) {

	tests := []struct {
		name   string
		code   int
		wantIs error
	}{
		{"401 echoes the credentials", 401, tanmarket.ErrRejected},
		{"502 echoes the credentials", 502, tanmarket.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(rawStatusLine(tt.code, echoCredentials))
			defer srv.Close()
			_, err := newClient(t, srv.URL, signature.Default(), tanmarket.Options{}).OpportunityConfig(context.Background())
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestNewClientRejectsBadBaseURLs(t *testing.T) {
	const password = "pw-SECRET-789"
	tests := []struct {
		name    string
		baseURL string
	}{
		{"empty", ""},
		{"no scheme", "example.com"},
		{"no scheme with path", "example.com/api"},
		{"ftp", "ftp://example.com"},
		{"file", "file:///etc/passwd"},
		{"query string", "https://example.com?x=1"},
		{"fragment", "https://example.com/#top"},
		{"empty host", "https://"},
		{"empty host with path", "http:///api"},
		{"password with query", "https://u:" + password + "@example.com/?x=1"},
		{"password with ftp", "ftp://u:" + password + "@example.com"},
		{"password, no host", "https://u:" + password + "@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tanmarket.NewClient(tt.baseURL, testCreds, signature.Default(), nil, testOptions(tanmarket.Options{}))
			if err == nil {
				t.Fatalf("NewClient(%q) succeeded, want an error", tt.baseURL)
			}
			if c != nil {
				t.Errorf("NewClient(%q) returned a client with its error", tt.baseURL)
			}
			for _, format := range []string{"%v", "%+v"} {
				if text := fmt.Sprintf(format, err); strings.Contains(text, password) {
					t.Errorf("error shows the password: %s", text)
				}
			}
		})
	}
}

func TestNewClientRedactsUnparsableURLs(t *testing.T) {

	const password = "pw-SECRET-789"
	tests := []struct {
		name    string
		baseURL string
	}{
		{"bad port", "https://u:" + password + "@example.com:port/"},
		{"space in host", "https://u:" + password + "@exa mple.com"},
		{"control character", "https://u:" + password + "@example.com/\x7f"},
		{"no scheme, userinfo first", "u:" + password + "@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tanmarket.NewClient(tt.baseURL, testCreds, signature.Default(), nil, testOptions(tanmarket.Options{}))
			if err == nil {
				t.Fatalf("NewClient(%q) succeeded, want an error", tt.baseURL)
			}
			if text := fmt.Sprintf("%+v", err); strings.Contains(text, password) {
				t.Errorf("error shows the password: %s", text)
			}
		})
	}
}

// A bare "?" sets url.URL.ForceQuery with an empty RawQuery; the endpoint
// then becomes https://example.com/?/api/v3/opportunity/config/get and the
// request goes to "/" with the config path as its query.
func TestNewClientRejectsEmptyQuery(t *testing.T) {

	tests := []struct {
		name    string
		baseURL string
	}{
		{"bare question mark", "https://example.com?"},
		{"question mark after slash", "https://example.com/prefix/?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tanmarket.NewClient(tt.baseURL, testCreds, signature.Default(), nil, testOptions(tanmarket.Options{})); err == nil {
				t.Errorf("NewClient(%q) succeeded, want an error", tt.baseURL)
			}
		})
	}
}

// Secret redacts itself through its String method, but fmt cannot call methods
// on unexported fields, so a Client printed whole shows the raw credentials.
func TestClientDoesNotPrintSecrets(t *testing.T) {

	c := newClient(t, "https://example.com", signature.Default(), tanmarket.Options{})
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		t.Run(format, func(t *testing.T) {
			text := fmt.Sprintf(format, c)
			if strings.Contains(text, testAppKey) || strings.Contains(text, testAppSecret) {
				t.Errorf("%s of the client shows a credential: %s", format, text)
			}
		})
	}
}

func TestNewClientAcceptsGoodBaseURLs(t *testing.T) {
	tests := []struct {
		name    string
		baseURL string
	}{
		{"http", "http://example.com"},
		{"https with port", "https://example.com:8443"},
		{"prefix", "https://example.com/gateway"},
		{"prefix with slash", "https://example.com/gateway/"},
		{"ipv6", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tanmarket.NewClient(tt.baseURL, testCreds, signature.Default(), nil, testOptions(tanmarket.Options{})); err != nil {
				t.Errorf("NewClient(%q): %v", tt.baseURL, err)
			}
		})
	}
}

// The client and the simulator share the recipe: a correctly signed call
// succeeds and the simulator's failures arrive classified.
func TestOpportunityConfigAgainstSimulator(t *testing.T) {
	wrongSecret := testCreds
	wrongSecret.AppSecret = signature.NewSecret("not-the-secret")
	tests := []struct {
		name      string
		creds     signature.Credentials
		fault     simulator.Fault
		wantIs    error
		wantCalls int64 // only unavailable answers are retried, testMaxRetries times
	}{
		{"signed call succeeds", testCreds, simulator.FaultNone, nil, 1},
		{"wrong secret is rejected", wrongSecret, simulator.FaultNone, tanmarket.ErrRejected, 1},
		{"server error is unavailable", testCreds, simulator.FaultServerError, tanmarket.ErrUnavailable, 3},
		{"wrong shape is a bad response", testCreds, simulator.FaultWrongShape, tanmarket.ErrBadResponse, 1},
		{"malformed JSON is a bad response", testCreds, simulator.FaultMalformedJSON, tanmarket.ErrBadResponse, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := simulator.New(simulator.Options{Credentials: testCreds, Recipe: signature.Default(), Now: clock})
			sim.SetFault(tt.fault)
			srv := httptest.NewServer(sim)
			defer srv.Close()
			c, err := tanmarket.NewClient(srv.URL, tt.creds, signature.Default(), srv.Client(), testOptions(tanmarket.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := c.OpportunityConfig(context.Background())
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("OpportunityConfig: %v", err)
				}
				if len(snap.Types()) == 0 {
					t.Error("the simulator's dataset decoded to no types")
				}
			} else if !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			if got := sim.Calls(); got != tt.wantCalls {
				t.Errorf("simulator saw %d calls, want %d", got, tt.wantCalls)
			}
			if got := c.Attempts(); got != tt.wantCalls {
				t.Errorf("client counted %d attempts, want %d", got, tt.wantCalls)
			}
		})
	}
}

// TestUnchangedAnswerKeepsTheSnapshot: a refresh that brings the same bytes
// as the last one decoded hands out that snapshot again, without decoding;
// any change of the bytes is decoded, and a failed refresh changes nothing.
func TestUnchangedAnswerKeepsTheSnapshot(t *testing.T) {
	sim := simulator.New(simulator.Options{Credentials: testCreds, Recipe: signature.Default(), Now: clock})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := tanmarket.NewClient(srv.URL, testCreds, signature.Default(), srv.Client(), testOptions(tanmarket.Options{MaxRetries: new(0)}))
	if err != nil {
		t.Fatal(err)
	}
	changed := []byte(`[{"typeName":"only","typeId":7}]`)
	var prev *opportunity.Snapshot
	steps := []struct {
		name     string
		set      func()
		wantErr  bool
		wantSame bool // the same *Snapshot as the step before's
	}{
		{"first fetch", func() {}, false, false},
		{"same bytes", func() {}, false, true},
		{"same bytes again", func() {}, false, true},
		{"a failed refresh", func() { sim.SetFault(simulator.FaultMalformedJSON) }, true, false},
		{"same bytes after the failure", func() { sim.SetFault(simulator.FaultNone) }, false, true},
		{"changed data", func() { sim.SetDataset(changed) }, false, false},
		{"changed data again", func() {}, false, true},
		{"the demo back", func() { sim.SetDataset(nil) }, false, false},
	}
	for _, s := range steps {
		s.set()
		snap, err := c.OpportunityConfig(context.Background())
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: err %v, want error %v", s.name, err, s.wantErr)
		}
		if err != nil {
			continue // prev stays the last good snapshot
		}
		if same := snap == prev; same != s.wantSame {
			t.Errorf("%s: same snapshot %v, want %v", s.name, same, s.wantSame)
		}
		prev = snap
	}
	if got := len(prev.Types()); got != 4 {
		t.Errorf("the demo back: %d types, want 4", got)
	}
}
