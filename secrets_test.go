package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// TestNoSecretInAnyOutput runs the service against a configured upstream, with
// API-key authentication and a rate limit, through every error path it has,
// and fails if any response or log line holds a credential: the upstream
// appKey and secret, the client API key, or any signature sent upstream.
func TestNoSecretInAnyOutput(t *testing.T) {
	const apiKey = "client-KEY-77aa91"
	sim, env, signs := recordingUpstream(t, "sign")

	// Failing from the start, so that the start-up warm-up leaves no copy and
	// the upstream errors reach the client.
	sim.SetFault(simulator.FaultRejected)
	maps.Copy(env, map[string]string{
		"UPSTREAM_TIMEOUT": "200ms",
		"UPSTREAM_BUDGET":  "600ms",
		"CACHE_TTL":        "1ms", // every request refreshes, so every fault is seen
		// Not paced: the faults follow each other faster than the 5 calls a
		// second the default allows.
		"UPSTREAM_RATE_LIMIT": "0",
		"AUTH_MODE":           "apikey",
		"AUTH_API_KEYS":       "web:" + apiKey,
		"RATE_LIMIT":          "100",
		"BREAKER_FAILURES":    "3",
		"BREAKER_COOLDOWN":    "100ms",
	})
	s := start(t, env)

	var outputs []string
	do := func(method, path, body string, headers map[string]string) {
		resp, b := testkit.Do(t, method, s.base+path, "application/json", strings.NewReader(body), headers)
		var hdr bytes.Buffer
		resp.Header.Write(&hdr)
		outputs = append(outputs, hdr.String()+b)
	}
	key := map[string]string{"X-API-Key": apiKey}
	q := `{"query":"{ opportunityTypes { typeId } }"}`

	do("POST", "/query", q, nil)                                                        // no credentials
	do("POST", "/query", q, map[string]string{"X-API-Key": apiKey + "x"})               // wrong key, close to the real one
	do("POST", "/query", q, map[string]string{"Authorization": "Bearer " + apiKey[:8]}) // truncated key
	for _, f := range []simulator.Fault{simulator.FaultServerError, simulator.FaultMalformedJSON, simulator.FaultRejected, simulator.FaultWrongShape, simulator.FaultTimeout} {
		sim.SetFault(f)
		do("POST", "/query", q, key)
	}
	sim.SetFault(simulator.FaultServerError)
	for range 4 { // opens the breaker
		do("POST", "/query", q, key)
	}
	sim.SetFault(simulator.FaultNone)
	// Poll until the breaker's cool-down lets a probe through and it succeeds.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		do("POST", "/query", q, key)
		if strings.Contains(outputs[len(outputs)-1], `"typeId":1001`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sim.SetFault(simulator.FaultRejected)
	for range 50 { // the stale copy, once the 1ms TTL has passed
		do("POST", "/query", q, key)
		if strings.Contains(outputs[len(outputs)-1], `"stale":true`) {
			break
		}
	}
	sim.SetFault(simulator.FaultNone)
	do("POST", "/query", `{"query": "{ opportunityTypes { typeId `, key)                              // parse error
	do("POST", "/query", `{"query": 1}`, key)                                                         // bad JSON shape
	do("POST", "/query", `{"query":"{ x }","variables":{"k":"`+creds().AppSecret.Reveal()+`"}}`, key) // validation error
	do("POST", "/query", strings.Repeat("[", 100), key)                                               // batch refused
	do("GET", "/query?query=%7B__typename%7D&variables=%7B%22a%22%3A", "", key)                       // bad GET variables
	for range 100 {                                                                                   // rate limit
		do("POST", "/query", q, key)
	}

	secrets := append([]string{creds().AppKey.Reveal(), creds().AppSecret.Reveal(), apiKey}, signs()...)
	if len(secrets) < 5 {
		t.Fatalf("only %d signatures recorded: the upstream was not reached", len(secrets)-3)
	}
	saw401, saw429, sawUpstream, sawData, sawStale := false, false, false, false, false
	for _, out := range outputs {
		saw401 = saw401 || strings.Contains(out, "UNAUTHENTICATED")
		saw429 = saw429 || strings.Contains(out, "RATE_LIMITED")
		sawUpstream = sawUpstream || strings.Contains(out, "UPSTREAM_REJECTED")
		sawData = sawData || strings.Contains(out, `"typeId":1001`)
		sawStale = sawStale || strings.Contains(out, `"stale":true`)
		for _, secret := range secrets {
			if secret != "" && strings.Contains(out, secret) {
				t.Errorf("a response holds a secret %.6s…: %.400s", secret, out)
			}
		}
	}
	if !saw401 || !saw429 || !sawUpstream || !sawData || !sawStale {
		t.Errorf("not every path was reached: 401 %v, 429 %v, upstream error %v, data %v, stale %v", saw401, saw429, sawUpstream, sawData, sawStale)
	}
	s.stop()
	<-s.result
	s.result <- nil
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if !json.Valid(sc.Bytes()) {
			t.Errorf("log line is not JSON: %s", sc.Text())
		}
		for _, secret := range secrets {
			if secret != "" && strings.Contains(sc.Text(), secret) {
				t.Errorf("a log line holds a secret %.6s…: %s", secret, sc.Text())
			}
		}
	}
	if lines < len(outputs) {
		t.Errorf("%d log lines for %d requests: the access log is missing", lines, len(outputs))
	}
}

// TestSlowClientsAreCutOff: a client that never finishes its headers is
// disconnected after SERVER_READ_HEADER_TIMEOUT; oversized headers get 431.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := start(t, map[string]string{"SERVER_READ_HEADER_TIMEOUT": "200ms", "SERVER_MAX_HEADER_BYTES": "4096"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /query HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	if err != nil || time.Since(start) > 3*time.Second {
		t.Fatalf("slow client not cut off: after %v, err %v", time.Since(start), err)
	}

	resp, _ := testkit.Get(t, s.base+"/query?query=%7B__typename%7D", map[string]string{"X-Padding": strings.Repeat("p", 16<<10)})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: status %d, want 431", resp.StatusCode)
	}
}
