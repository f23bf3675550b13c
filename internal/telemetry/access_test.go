package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// accessLines serves one request through AccessLog into a JSON log and
// returns the response and the log's lines, decoded.
func accessLines(t *testing.T, h http.HandlerFunc, r *http.Request) (*httptest.ResponseRecorder, []map[string]any) {
	t.Helper()
	var logs bytes.Buffer
	logger, err := telemetry.NewLogger(&logs, "json")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	telemetry.AccessLog(logger)(h).ServeHTTP(rec, r)
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return rec, lines
}

// TestAccessLogCountsWhatIsWritten: the line has the status and every byte
// written, by Write and by io.Copy (the writer's ReadFrom), Flush reaches the
// client's writer, and the handler gets the request's context with the id.
func TestAccessLogCountsWhatIsWritten(t *testing.T) {
	type ctxKey struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "kept"))
	r := httptest.NewRequestWithContext(parent, http.MethodGet, "/query", nil)
	var id string
	rec, lines := accessLines(t, func(w http.ResponseWriter, r *http.Request) {
		id = telemetry.RequestID(r.Context())
		if r.Context().Value(ctxKey{}) != "kept" {
			t.Error("the request's own context values are lost")
		}
		cancel()
		select {
		case <-r.Context().Done():
		default:
			t.Error("the request's cancellation does not reach the handler")
		}
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusTeapot) // too late: ignored, as net/http ignores it
		_, _ = io.WriteString(w, "abc")
		if _, err := io.Copy(w, strings.NewReader("defg")); err != nil {
			t.Error(err)
		}
		w.(http.Flusher).Flush()
	}, r)
	if len(lines) != 1 {
		t.Fatalf("%d lines: %v", len(lines), lines)
	}
	line := lines[0]
	if line["status"] != float64(http.StatusCreated) || line["bytes"] != float64(7) || line["request_id"] != id || id == "" {
		t.Errorf("line %v, request id %q", line, id)
	}
	if rec.Code != http.StatusCreated || rec.Body.String() != "abcdefg" || !rec.Flushed || rec.Header().Get(telemetry.RequestIDHeader) != id {
		t.Errorf("response %d %q flushed %v, X-Request-Id %q", rec.Code, rec.Body.String(), rec.Flushed, rec.Header().Get(telemetry.RequestIDHeader))
	}
}

// TestAccessLogLogsTheFinalStatus: an informational status (103 Early
// Hints) goes to the client, and the line has the final one.
func TestAccessLogLogsTheFinalStatus(t *testing.T) {
	var logs bytes.Buffer
	logger, _ := telemetry.NewLogger(&logs, "json")
	srv := httptest.NewServer(telemetry.AccessLog(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "ok")
	})))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	srv.Close() // the handler has returned: its line is written
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", logs.String(), err)
	}
	if resp.StatusCode != http.StatusAccepted || line["status"] != float64(http.StatusAccepted) || line["bytes"] != float64(2) {
		t.Errorf("answered %d, logged %v", resp.StatusCode, line)
	}
}

// TestAccessLogKeepsAGoodRequestID: an incoming id that looks like one is
// kept; anything else is replaced.
func TestAccessLogKeepsAGoodRequestID(t *testing.T) {
	for _, tt := range []struct {
		give string
		keep bool
	}{
		{"4bf92f35-77b3-4da6-a3ce-929d0e0e4736", true},
		{"bad id\n{\"level\":\"ERROR\"}", false},
		{"", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Header.Set(telemetry.RequestIDHeader, tt.give)
		rec, lines := accessLines(t, func(w http.ResponseWriter, r *http.Request) {}, r)
		got := rec.Header().Get(telemetry.RequestIDHeader)
		if (got == tt.give) != tt.keep || got == "" || lines[0]["request_id"] != got || lines[0]["status"] != float64(http.StatusOK) {
			t.Errorf("X-Request-Id %q: answered %q, logged %v", tt.give, got, lines[0])
		}
	}
}

// TestAccessLogWriterHijacks: behind the access log a handler can still take
// the connection over (a WebSocket's handshake), by type assertion and by
// http.ResponseController, and set its deadlines.
func TestAccessLogWriterHijacks(t *testing.T) {
	logger, _ := telemetry.NewLogger(io.Discard, "json")
	for _, how := range []string{"assertion", "controller"} {
		t.Run(how, func(t *testing.T) {
			srv := httptest.NewServer(telemetry.AccessLog(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
					t.Errorf("SetWriteDeadline: %v", err)
				}
				hijackAndAnswer(t, w, how)
			})))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if body, _ := io.ReadAll(resp.Body); string(body) != "hijacked" {
				t.Errorf("body %q", body)
			}
		})
	}
}

// hijackAndAnswer takes the connection and writes a raw response on it.
func hijackAndAnswer(t *testing.T, w http.ResponseWriter, how string) {
	var err error
	var rw *bufio.ReadWriter
	switch how {
	case "assertion":
		_, rw, err = w.(http.Hijacker).Hijack()
	default:
		_, rw, err = http.NewResponseController(w).Hijack()
	}
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
	_ = rw.Flush()
}
