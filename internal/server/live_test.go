package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"runtime"
	rmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// Live configuration (graph/schema/live.graphqls) through the real handler:
// GraphQL over SSE and graphql-transport-ws over a real WebSocket, against
// the simulator, whose data the tests change.

const changeSubscription = `subscription { opportunityConfigChanged { version fetchedAt changedTypeIds stale } }`

// change is one event's data.
type change struct {
	Version        string
	FetchedAt      string
	ChangedTypeIDs []int `json:"changedTypeIds"`
	Stale          bool
}

// sseStream is an open GraphQL-over-SSE stream.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
}

type sseEvent struct {
	name string // "next", "complete"
	data string
}

// openSSE posts the subscription with Accept: text/event-stream, as the
// graphql-sse client does in its distinct-connections mode, and reads its
// events in the background.
func openSSE(t *testing.T, url string, header http.Header) *sseStream {
	t.Helper()
	return openSubscription(t, url, header, map[string]any{"query": changeSubscription})
}

// openSubscription is openSSE with a request body of its own.
func openSubscription(t *testing.T, url string, header http.Header, request map[string]any) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	body, _ := json.Marshal(request)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/query", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	s := &sseStream{resp: resp, events: make(chan sseEvent, 16)}
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

// next reads the stream's next event within wait.
func (s *sseStream) next(t *testing.T, wait time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(wait):
		return sseEvent{}, false
	}
}

// nextChange reads the next event and decodes its change.
func (s *sseStream) nextChange(t *testing.T) change {
	t.Helper()
	ev, ok := s.next(t, 3*time.Second)
	if !ok || ev.name != "next" {
		t.Fatalf("no next event within 3s (got %+v, open %v)", ev, ok)
	}
	return s.decode(t, ev)
}

// decode is an event's change.
func (s *sseStream) decode(t *testing.T, ev sseEvent) change {
	t.Helper()
	var r struct {
		Data   struct{ OpportunityConfigChanged change }
		Errors []any
	}
	if err := json.Unmarshal([]byte(ev.data), &r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("event %s: %v", ev.data, err)
	}
	return r.Data.OpportunityConfigChanged
}

// TestSubscriptionOverSSE: the current version at once; a change of the
// upstream's data after the TTL is an event naming the changed type; a
// refresh with the same bytes sends nothing; streams are not stored.
func TestSubscriptionOverSSE(t *testing.T) {
	s := teststack.New(t, teststack.Options{
		Dataset: []byte(`[{"typeName":"一","typeId":1},{"typeName":"二","typeId":2}]`),
		Env:     map[string]string{"RESPONSE_CACHE": "true"},
	})
	st := openSSE(t, s.Server.URL, nil)
	if st.resp.StatusCode != http.StatusOK || st.resp.Header.Get("Content-Type") != "text/event-stream" || st.resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("status %d, headers %v", st.resp.StatusCode, st.resp.Header)
	}
	first := st.nextChange(t)
	if first.Version == "" || first.Stale || len(first.ChangedTypeIDs) != 0 || first.ChangedTypeIDs == nil {
		t.Fatalf("first event %+v", first)
	}
	if _, err := time.Parse(time.RFC3339, first.FetchedAt); err != nil {
		t.Fatalf("fetchedAt %q: %v", first.FetchedAt, err)
	}
	metrics, err := http.Get(s.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(metrics.Body)
	_ = metrics.Body.Close()
	if !strings.Contains(string(page), "\ngraphql_streams_open 1\n") {
		t.Errorf("/metrics does not count the open stream:\n%s", page)
	}

	s.Expire(t, 31*time.Second) // the same bytes: no event
	if ev, ok := st.next(t, time.Second); ok {
		t.Fatalf("an unchanged refresh sent %+v", ev)
	}

	s.Sim.SetDataset([]byte(`[{"typeName":"一","typeId":1},{"typeName":"贰","typeId":2}]`))
	s.Expire(t, 31*time.Second)
	got := st.nextChange(t)
	if got.Version == first.Version || len(got.ChangedTypeIDs) != 1 || got.ChangedTypeIDs[0] != 2 || got.Stale {
		t.Fatalf("change event %+v after %+v", got, first)
	}
	if s.Service.Responses != nil {
		if entries, _, _, _ := s.Service.Responses.Stats(); entries != 0 {
			t.Fatalf("a stream was stored in the response cache: %d entries", entries)
		}
	}
}

// TestChangeEncodedPerSelection: the subscribers of one change share its
// encoding per selection (graph's encodedOnce), and each still gets exactly
// its own selection's answer: the same document thrice, another with an
// alias, __typename and a fragment, and one whose @include reads a variable,
// true for one subscriber and false for the other.
func TestChangeEncodedPerSelection(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(`[{"typeName":"一","typeId":1},{"typeName":"二","typeId":2}]`)})
	const aliased = `subscription { c: opportunityConfigChanged { __typename v: version ...F } } fragment F on OpportunityConfigChange { changedTypeIds }`
	const conditional = `subscription($x: Boolean!) { opportunityConfigChanged { version stale @include(if: $x) } }`
	streams := []struct {
		request map[string]any
		want    string // the change's data, with V for its version, F for its fetchedAt
	}{
		{map[string]any{"query": changeSubscription}, `{"opportunityConfigChanged":{"version":"V","fetchedAt":"F","changedTypeIds":[2],"stale":false}}`},
		{map[string]any{"query": changeSubscription}, `{"opportunityConfigChanged":{"version":"V","fetchedAt":"F","changedTypeIds":[2],"stale":false}}`},
		{map[string]any{"query": aliased}, `{"c":{"__typename":"OpportunityConfigChange","v":"V","changedTypeIds":[2]}}`},
		{map[string]any{"query": changeSubscription}, `{"opportunityConfigChanged":{"version":"V","fetchedAt":"F","changedTypeIds":[2],"stale":false}}`},
		{map[string]any{"query": conditional, "variables": map[string]any{"x": true}}, `{"opportunityConfigChanged":{"version":"V","stale":false}}`},
		{map[string]any{"query": conditional, "variables": map[string]any{"x": false}}, `{"opportunityConfigChanged":{"version":"V"}}`},
	}
	opened := make([]*sseStream, len(streams))
	for i, st := range streams {
		opened[i] = openSubscription(t, s.Server.URL, nil, st.request)
		if ev, ok := opened[i].next(t, 3*time.Second); !ok || ev.name != "next" {
			t.Fatalf("stream %d: no first event (%+v)", i, ev)
		}
	}
	s.Sim.SetDataset([]byte(`[{"typeName":"一","typeId":1},{"typeName":"贰","typeId":2}]`))
	s.Expire(t, 31*time.Second)
	var version, fetchedAt string
	for i, st := range streams {
		ev, ok := opened[i].next(t, 3*time.Second)
		if !ok || ev.name != "next" {
			t.Fatalf("stream %d: no change event (%+v)", i, ev)
		}
		if i == 0 {
			c := opened[i].decode(t, ev)
			version, fetchedAt = c.Version, c.FetchedAt
		}
		want := `{"data":` + strings.NewReplacer(`"V"`, `"`+version+`"`, `"F"`, `"`+fetchedAt+`"`).Replace(st.want) + `}`
		if ev.data != want {
			t.Errorf("stream %d (%s): event\n%s\nwant\n%s", i, st.request["query"], ev.data, want)
		}
	}
}

// wsClient speaks graphql-transport-ws over a real WebSocket.
type wsClient struct {
	conn *coderws.Conn
	ctx  context.Context
}

func dialWS(t *testing.T, url string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	conn, resp, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/query", &coderws.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &wsClient{conn: conn, ctx: ctx}, resp, nil
}

func (c *wsClient) send(t *testing.T, msg map[string]any) {
	t.Helper()
	if err := wsjson.Write(c.ctx, c.conn, msg); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message that is not a ping (answered with a pong).
func (c *wsClient) read(t *testing.T) (map[string]any, error) {
	t.Helper()
	for {
		var m map[string]any
		if err := wsjson.Read(c.ctx, c.conn, &m); err != nil {
			return nil, err
		}
		if m["type"] == "ping" {
			c.send(t, map[string]any{"type": "pong"})
			continue
		}
		return m, nil
	}
}

// TestSubscriptionOverWebSocket: connection_init, ack, the first event, a
// change, then shutdown completes the subscription and closes the
// connection cleanly.
func TestSubscriptionOverWebSocket(t *testing.T) {
	s := teststack.New(t, teststack.Options{Dataset: []byte(`[{"typeName":"一","typeId":1}]`)})
	c, _, err := dialWS(t, s.Server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.conn.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q", c.conn.Subprotocol())
	}
	c.send(t, map[string]any{"type": "connection_init"})
	if m, err := c.read(t); err != nil || m["type"] != "connection_ack" {
		t.Fatalf("after connection_init: %v, %v", m, err)
	}
	c.send(t, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": changeSubscription}})
	event := func() change {
		t.Helper()
		m, err := c.read(t)
		if err != nil || m["type"] != "next" || m["id"] != "1" {
			t.Fatalf("want next: %v, %v", m, err)
		}
		b, _ := json.Marshal(m["payload"])
		var r struct {
			Data struct{ OpportunityConfigChanged change }
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r.Data.OpportunityConfigChanged
	}
	first := event()
	s.Sim.SetDataset([]byte(`[{"typeName":"壹","typeId":1}]`))
	s.Expire(t, 31*time.Second)
	if got := event(); got.Version == first.Version || len(got.ChangedTypeIDs) != 1 || got.ChangedTypeIDs[0] != 1 {
		t.Fatalf("change %+v after %+v", got, first)
	}

	go s.Service.Close() // what shutdown does to streams
	if m, err := c.read(t); err != nil || m["type"] != "complete" || m["id"] != "1" {
		t.Fatalf("at shutdown, want complete: %v, %v", m, err)
	}
	_, err = c.read(t)
	if coderws.CloseStatus(err) != coderws.StatusNormalClosure {
		t.Fatalf("at shutdown, want a normal close; got %v", err)
	}
}

// TestStreamLimits: MAX_STREAMS_PER_CLIENT refuses with 429 RATE_LIMITED,
// MAX_STREAMS with 503 OVERLOADED, both before the stream opens; a stream
// closed by its client frees its place; streams are not counted by the
// request rate limit.
func TestStreamLimits(t *testing.T) {
	keys := []string{"one-key-0123456789", "two-key-0123456789", "three-key-0123456789"}
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"MAX_STREAMS": "2", "MAX_STREAMS_PER_CLIENT": "1", "RATE_LIMIT": "1",
		"AUTH_MODE": "apikey", "AUTH_API_KEYS": "one:" + keys[0] + ",two:" + keys[1] + ",three:" + keys[2],
	}})
	key := func(i int) http.Header { return http.Header{"X-Api-Key": {keys[i]}} }
	first := openSSE(t, s.Server.URL, key(0))
	first.nextChange(t)
	// In order, each stream left open (for the test's whole length: a
	// subtest's cleanup would close it).
	tests := []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"the same client's second stream", key(0), http.StatusTooManyRequests, "RATE_LIMITED"},
		{"another client's", key(1), http.StatusOK, ""},
		{"a third client's, over MAX_STREAMS", key(2), http.StatusServiceUnavailable, "OVERLOADED"},
	}
	for _, tt := range tests {
		st := openSSE(t, s.Server.URL, tt.header)
		if st.resp.StatusCode != tt.status {
			t.Fatalf("%s: status %d, want %d", tt.name, st.resp.StatusCode, tt.status)
		}
		if tt.code != "" {
			assertStreamRefusal(t, st.resp, tt.code)
			continue
		}
		st.nextChange(t)
	}
	_ = first.resp.Body.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		st := openSSE(t, s.Server.URL, key(2))
		if st.resp.StatusCode == http.StatusOK {
			st.nextChange(t)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream did not free its place: %d", st.resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func assertStreamRefusal(t *testing.T, resp *http.Response, code string) {
	t.Helper()
	var body struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != code || body.Errors[0].Message == "" {
		t.Fatalf("refusal body %+v (%v), want one %s error", body, err, code)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After")
	}
}

// TestStreamAuthAndOrigin: with AUTH_MODE an SSE stream needs the header; a
// WebSocket takes the header or connection_init's payload, and is closed
// without an ack on a bad or missing one; a cross-site WebSocket is refused
// unless its origin is allowed; a subscription over GET is not served.
func TestStreamAuthAndOrigin(t *testing.T) {
	const key = "web-key-0123456789"
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"AUTH_MODE": "apikey", "AUTH_API_KEYS": "web:" + key,
		"CORS_ALLOWED_ORIGINS": "https://app.example.com",
	}})
	if st := openSSE(t, s.Server.URL, nil); st.resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SSE without a key: %d, want 401", st.resp.StatusCode)
	}
	openSSE(t, s.Server.URL, http.Header{"Authorization": {"Bearer " + key}}).nextChange(t)

	inits := []struct {
		name    string
		header  http.Header
		payload map[string]any
		ack     bool
	}{
		{"key in the payload", nil, map[string]any{"Authorization": "Bearer " + key}, true},
		{"key in the handshake", http.Header{"X-Api-Key": {key}}, nil, true},
		{"no key", nil, nil, false},
		{"wrong key", nil, map[string]any{"X-API-Key": "web-key-0123456780"}, false},
	}
	for _, tt := range inits {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dialWS(t, s.Server.URL, tt.header)
			if err != nil {
				t.Fatalf("handshake: %v (%v)", err, resp)
			}
			init := map[string]any{"type": "connection_init"}
			if tt.payload != nil {
				init["payload"] = tt.payload
			}
			c.send(t, init)
			m, err := c.read(t)
			if tt.ack {
				if err != nil || m["type"] != "connection_ack" {
					t.Fatalf("want connection_ack: %v, %v", m, err)
				}
				c.send(t, map[string]any{"type": "subscribe", "id": "a", "payload": map[string]any{"query": changeSubscription}})
				if m, err := c.read(t); err != nil || m["type"] != "next" {
					t.Fatalf("want next: %v, %v", m, err)
				}
				return
			}
			for err == nil && m["type"] != "connection_ack" {
				m, err = c.read(t) // an error message, then the close
			}
			if err == nil {
				t.Fatalf("acknowledged without a valid key: %v", m)
			}
		})
	}

	origins := []struct {
		origin string
		ok     bool
	}{
		{"https://evil.example", false},
		{"https://app.example.com", true},
		{s.Server.URL, true}, // the service's own page
	}
	for _, tt := range origins {
		_, resp, err := dialWS(t, s.Server.URL, http.Header{"Origin": {tt.origin}, "X-Api-Key": {key}})
		if tt.ok != (err == nil) {
			t.Errorf("WebSocket from %s: %v (%v), want allowed %v", tt.origin, err, resp, tt.ok)
		}
		if !tt.ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("WebSocket from %s: %v, want 403", tt.origin, resp)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, s.Server.URL+"/query?query="+url.QueryEscape(changeSubscription), nil)
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("a subscription over GET: %d, want 405", resp.StatusCode)
	}
}

// TestStreamClosedWhenItsJWTExpires: an SSE stream, and a WebSocket
// authenticated in connection_init, end when the token's exp passes: SSE
// with its complete event, the WebSocket with a close.
func TestStreamClosedWhenItsJWTExpires(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"AUTH_MODE": "jwt", "AUTH_JWT_HMAC_SECRET": accessHMAC}})
	token := func(ttl time.Duration) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "web", "exp": time.Now().Add(ttl).Unix(),
		}).SignedString([]byte(accessHMAC))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	start := time.Now()
	st := openSSE(t, s.Server.URL, http.Header{"Authorization": {"Bearer " + token(2*time.Second)}})
	st.nextChange(t)

	c, _, err := dialWS(t, s.Server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(t, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token(2*time.Second)}})
	if m, err := c.read(t); err != nil || m["type"] != "connection_ack" {
		t.Fatalf("want connection_ack: %v, %v", m, err)
	}

	ev, ok := st.next(t, 5*time.Second)
	if !ok || ev.name != "complete" {
		t.Fatalf("SSE at the token's expiry: %+v (open %v), want complete", ev, ok)
	}
	if _, open := st.next(t, 2*time.Second); open {
		t.Fatal("the SSE stream stayed open after complete")
	}
	for {
		if _, err := c.read(t); err != nil {
			if coderws.CloseStatus(err) == -1 {
				t.Fatalf("the WebSocket ended without a close: %v", err)
			}
			break
		}
	}
	// exp has one-second resolution: the streams ended between 1 and 3 s in.
	if took := time.Since(start); took < time.Second || took > 4*time.Second {
		t.Fatalf("the streams ended after %s, want about 2s", took)
	}
}

// TestStreamOutlivesTheWriteTimeout: on the real http.Server (Serve), with
// a write timeout of 2s, an SSE stream stays open past it, gets its
// keep-alives and its events, and ends with complete when the service shuts
// down, within SHUTDOWN_TIMEOUT.
func TestStreamOutlivesTheWriteTimeout(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{
		"SERVER_WRITE_TIMEOUT": "2s", "REQUEST_TIMEOUT": "1s", "STREAM_KEEPALIVE": "500ms", "SHUTDOWN_TIMEOUT": "5s",
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Service.Serve(ctx, ln) }()
	t.Cleanup(stop)
	base := "http://" + ln.Addr().String()

	// Read the raw stream, keep-alive comments included.
	body, _ := json.Marshal(map[string]string{"query": changeSubscription})
	req, _ := http.NewRequest(http.MethodPost, base+"/query", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 64)
	bodyErr := make(chan error, 1) // how the body ended: nil when with its last chunk
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		bodyErr <- sc.Err()
	}()
	pings, nexts := 0, 0
	timeout := time.After(3500 * time.Millisecond)
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before the write timeout passed (%d pings, %d events)", pings, nexts)
			}
			switch {
			case l == ": ping":
				pings++
			case l == "event: next":
				nexts++
			}
		case <-timeout:
			break read
		}
	}
	if pings < 3 || nexts != 1 {
		t.Fatalf("in 3.5s: %d keep-alives (want ≥ 3 at 500ms), %d events (want the first)", pings, nexts)
	}

	stop() // SIGTERM
	complete := false
	for l := range lines {
		complete = complete || l == "event: complete"
	}
	if !complete {
		t.Fatal("the stream ended at shutdown without complete")
	}
	if err := <-bodyErr; err != nil {
		t.Fatalf("the stream's body ended at shutdown with %v, not with its last chunk", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("Serve did not return within SHUTDOWN_TIMEOUT")
	}
}

// TestStreamsGrowTheMemoryLimit: the service reports its open streams, by
// 64s, as they open and close, for run to grow Go's soft memory limit.
func TestStreamsGrowTheMemoryLimit(t *testing.T) {
	var mu sync.Mutex
	var reports []int
	s := teststack.New(t, teststack.Options{StreamsOpen: func(n int) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, n)
	}})
	st := openSSE(t, s.Server.URL, nil)
	st.nextChange(t)
	openSSE(t, s.Server.URL, nil).nextChange(t) // 2 open: still 64, not reported again
	_ = st.resp.Body.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(reports)
		mu.Unlock()
		if slices.Equal(got, []int{64}) {
			break // 1, 2 and back to 1 open all round to 64
		}
		if time.Now().After(deadline) || len(got) > 1 {
			t.Fatalf("reports %v, want [64]", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamRequestsRefused: what is not a stream's request is refused
// before a stream opens, with the endpoint's codes.
func TestStreamRequestsRefused(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"not JSON", "text/plain", `{"query":"subscription { opportunityConfigChanged { version } }"}`, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
		{"a batch", "application/json", `[{"query":"subscription { opportunityConfigChanged { version } }"}]`, http.StatusBadRequest, "BATCHING_DISABLED"},
		{"malformed", "application/json", `{"query":`, http.StatusBadRequest, "BAD_REQUEST"},
		{"a query that is not a string", "application/json", `{"query":5}`, http.StatusBadRequest, "BAD_REQUEST"},
		{"variables that are not an object", "application/json", `{"query":"subscription { opportunityConfigChanged { version } }","variables":[1]}`, http.StatusBadRequest, "BAD_REQUEST"},
		{"too deep", "application/json", `{"query":"{ __typename }","variables":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, http.StatusBadRequest, "JSON_TOO_DEEP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.Server.URL+"/query", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Errors []struct{ Extensions map[string]any }
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != tt.code {
				t.Fatalf("%d %+v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}

// TestSubscriptionOverAPlainPOSTIsRefused: without Accept:
// text/event-stream, a subscription is a 400 naming the transports, not a
// first event answered (and stored) as if it were a query's.
func TestSubscriptionOverAPlainPOSTIsRefused(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"RESPONSE_CACHE": "true"}})
	for range 2 {
		r := s.Query(t, changeSubscription, nil)
		if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "text/event-stream") || len(r.Data) != 0 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

// TestSubscriptionsPerWebSocket: one connection carries at most
// MAX_STREAMS_PER_CLIENT subscriptions; past it a subscribe gets an error
// with RATE_LIMITED, and the others keep running.
func TestSubscriptionsPerWebSocket(t *testing.T) {
	s := teststack.New(t, teststack.Options{Env: map[string]string{"MAX_STREAMS_PER_CLIENT": "2"}})
	c, _, err := dialWS(t, s.Server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.send(t, map[string]any{"type": "connection_init"})
	if m, err := c.read(t); err != nil || m["type"] != "connection_ack" {
		t.Fatalf("want connection_ack: %v, %v", m, err)
	}
	got := map[string]string{}
	for _, id := range []string{"a", "b", "c"} {
		c.send(t, map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{"query": changeSubscription}})
		m, err := c.read(t)
		if err != nil {
			t.Fatal(err)
		}
		kind, _ := m["type"].(string)
		if kind == "next" {
			if p, _ := m["payload"].(map[string]any); p["errors"] != nil {
				b, _ := json.Marshal(p["errors"])
				kind = "next with errors " + string(b)
			}
		}
		if kind == "error" || strings.HasPrefix(kind, "next with errors") {
			b, _ := json.Marshal(m["payload"])
			if !strings.Contains(string(b), "RATE_LIMITED") {
				t.Fatalf("subscription %s refused without RATE_LIMITED: %s", id, b)
			}
			kind = "refused"
		}
		got[m["id"].(string)] = kind
	}
	if want := map[string]string{"a": "next", "b": "next", "c": "refused"}; !maps.Equal(got, want) {
		t.Fatalf("subscriptions %v, want %v", got, want)
	}
}

// dialRawSSE opens a connection to the service at base and sends it
// changeSubscription over SSE, written by hand: a raw connection starts no
// goroutine and allocates nothing in this process, so that what a test
// counts is the service's. The connection is closed at the test's end.
func dialRawSSE(t *testing.T, base string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	body, _ := json.Marshal(map[string]string{"query": changeSubscription})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	wire := "POST /query HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	if _, err := io.WriteString(c, wire); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStreamMemory: an idle SSE stream holds 8 KiB of stack for its
// goroutine and no other goroutine (on Linux one epoll goroutine watches
// every stream's connection for its client's close; elsewhere a goroutine
// per stream does, 2–4 KiB more), none of gqlgen's and none of net/http's,
// and about 8 KiB of heap: the frames a stream holds for its life, and the
// deepest calls it makes on its way in (the request's body decoded, the
// header written, the subscription added), fit in 8 KiB, where a stream
// once took 16 KiB and a keep-alive goroutine (20 KiB in all); and
// net/http's connection, its buffers and its goroutines are let go once the
// stream is open (live.Detacher), where they held 12 of its 21 KiB of heap.
// The subscribers are raw connections read by this goroutine, so that every
// stack counted is the service's; their sockets are in the heap counted.
func TestStreamMemory(t *testing.T) {
	if raceEnabled {
		// The race detector's frames are bigger. The built service is
		// held to the same bound by internal/tools/streams' TestRunSmoke,
		// which CI runs on a binary built without it.
		t.Skip("frame sizes under the race detector are not the service's")
	}
	s := teststack.New(t, teststack.Options{WallClock: true, Env: map[string]string{"MAX_STREAMS_PER_CLIENT": "1000"}})
	open := func() {
		br := bufio.NewReader(dialRawSSE(t, s.Server.URL))
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("before the first event: %v", err)
			}
			if strings.HasPrefix(line, "data: ") {
				return
			}
		}
	}
	// The stacks in use, and the heap live after a collection, in bytes.
	memory := func() (stacks, heap float64) {
		runtime.GC()
		m := []rmetrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/gc/heap/live:bytes"}}
		rmetrics.Read(m)
		return float64(m[0].Value.Uint64()), float64(m[1].Value.Uint64())
	}
	const warm, n = 20, 400
	for range warm { // caches warm, goroutine pools grown
		open()
	}
	stacksBefore, heapBefore := memory()
	for range n {
		open()
	}
	stacksAfter, heapAfter := memory()
	stack, heap := (stacksAfter-stacksBefore)/n/1024, (heapAfter-heapBefore)/n/1024
	t.Logf("per open SSE stream: %.1f KiB of stack, %.1f KiB of live heap", stack, heap)
	// 8 KiB; off Linux, and the watching goroutine's: 2 KiB, or 4 when the
	// runtime starts goroutines bigger (its adaptive initial stack size).
	stackLimit := 8.5
	if runtime.GOOS != "linux" {
		stackLimit = 12.5
	}
	if stack > stackLimit {
		t.Errorf("%.1f KiB of stack per open SSE stream, want at most %.1f (8 for its goroutine; off Linux, up to 4 for its connection's watcher)", stack, stackLimit)
	}
	// About 8 of the service's, and the subscriber's socket; 21 while
	// net/http kept its connection.
	const heapLimit = 11.0
	if heap > heapLimit {
		t.Errorf("%.1f KiB of live heap per open SSE stream, want at most %.1f", heap, heapLimit)
	}
}

// TestChangeEncodedOnce: the subscribers of one change do not each encode
// it (graph's encodedOnce): what the service allocates to refresh and send
// a change to 200 streams of one document is 1.4–1.5 KB per stream, and was
// 3.6 KB when each encoded it. The subscribers are raw connections read
// into one buffer, so that the allocations counted are the service's.
func TestChangeEncodedOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	s := teststack.New(t, teststack.Options{
		Dataset: []byte(`[{"typeName":"一","typeId":1},{"typeName":"二","typeId":2}]`),
		Env:     map[string]string{"MAX_STREAMS_PER_CLIENT": "1000"},
	})
	buf := make([]byte, 4096)
	// awaitEvent reads c until an event's data has come (the last bytes of
	// each read kept, for a marker split between two).
	awaitEvent := func(c net.Conn) {
		var seen []byte
		for !bytes.Contains(seen, []byte("data: ")) {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("before an event: %v", err)
			}
			seen = append(seen[len(seen)-min(len(seen), 5):], buf[:n]...)
		}
	}
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		c := dialRawSSE(t, s.Server.URL)
		awaitEvent(c)
		conns[i] = c
	}
	allocated := func() float64 {
		m := []rmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		rmetrics.Read(m)
		return float64(m[0].Value.Uint64())
	}
	s.Sim.SetDataset([]byte(`[{"typeName":"一","typeId":1},{"typeName":"贰","typeId":2}]`))
	before := allocated()
	s.Expire(t, 31*time.Second) // the refresh, and the change sent to every stream
	for _, c := range conns {
		awaitEvent(c)
	}
	perStream := (allocated() - before) / n
	t.Logf("%.0f bytes allocated per stream for one change", perStream)
	const limit = 2500
	if perStream > limit {
		t.Fatalf("%.0f bytes allocated per stream for one change, want at most %d: is each subscriber encoding it?", perStream, limit)
	}
}
