package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// request is one benchmark request, written as raw HTTP/1.1 bytes for each
// target's Host.
type request struct {
	name        string
	method      string // GET or POST
	body        string // POST: the JSON body
	rawQuery    string // GET: the query string
	ifNoneMatch string // GET: sent as If-None-Match when set
}

// accept is what a GraphQL-over-HTTP client sends; the service answers
// application/graphql-response+json.
const accept = "application/graphql-response+json, application/json;q=0.9"

// wire returns the request's bytes for a server at hostport.
func (r request) wire(hostport string) []byte {
	var b bytes.Buffer
	path := "/query"
	if r.method == http.MethodGet {
		path += "?" + r.rawQuery
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: oppconfig-bench\r\nAccept: %s\r\n", r.method, path, hostport, accept)
	if r.ifNoneMatch != "" {
		fmt.Fprintf(&b, "If-None-Match: %s\r\n", r.ifNoneMatch)
	}
	if r.method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(r.body))
	}
	b.WriteString("\r\n")
	b.WriteString(r.body)
	return b.Bytes()
}

// answer is a response as the load reads it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// conn is one kept-alive client connection.
type conn struct {
	c   net.Conn
	br  *bufio.Reader
	buf bytes.Buffer // the last body read
}

func dial(ctx context.Context, hostport string) (*conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

// roundTrip writes wire and reads the whole answer into c.buf.
func (c *conn) roundTrip(wire []byte) (status int, header http.Header, err error) {
	if _, err := c.c.Write(wire); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	if resp.Close {
		return 0, nil, errors.New("the server closed the connection")
	}
	return resp.StatusCode, resp.Header, nil
}

// fetch sends one request on a fresh connection and returns the answer.
func fetch(ctx context.Context, base string, r request) (answer, error) {
	hostport, err := hostPort(base)
	if err != nil {
		return answer{}, err
	}
	c, err := dial(ctx, hostport)
	if err != nil {
		return answer{}, err
	}
	defer c.c.Close()
	_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
	status, header, err := c.roundTrip(r.wire(hostport))
	if err != nil {
		return answer{}, fmt.Errorf("%s: %w", r.name, err)
	}
	return answer{status: status, header: header, body: bytes.Clone(c.buf.Bytes())}, nil
}

func hostPort(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad base URL %q", base)
	}
	return u.Host, nil
}

// sample is what one closed-loop run measured.
type sample struct {
	requests  int64
	bytes     int64 // response bodies
	elapsed   time.Duration
	latencies []time.Duration // unsorted
	serverCPU time.Duration   // user+system of the target process
	clientCPU time.Duration   // user+system of this process
}

// drive runs a closed loop: conns connections, each sending req as soon as
// it has read the previous answer, for d; answers in flight at the end are
// waited for and counted. Every answer must be want's status and body, byte
// for byte, or drive fails: a benchmark of wrong answers measures nothing.
func drive(ctx context.Context, base string, pid int, req request, want answer, conns int, d time.Duration) (sample, error) {
	hostport, err := hostPort(base)
	if err != nil {
		return sample{}, err
	}
	wire := req.wire(hostport)
	cs := make([]*conn, conns)
	for i := range cs {
		if cs[i], err = dial(ctx, hostport); err != nil {
			for _, c := range cs[:i] {
				c.c.Close()
			}
			return sample{}, err
		}
	}
	defer func() {
		for _, c := range cs {
			c.c.Close()
		}
	}()

	type result struct {
		requests, bytes int64
		lat             []time.Duration
		err             error
	}
	results := make([]result, conns)
	var wg sync.WaitGroup
	serverCPU0, clientCPU0 := proc.CPUTime(pid), proc.CPUTime(os.Getpid())
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range cs {
		_ = c.c.SetDeadline(deadline.Add(30 * time.Second)) // a hung server fails the run instead of hanging it
		wg.Go(func() {
			res := &results[i]
			res.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				status, _, err := c.roundTrip(wire)
				lat := time.Since(t0)
				if err != nil {
					res.err = err
					return
				}
				if status != want.status || !bytes.Equal(c.buf.Bytes(), want.body) {
					res.err = fmt.Errorf("got HTTP %d with %d bytes, want HTTP %d with the %d bytes fetched first: %.200q",
						status, c.buf.Len(), want.status, len(want.body), c.buf.Bytes())
					return
				}
				res.requests++
				res.bytes += int64(c.buf.Len())
				res.lat = append(res.lat, lat)
			}
		})
	}
	wg.Wait()
	s := sample{elapsed: time.Since(start)}
	s.serverCPU = proc.CPUTime(pid) - serverCPU0
	s.clientCPU = proc.CPUTime(os.Getpid()) - clientCPU0
	if err := ctx.Err(); err != nil {
		return sample{}, context.Cause(ctx)
	}
	for _, r := range results {
		if r.err != nil {
			return sample{}, fmt.Errorf("%s: %w", req.name, r.err)
		}
		s.requests += r.requests
		s.bytes += r.bytes
		s.latencies = append(s.latencies, r.lat...)
	}
	return s, nil
}

// sequential sends n requests one after the other on one connection, pausing
// gap before each, and returns their latencies.
func sequential(ctx context.Context, base string, req request, want answer, n int, gap time.Duration) ([]time.Duration, error) {
	hostport, err := hostPort(base)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, hostport)
	if err != nil {
		return nil, err
	}
	defer c.c.Close()
	wire := req.wire(hostport)
	lat := make([]time.Duration, 0, n)
	for range n {
		// Before each request, the first included: the copy fetched just
		// before it (at start-up, or by the previous request) must expire.
		time.Sleep(gap)
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
		t0 := time.Now()
		status, _, err := c.roundTrip(wire)
		d := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.name, err)
		}
		if status != want.status || !bytes.Equal(c.buf.Bytes(), want.body) {
			return nil, fmt.Errorf("%s: got HTTP %d with %d bytes, want HTTP %d with %d bytes: %.200q", req.name, status, c.buf.Len(), want.status, len(want.body), c.buf.Bytes())
		}
		lat = append(lat, d)
	}
	return lat, nil
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999) // ceil
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func sortedCopy(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// waitReady polls /readyz until the service has fetched a configuration:
// 200, or, for the cold path's service, whose copy is too old to be ready a
// few milliseconds after each fetch (CACHE_MAX_STALE=1ms), a 503 that names
// the version it fetched.
func waitReady(ctx context.Context, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte(`"configVersion"`)) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz not 200 within %s", base, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
