// Command ceiling is the load benchmark's ceiling: a plain net/http server
// that answers each benchmark request with the exact status, headers and body
// the service gave it, looked up in a table and written, nothing computed. What
// it reaches on one core is what any Go HTTP server can reach with those
// bytes; the benchmark reports the service as a fraction of it.
//
//	ceiling -responses FILE
//
// FILE is a JSON list of canned answers; a POST is matched by its body, a GET
// by its query string and If-None-Match. It listens on a loopback port and
// logs {"msg":"listening","addr":"http://127.0.0.1:PORT"}, as the service does.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Canned is one answer; internal/bench writes the file (its type of the same
// name and fields).
type Canned struct {
	Method      string // GET or POST
	Body        string // POST: the request body
	RawQuery    string // GET: the query string
	IfNoneMatch string // GET: the If-None-Match header, or ""

	Status       int
	Header       http.Header // without Date and Content-Length, which net/http sets
	ResponseBody []byte
}

func main() {
	if err := run(os.Args, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	file := fs.String("responses", "", "JSON list of canned answers")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-responses is required")
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var table []*Canned
	if err := json.Unmarshal(b, &table); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	h := newHandler(table)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	line, _ := json.Marshal(map[string]string{"msg": "listening", "addr": "http://" + ln.Addr().String()})
	fmt.Fprintf(stderr, "%s\n", line)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

// handler answers from two maps, so that a request costs a body read and a
// map lookup.
type handler struct {
	posts map[string]*Canned // by request body
	gets  map[string]*Canned // by query string + "\n" + If-None-Match
}

func newHandler(table []*Canned) *handler {
	h := &handler{posts: map[string]*Canned{}, gets: map[string]*Canned{}}
	for _, c := range table {
		if c.Method == http.MethodPost {
			h.posts[c.Body] = c
		} else {
			h.gets[c.RawQuery+"\n"+c.IfNoneMatch] = c
		}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var c *Canned
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		c = h.posts[string(body)]
	} else {
		c = h.gets[r.URL.RawQuery+"\n"+r.Header.Get("If-None-Match")]
	}
	if c == nil {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	for k, v := range c.Header {
		hdr[k] = v
	}
	w.WriteHeader(c.Status)
	if len(c.ResponseBody) > 0 {
		_, _ = w.Write(c.ResponseBody)
	}
}
