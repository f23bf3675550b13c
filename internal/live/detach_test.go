package live_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// detachServer serves h under a Detacher over real HTTP and records the
// connection states net/http reports and the log.
type detachServer struct {
	*httptest.Server
	detacher *live.Detacher
	log      *testkit.LogBuffer
	mu       sync.Mutex
	states   []http.ConnState
}

func newDetachServer(t *testing.T, h http.HandlerFunc) *detachServer {
	t.Helper()
	s := &detachServer{log: &testkit.LogBuffer{}}
	s.detacher = live.NewDetacher(slog.New(slog.NewTextHandler(s.log, nil)))
	s.Server = httptest.NewUnstartedServer(s.detacher.Handler(h))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		s.states = append(s.states, st)
		s.mu.Unlock()
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *detachServer) hijacked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.states {
		if st == http.StateHijacked {
			return true
		}
	}
	return false
}

// openStream POSTs as graphql-sse does and returns the response.
func openStream(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"query":"subscription { x }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// startEvents sends a stream's header as the endpoint does (written and
// flushed), then detaches it.
func startEvents(w http.ResponseWriter) bool {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	return live.Detach(w)
}

// TestDetachedStreamBody: a detached stream's writes reach its client as a
// well-formed chunked body that ends when the handler returns (its
// connection announced as closed with it: Connection: close), the
// connection is hijacked (net/http's goroutine let go), and what wraps the
// handler runs at the stream's end, not its detaching.
func TestDetachedStreamBody(t *testing.T) {
	release := make(chan struct{})
	detachedc := make(chan bool, 1)
	after := make(chan time.Time, 1)
	wrapped := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
		detachedc <- startEvents(w)
		_, _ = io.WriteString(w, "event: next\ndata: 1\n\n")
		_ = http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "event: complete\n\n")
		w.Header().Set("X-Late", "dropped") // after the header: no effect, no panic
	}
	s := newDetachServer(t, func(w http.ResponseWriter, r *http.Request) {
		wrapped(w, r)
		after <- time.Now() // a middleware's work after the request
	})
	resp := openStream(t, s.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || !resp.Close {
		t.Fatalf("status %d, header %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "event: next\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	if detached := <-detachedc; !detached || !s.hijacked() {
		t.Fatalf("Detach reported %v, connection hijacked: %v", detached, s.hijacked())
	}
	releasedAt := time.Now()
	close(release)
	rest, err := io.ReadAll(br) // the last chunk must come: a closed connection without it is an error
	if err != nil {
		t.Fatalf("reading the body to its end: %v", err)
	}
	if got := first + string(rest); got != "event: next\ndata: 1\n\nevent: complete\n\n" {
		t.Fatalf("body %q", got)
	}
	if afterAt := <-after; afterAt.Before(releasedAt) {
		t.Fatalf("the wrapping handler's after-work ran at %v, before the stream ended at %v", afterAt, releasedAt)
	}
}

// TestDetachedStreamEndsWithItsClient: the stream's context ends when its
// client closes the connection, as net/http's own reader would end it.
func TestDetachedStreamEndsWithItsClient(t *testing.T) {
	ended := make(chan struct{})
	s := newDetachServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !startEvents(w) {
			t.Error("not detached")
		}
		_, _ = io.WriteString(w, ": hello\n\n")
		<-r.Context().Done()
		close(ended)
	})
	resp := openStream(t, s.URL)
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's context did not end when its client closed the connection")
	}
}

// TestNotDetached: what is not a detached stream is net/http's as before:
// a refusal (keep-alive connection reused), a request that is not SSE, an
// HTTP/1.0 one, a writer that is not a Detacher's.
func TestNotDetached(t *testing.T) {
	var mu sync.Mutex
	var reports []bool
	s := newDetachServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "refused")
			return
		}
		ok := live.Detach(w)
		mu.Lock()
		reports = append(reports, ok)
		mu.Unlock()
		_, _ = io.WriteString(w, "answered")
	})
	for range 2 { // the second on the first's connection
		resp := openStream(t, s.URL+"/refuse")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusTooManyRequests || string(body) != "refused" {
			t.Fatalf("refusal: %d %q", resp.StatusCode, body)
		}
	}
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "answered" {
		t.Fatalf("GET: %q", body)
	}
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /old HTTP/1.0\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	old, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(old, []byte("HTTP/1.0 200")) || !bytes.HasSuffix(old, []byte("answered")) {
		t.Fatalf("HTTP/1.0: %q", old)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 || reports[0] || reports[1] {
		t.Fatalf("Detach reported %v for the GET and the HTTP/1.0 POST, want false for both", reports)
	}
	if s.hijacked() {
		t.Fatal("a connection was hijacked")
	}
	if live.Detach(httptest.NewRecorder()) {
		t.Fatal("Detach took a recorder")
	}
}

// TestDetachedStreamPanics: a panic before the stream is detached is
// net/http's, as if no Detacher were there (the connection dropped); one
// after ends the stream without its last chunk and is logged without its
// value. The server goes on serving.
func TestDetachedStreamPanics(t *testing.T) {
	const secret = "panic-value-with-a-secret"
	s := newDetachServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			return
		case "/after":
			startEvents(w)
			_, _ = io.WriteString(w, ": hello\n\n")
		}
		panic(secret)
	})
	for _, path := range []string{"/before", "/after"} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader("{}"))
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		if err == nil {
			t.Errorf("%s: the client saw a complete response", path)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), "panic in a stream") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if log := s.log.String(); !strings.Contains(log, "panic in a stream") || strings.Contains(log, secret) {
		t.Fatalf("log %q: want the panic after detaching, without its value", log)
	}
	resp, err := http.Get(s.URL + "/")
	if err == nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("the server stopped serving: %v", err)
	}
}

// TestDetacherShutdown: Shutdown waits for a stream that ends, closes one
// that does not once its context is done, and closes at once a stream
// detached after it.
func TestDetacherShutdown(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	opened := make(chan struct{}, 2)
	s := newDetachServer(t, func(w http.ResponseWriter, _ *http.Request) {
		startEvents(w)
		_, _ = io.WriteString(w, ": hello\n\n")
		opened <- struct{}{}
		<-stuck // ignores its context: only its connection's closing ends it for the client
	})
	resp := openStream(t, s.URL)
	<-opened
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.detacher.Shutdown(ctx)
	if waited := time.Since(start); waited < 90*time.Millisecond {
		t.Fatalf("Shutdown returned after %v, before its context ended", waited)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("the stuck stream's body ended cleanly: its connection was not closed")
	}

	late := openStream(t, s.URL)
	<-opened
	if _, err := io.ReadAll(late.Body); err == nil {
		t.Fatal("a stream detached after Shutdown was not closed")
	}

	idle := live.NewDetacher(slog.New(slog.DiscardHandler))
	start = time.Now()
	idle.Shutdown(context.Background()) // nothing open: returns at once
	if time.Since(start) > time.Second {
		t.Fatal("Shutdown with no stream open waited")
	}
}

// TestHangupsEndTheirOwnStream: of several detached streams, the one whose
// client closes its connection ends, and only it; on Linux no goroutine is
// left per stream but the stream's own (one epoll goroutine watches them
// all). The clients are raw connections, which start no goroutine here.
func TestHangupsEndTheirOwnStream(t *testing.T) {
	const n = 20
	var mu sync.Mutex
	ended := map[string]bool{}
	endedc := make(chan string, n)
	s := newDetachServer(t, func(w http.ResponseWriter, r *http.Request) {
		startEvents(w)
		_, _ = io.WriteString(w, ": hello\n\n")
		<-r.Context().Done()
		mu.Lock()
		ended[r.URL.Path] = true
		mu.Unlock()
		endedc <- r.URL.Path
	})
	before := runtime.NumGoroutine()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", s.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_, _ = fmt.Fprintf(c, "POST /%d HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", i)
		if _, err := bufio.NewReader(c).ReadString(':'); err != nil { // the header's first line, and on
			t.Fatal(err)
		}
		conns[i] = c
	}
	deadline := time.Now().Add(5 * time.Second)
	for !s.hijacked() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // net/http's goroutines return after the hijack
	perStream := float64(runtime.NumGoroutine()-before) / n
	if want := 1.2; runtime.GOOS == "linux" && perStream > want {
		t.Errorf("%.2f goroutines per detached stream, want at most %.1f: one watches them all", perStream, want)
	}
	_ = conns[7].Close()
	select {
	case path := <-endedc:
		if path != "/7" {
			t.Fatalf("stream %s ended when stream /7's client closed its connection", path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client's close did not end its stream")
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(ended) != 1 {
		t.Fatalf("streams ended: %v, want /7 alone", ended)
	}
}
