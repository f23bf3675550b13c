package proc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
)

// tailLines is how many of the last lines are kept for error messages.
const tailLines = 20

// maxPartialLine bounds a line still waiting for its newline (1 MiB).
const maxPartialLine = 1 << 20

// logWatch is the writer a child's output goes to, and the one reader of a
// child's log in the tools: it splits the output into lines, finds where the
// child listens, counts the lines, keeps a short tail and hands each line to
// the caller's onLine (the soak counts its breaker and refresh lines there).
type logWatch struct {
	listening chan string // gets the logged address once
	onLine    func([]byte)

	mu      sync.Mutex
	found   bool
	partial []byte
	lines   int64
	tail    []string
}

func newLogWatch(onLine func([]byte)) *logWatch {
	return &logWatch{listening: make(chan string, 1), onLine: onLine}
}

// Write implements io.Writer.
func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	rest := w.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.line(rest[:i])
		rest = rest[i+1:]
	}
	if len(rest) > maxPartialLine {
		w.line(rest)
		rest = nil
	}
	w.partial = append(w.partial[:0], rest...)
	return len(p), nil
}

// line takes one line. w.mu is held.
func (w *logWatch) line(b []byte) {
	w.lines++
	if w.onLine != nil {
		w.onLine(b)
	}
	if w.found && isAccessLine(b) {
		return // not kept: it would crowd out the lines that explain a failure
	}
	if len(w.tail) == tailLines {
		w.tail = w.tail[1:]
	}
	w.tail = append(w.tail, string(b))
	if w.found {
		return
	}
	if addr, ok := ListeningAddr(b); ok {
		w.found = true
		w.listening <- addr
	}
}

func (w *logWatch) count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

func (w *logWatch) lastLines() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// isAccessLine reports whether b is the service's access log, in JSON or
// text format.
func isAccessLine(b []byte) bool {
	return bytes.Contains(b, []byte(`"msg":"request"`)) || bytes.Contains(b, []byte(" msg=request "))
}

// ListeningAddr finds where a service says it listens in one line of its log
// (without the newline), in the first of these forms, and returns the address
// as logged (LoopbackBase makes it callable). It is the one reader of the
// listening line: the tools' log watch uses it on a child's output, and the
// root package's tests on the log of run:
//
//   - the JSON line {"msg":"listening","addr":"http://localhost:PORT"} of
//     the service (LOG_FORMAT=json, the default) and of the bench's ceiling
//     (which logs http://127.0.0.1:PORT);
//   - the same line in LOG_FORMAT=text: msg=listening addr=http://localhost:PORT;
//   - any line with a URL on host localhost with a port, such as a start-up
//     line meant for people (http://localhost:PORT/): the service's wording
//     of its address is not a contract, its "listening" line is. The tools'
//     simulators listen on 127.0.0.1, never "localhost", so an upstream URL
//     logged before the listening line is not taken for it.
func ListeningAddr(b []byte) (string, bool) {
	if bytes.Contains(b, []byte(`"listening"`)) {
		var l struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(b, &l) == nil && l.Msg == "listening" && l.Addr != "" {
			return l.Addr, true
		}
	}
	if line := string(b); strings.Contains(line, "msg=listening") {
		for field := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(field, "addr="); ok && v != "" {
				return strings.Trim(v, `"`), true
			}
		}
	}
	for _, prefix := range []string{"http://localhost:", "https://localhost:"} {
		i := bytes.Index(b, []byte(prefix))
		if i < 0 {
			continue
		}
		// The URL ends where the line's syntax around it starts: a space or
		// a quote, bracket or comma of JSON or prose.
		rest := string(b[i:])
		if j := strings.IndexAny(rest, " \t\"'`<>()[]{},"); j >= 0 {
			rest = rest[:j]
		}
		if u, err := url.Parse(rest); err == nil && u.Port() != "" {
			return rest, true
		}
	}
	return "", false
}

// LoopbackBase turns a logged address, e.g. http://[::]:43567 or
// http://localhost:43567/, into the base URL to call, http://127.0.0.1:43567:
// the service listens on every interface, and "localhost" may resolve to ::1
// first. An address on another host keeps its host; the path is dropped.
func LoopbackBase(addr string) (string, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // [::]:43567, as net.Listener.Addr prints it
	}
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		return "", fmt.Errorf("logged listening address %q, want http://host:port", addr)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "" || host == "localhost" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, u.Port()), nil
}
