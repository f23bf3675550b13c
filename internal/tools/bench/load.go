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
	"strconv"
	"strings"
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
	// otherCPU is the rest of the machine's busy time: other processes
	// (on a shared machine, other people's jobs), interrupts, steal.
	otherCPU time.Duration
	matched  []int64 // answers equal to each of loop.want
	// non2xx counts answers outside 2xx that matched no want, with
	// loop.countNon2xx; firstNon2xx describes the first.
	non2xx      int64
	firstNon2xx string
	// overloaded counts the 503 OVERLOADED refusals of
	// loop.countOverloaded; they are not in requests or latencies.
	overloaded int64
}

// loop is one closed-loop run: conns connections to the server at base
// (process pid, for its CPU time) sending req for d.
type loop struct {
	base  string
	pid   int
	req   request
	want  []answer // an answer must be one of these, status and body byte for byte
	conns int
	d     time.Duration
	// countNon2xx counts an answer outside 2xx that is none of want instead
	// of failing the run: the refresh scenario reports how many there were.
	countNon2xx bool
	// countOverloaded counts a 503 OVERLOADED (EXECUTION_MEMORY refusing
	// an execution that would not fit) instead of failing the run, apart
	// from the answers: 32 gqlgen executions of the large dataset's full
	// query would hold about 2.3 GiB, and the service's budget is the
	// behaviour its users meet.
	countOverloaded bool
}

// drive runs a closed loop: l.conns connections, each sending l.req as soon
// as it has read the previous answer, for l.d; answers in flight at the end
// are waited for and counted. Every answer must be one of l.want, byte for
// byte, or drive fails (but for the non-2xx that l.countNon2xx counts): a
// benchmark of wrong answers measures nothing.
func drive(ctx context.Context, l loop) (sample, error) {
	hostport, err := hostPort(l.base)
	if err != nil {
		return sample{}, err
	}
	wire := l.req.wire(hostport)
	cs := make([]*conn, l.conns)
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
		matched         []int64
		non2xx          int64
		firstNon2xx     string
		overloaded      int64
		err             error
	}
	results := make([]result, l.conns)
	var wg sync.WaitGroup
	serverCPU0, clientCPU0, busy0 := proc.CPUTime(l.pid), proc.CPUTime(os.Getpid()), machineBusy()
	start := time.Now()
	deadline := start.Add(l.d)
	for i, c := range cs {
		_ = c.c.SetDeadline(deadline.Add(30 * time.Second)) // a hung server fails the run instead of hanging it
		wg.Go(func() {
			res := &results[i]
			res.lat = make([]time.Duration, 0, 4096)
			res.matched = make([]int64, len(l.want))
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
				switch k := match(status, c.buf.Bytes(), l.want); {
				case k >= 0:
					res.matched[k]++
				case l.countOverloaded && status == http.StatusServiceUnavailable && bytes.Contains(c.buf.Bytes(), []byte(`"code":"OVERLOADED"`)):
					res.overloaded++
					continue
				case l.countNon2xx && (status < 200 || status > 299):
					if res.non2xx == 0 {
						res.firstNon2xx = fmt.Sprintf("HTTP %d %.200q", status, c.buf.Bytes())
					}
					res.non2xx++
				default:
					res.err = fmt.Errorf("got HTTP %d with %d bytes, want HTTP %d with the %d bytes fetched first: %.200q",
						status, c.buf.Len(), l.want[0].status, len(l.want[0].body), c.buf.Bytes())
					return
				}
				res.requests++
				res.bytes += int64(c.buf.Len())
				res.lat = append(res.lat, lat)
			}
		})
	}
	wg.Wait()
	s := sample{elapsed: time.Since(start), matched: make([]int64, len(l.want))}
	s.serverCPU = proc.CPUTime(l.pid) - serverCPU0
	s.clientCPU = proc.CPUTime(os.Getpid()) - clientCPU0
	s.otherCPU = max(machineBusy()-busy0-s.serverCPU-s.clientCPU, 0)
	if err := ctx.Err(); err != nil {
		return sample{}, context.Cause(ctx)
	}
	for _, r := range results {
		if r.err != nil {
			return sample{}, fmt.Errorf("%s: %w", l.req.name, r.err)
		}
		s.requests += r.requests
		s.bytes += r.bytes
		s.latencies = append(s.latencies, r.lat...)
		for k, n := range r.matched {
			s.matched[k] += n
		}
		if s.non2xx == 0 {
			s.firstNon2xx = r.firstNon2xx
		}
		s.non2xx += r.non2xx
		s.overloaded += r.overloaded
	}
	return s, nil
}

// match returns the index of the answer in want that status and body are,
// or -1.
func match(status int, body []byte, want []answer) int {
	for k, w := range want {
		if status == w.status && bytes.Equal(body, w.body) {
			return k
		}
	}
	return -1
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

// machineBusy is the time all CPUs have spent on anything but idling and
// waiting for I/O since boot, from /proc/stat (in USER_HZ ticks, 10ms, as
// proc.CPUTime reads them); 0 when unavailable.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal …
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
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
