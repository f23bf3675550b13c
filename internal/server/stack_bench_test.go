package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// The load benchmark's request headers (internal/tools/bench/load.go): what a
// GraphQL-over-HTTP client sends.
const (
	benchAccept    = "application/graphql-response+json, application/json;q=0.9"
	benchUserAgent = "oppconfig-bench"
)

// BenchmarkHandler is BenchmarkQuery without httptest: each request is the
// load benchmark's POST (its headers, its body) given to the service's whole
// handler (routes, every middleware, the endpoint) with a writer that keeps
// the status and counts the bytes, as net/http's own does, so that what is
// measured and profiled is the service's work per request, not
// httptest.NewRequest's parsing or the recorder's copies (more than half of
// BenchmarkQuery's time with the response cache on). What net/http itself
// does per request (reading it, the connection's deadlines, writing the
// header block) is BenchmarkServe's. Besides ns/op it reports cpu-ns/op, the
// process's CPU time per request, collector included: on a shared machine
// it moves far less than the time per request, so compare that one.
//
//	go test -run '^$' -bench 'Handler/query=dropdown/respcache=on' -cpuprofile cpu.out ./internal/server
func BenchmarkHandler(b *testing.B) {
	for _, name := range benchQueryNames {
		for _, respCache := range []bool{true, false} {
			b.Run(fmt.Sprintf("query=%s/respcache=%s", name, onOff(respCache)), func(b *testing.B) {
				h := newBenchHandler(b, benchOptions{respCache: respCache})
				body := benchBody(b, name)
				req := newBenchRequest(body)
				w := &benchWriter{header: http.Header{}, keep: true}
				serveLean(h, req, w)
				if w.status != http.StatusOK || !bytes.HasPrefix(w.body.Bytes(), []byte(`{"data":`)) || bytes.Contains(w.body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("HTTP %d: %.300s", w.status, w.body.Bytes())
				}
				b.SetBytes(int64(w.body.Len()))
				w.keep = false
				loopLean(b, h, req, w)
			})
		}
	}
}

// BenchmarkLimitsShared is BenchmarkHandler's dropdown with both per-client
// limits counting every request, so high that none is refused
// (RATE_LIMIT for every request, EXECUTION_RATE for every execution),
// alone and with REDIS_URL on a real redis-server: what sharing the counts
// among replicas costs a request (internal/redis's counter and budget).
//
//	go test -run '^$' -bench 'LimitsShared' ./internal/server
func BenchmarkLimitsShared(b *testing.B) {
	rs := testkit.StartRedis(b)
	for _, shared := range []bool{false, true} {
		for _, respCache := range []bool{true, false} {
			b.Run(fmt.Sprintf("redis=%s/respcache=%s", onOff(shared), onOff(respCache)), func(b *testing.B) {
				env := map[string]string{"RATE_LIMIT": "1000000000", "EXECUTION_RATE": "1000000000", "EXECUTION_BURST": "1000000"}
				if shared {
					env["REDIS_URL"] = rs.URL()
				}
				h := newBenchHandler(b, benchOptions{respCache: respCache, env: env})
				req := newBenchRequest(benchBody(b, "dropdown"))
				loopLean(b, h, req, &benchWriter{header: http.Header{}})
			})
		}
	}
}

// loopLean is the measured loop of BenchmarkHandler and its kin: req
// served through h for b.N iterations, each 200, with allocations and the
// process's CPU time per request reported.
func loopLean(b *testing.B, h http.Handler, req *benchRequest, w *benchWriter) {
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if serveLean(h, req, w); w.status != http.StatusOK {
			b.Fatalf("HTTP %d", w.status)
		}
	}
	reportCPU(b, cpu)
}

// reportCPU reports the process's CPU time since start (processCPU) per
// operation, the collector's included, as cpu-ns/op.
func reportCPU(b *testing.B, start int64) {
	if start > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// benchRequest is one POST, made once and given out again for every request:
// a shallow copy with a fresh body reader.
type benchRequest struct {
	template *http.Request
	body     string
	reader   strings.Reader
}

func newBenchRequest(body string) *benchRequest {
	r, err := http.NewRequest(http.MethodPost, "/query", nil)
	if err != nil {
		panic(err)
	}
	r.RequestURI = "/query"
	r.RemoteAddr = "127.0.0.1:40000"
	r.Host = "127.0.0.1:8080"
	r.Header = http.Header{
		"User-Agent":     {benchUserAgent},
		"Accept":         {benchAccept},
		"Content-Type":   {"application/json"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	r.ContentLength = int64(len(body))
	return &benchRequest{template: r, body: body}
}

// serveLean serves one request of req through h into w, reset first.
func serveLean(h http.Handler, req *benchRequest, w *benchWriter) {
	r := *req.template
	req.reader.Reset(req.body)
	r.Body = io.NopCloser(&req.reader)
	clear(w.header)
	w.status, w.written = 0, 0
	w.body.Reset()
	h.ServeHTTP(w, &r) // a Request of its own, as net/http makes one per request
}

// benchWriter is a ResponseWriter that keeps the status and the number of
// bytes written, and the body only when keep is set (the first request's,
// which is checked).
type benchWriter struct {
	header  http.Header
	status  int
	written int
	keep    bool
	body    bytes.Buffer
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.written += len(p)
	if w.keep {
		w.body.Write(p)
	}
	return len(p), nil
}

// Flush makes it an http.Flusher, as net/http's writer is, so that the
// access log's wrapper is the one a real request gets.
func (w *benchWriter) Flush() {}

// BenchmarkServe is the load benchmark's request over real loopback
// connections to the service as Serve runs it (its http.Server, with the
// SERVER_* timeouts): 32 kept-alive connections, as the load benchmark
// drives (16 per GOMAXPROCS on its two cores), each sending its next request
// when it has read the last, written as raw bytes and read with
// http.ReadResponse as the load generator does. The time per request is the
// client's and the server's CPU together over the cores; the client's share
// is the same before and after a change of the server. Profile the server's
// with
//
//	go test -run '^$' -bench 'Serve/query=dropdown/respcache=on' -cpuprofile cpu.out ./internal/server
//	go tool pprof -focus 'net/http.\(\*conn\).serve' -top -cum server.test cpu.out
func BenchmarkServe(b *testing.B) {
	for _, name := range benchQueryNames {
		for _, respCache := range []bool{true, false} {
			b.Run(fmt.Sprintf("query=%s/respcache=%s", name, onOff(respCache)), func(b *testing.B) {
				s := newBenchStack(b, benchOptions{respCache: respCache})
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Service.Serve(ctx, ln) }()
				b.Cleanup(func() {
					cancel()
					if err := <-done; err != nil {
						b.Error(err)
					}
				})
				body := benchBody(b, name)
				wire := fmt.Appendf(nil, "POST /query HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
					ln.Addr(), benchUserAgent, benchAccept, len(body), body)
				first, err := dialBench(ln.Addr().String(), wire)
				if err != nil {
					b.Fatal(err)
				}
				status, err := first.roundTrip()
				_ = first.c.Close()
				if err != nil || status != http.StatusOK || !bytes.HasPrefix(first.got.Bytes(), []byte(`{"data":`)) || bytes.Contains(first.got.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("HTTP %d, %v: %.300s", status, err, first.got.Bytes())
				}
				b.SetBytes(int64(first.got.Len()))
				b.ReportAllocs()
				b.SetParallelism(16)
				cpu := processCPU()
				defer reportCPU(b, cpu)
				b.RunParallel(func(pb *testing.PB) {
					c, err := dialBench(ln.Addr().String(), wire)
					if err != nil {
						b.Error(err)
						return
					}
					defer c.c.Close()
					for pb.Next() {
						if status, err := c.roundTrip(); err != nil || status != http.StatusOK {
							b.Errorf("HTTP %d, %v", status, err)
							return
						}
					}
				})
			})
		}
	}
}

// benchConn is one kept-alive client connection sending one request.
type benchConn struct {
	c    net.Conn
	br   *bufio.Reader
	wire []byte
	got  bytes.Buffer
}

func dialBench(addr string, wire []byte) (*benchConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &benchConn{c: c, br: bufio.NewReaderSize(c, 64<<10), wire: wire}, nil
}

// roundTrip writes the request and reads the whole answer into got.
func (c *benchConn) roundTrip() (int, error) {
	if _, err := c.c.Write(c.wire); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	c.got.Reset()
	_, err = c.got.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, err
}
