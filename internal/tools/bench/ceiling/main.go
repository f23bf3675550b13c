// Command ceiling is the load benchmark's ceiling: a plain net/http server
// that answers each benchmark request with the exact status, headers and body
// the service gave it, looked up in a table and written, nothing computed. What
// it reaches on one core is what any Go HTTP server can reach with those
// bytes; the benchmark reports the service as a fraction of it.
//
//	ceiling -responses FILE [-upstream URL]
//
// FILE is a JSON list of canned answers; a POST is matched by its body, a GET
// by its query string and If-None-Match. It listens on a loopback port and
// logs {"msg":"listening","addr":"http://127.0.0.1:PORT"}, as the service does.
//
// With -upstream it is the cold path's ceiling: before each answer it makes
// the service's upstream call (a signed POST, credentials in UPSTREAM_APP_ID,
// UPSTREAM_APP_KEY and UPSTREAM_APP_SECRET, the default recipe) and reads the
// whole response, decoding nothing. What a request costs it over the
// upstream's own latency is what one more HTTP hop costs on this machine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
)

// Canned is one answer; internal/tools/bench writes the file (its type of the same
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
	upstreamURL := fs.String("upstream", "", "call this tanmarket endpoint (base URL) before each answer")
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
	if *upstreamURL != "" {
		h.upstream = &upstream{
			url: *upstreamURL + simulator.Path,
			creds: signature.Credentials{
				AppID:     os.Getenv("UPSTREAM_APP_ID"),
				AppKey:    signature.NewSecret(os.Getenv("UPSTREAM_APP_KEY")),
				AppSecret: signature.NewSecret(os.Getenv("UPSTREAM_APP_SECRET")),
			},
			recipe: signature.Default(),
			client: &http.Client{Timeout: 10 * time.Second},
		}
	}
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
	posts    map[string]*Canned // by request body
	gets     map[string]*Canned // by query string + "\n" + If-None-Match
	upstream *upstream          // nil: answer at once
}

// upstream makes the service's upstream call.
type upstream struct {
	url    string
	creds  signature.Credentials
	recipe signature.Recipe
	client *http.Client
}

// call sends one signed POST and reads the answer whole.
func (u *upstream) call(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	ts, sign := u.recipe.Sign(u.creds, time.Now())
	signature.SetHeaders(req.Header, u.creds, ts, sign)
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
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
	if h.upstream != nil {
		if err := h.upstream.call(r.Context()); err != nil {
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
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
