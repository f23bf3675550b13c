package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

func TestJSONDiff(t *testing.T) {
	tests := []struct {
		name   string
		ours   string
		theirs string
		want   string // "" when equal; else a part of the difference
	}{
		{name: "same bytes", ours: `{"data":{"a":1}}`, theirs: `{"data":{"a":1}}`},
		{name: "key order and whitespace", ours: `{"data":{"a":1,"b":[true,null,"x"]}}`, theirs: "{\"data\": {\"b\": [true, null, \"x\"], \"a\": 1}}\n"},
		{name: "a number spelled otherwise", ours: `{"n":100}`, theirs: `{"n":1e2}`},
		{name: "escapes", ours: `{"s":"商机<>"}`, theirs: `{"s":"\u5546\u673a\u003c\u003e"}`},
		{name: "a string differs", ours: `{"data":{"opportunityTypes":[{"typeName":"a"},{"typeName":"b"}]}}`,
			theirs: `{"data":{"opportunityTypes":[{"typeName":"a"},{"typeName":"c"}]}}`,
			want:   `data.opportunityTypes[1].typeName: the service has "b", the peer "c"`},
		{name: "a number differs", ours: `{"data":{"id":1}}`, theirs: `{"data":{"id":2}}`, want: `data.id: the service has 1, the peer 2`},
		{name: "a member missing", ours: `{"data":{"a":1,"b":2}}`, theirs: `{"data":{"a":1}}`, want: `data.b: the service has 2, the peer nothing`},
		{name: "a member extra", ours: `{"data":{"a":1}}`, theirs: `{"data":{"a":1},"errors":[{"message":"x"}]}`, want: `errors: the peer has [{"message":"x"}], the service nothing`},
		{name: "fewer items", ours: `{"l":[1,2,3]}`, theirs: `{"l":[1,2]}`, want: `l: the service has 3 items, the peer 2`},
		{name: "items in another order", ours: `{"l":[1,2]}`, theirs: `{"l":[2,1]}`, want: `l[0]: the service has 1, the peer 2`},
		{name: "null for a list", ours: `{"l":[]}`, theirs: `{"l":null}`, want: `l: the service has [], the peer null`},
		{name: "a string for a number", ours: `{"n":1}`, theirs: `{"n":"1"}`, want: `n: the service has 1, the peer "1"`},
		{name: "an object for a string", ours: `{"s":"x"}`, theirs: `{"s":{"x":1}}`, want: `s: the service has "x", the peer {"x":1}`},
		{name: "the whole answer", ours: `{"data":null}`, theirs: `[]`, want: `the answer: the service has {"data":null}, the peer []`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonDiff([]byte(tt.ours), []byte(tt.theirs))
			if err != nil {
				t.Fatalf("jsonDiff: %v", err)
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("jsonDiff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONDiffNotJSON(t *testing.T) {
	for _, theirs := range []string{``, `{"data":`, `{"data":{}} {"data":{}}`, `<html>`} {
		if _, err := jsonDiff([]byte(`{"data":{}}`), []byte(theirs)); err == nil || !strings.Contains(err.Error(), "the peer's answer is not JSON") {
			t.Errorf("jsonDiff(…, %q) error %v, want one naming the peer's answer", theirs, err)
		}
	}
}

// peerTestRows are one run's rows: dropdown with every target, full too,
// and the 304, which the peers do not run.
func peerTestRows() []Row {
	row := func(q, target string, rate float64) Row {
		// One core, saturated: CPU per request is the inverse of the rate.
		return Row{Query: q, Target: target, ReqPerSec: rate, P99: 2 * time.Millisecond, CPUPerRequest: time.Duration(float64(time.Second) / rate)}
	}
	return []Row{
		row("dropdown", targetCeiling, 30000), row("dropdown", targetCacheOn, 24000), row("dropdown", targetCacheOff, 12000),
		row("dropdown", targetGqlgen, 9000), row("dropdown", targetApollo, 2000), row("dropdown", targetMercurius, 9000),
		row("full", targetCeiling, 20000), row("full", targetCacheOn, 18000), row("full", targetCacheOff, 4000),
		row("full", targetGqlgen, 300), row("full", targetApollo, 500), row("full", targetMercurius, 3000),
		row(notModifiedQuery, targetCeiling, 35000), row(notModifiedQuery, targetCacheOn, 25000),
	}
}

func TestPeerRows(t *testing.T) {
	prs := peerRows(peerTestRows())
	if len(prs) != 2 || prs[0].Query != "dropdown" || prs[1].Query != "full" {
		t.Fatalf("peerRows = %+v, want dropdown and full (the 304 has no peers)", prs)
	}
	tests := []struct {
		query                 string
		vsMercurius, vsApollo float64
		met                   bool
	}{
		{"dropdown", 12000.0 / 9000, 6, true}, // 1.33× and 6×: ahead by the margins
		{"full", 4000.0 / 3000, 8, false},     // 8× Apollo, short of full's 10×
	}
	for i, tt := range tests {
		p := prs[i]
		if p.Ceiling.ReqPerSec == 0 || p.CacheOn.ReqPerSec == 0 {
			t.Errorf("%s: ceiling %v, cache on %v: rows missing", tt.query, p.Ceiling.ReqPerSec, p.CacheOn.ReqPerSec)
		}
		if p.VsMercurius() != tt.vsMercurius || p.VsApollo() != tt.vsApollo || p.Met() != tt.met {
			t.Errorf("%s: %.3f× Mercurius, %.3f× Apollo, met %v; want %.3f×, %.3f×, %v",
				tt.query, p.VsMercurius(), p.VsApollo(), p.Met(), tt.vsMercurius, tt.vsApollo, tt.met)
		}
	}
	if got := peerRows(peerTestRows()[:4]); len(got) != 0 {
		t.Errorf("peerRows without peers = %+v, want none", got)
	}
	slow := PeerRow{Query: "lookup", CacheOff: Row{ReqPerSec: 1100}, Mercurius: Row{ReqPerSec: 1000}, Apollo: Row{ReqPerSec: 100}}
	if slow.Met() {
		t.Errorf("1.1× Mercurius met the 1.2× target")
	}
	if (PeerRow{CacheOff: Row{ReqPerSec: 1}}).VsApollo() != 0 || (PeerRow{Apollo: Row{CPUPerRequest: 1}}).CPUVsApollo() != 0 {
		t.Errorf("a ratio to an unmeasured target is not 0")
	}
	if got := (PeerRow{CacheOff: Row{CPUPerRequest: 100}, Mercurius: Row{CPUPerRequest: 150}}).CPUVsMercurius(); got != 1.5 {
		t.Errorf("CPUVsMercurius = %v, want 1.5", got)
	}
}

func TestPeerChecks(t *testing.T) {
	checks := peerChecks(peerTestRows())
	if len(checks) != 2 {
		t.Fatalf("%d checks, want one per query the peers ran", len(checks))
	}
	if !checks[0].Met || checks[1].Met || !strings.Contains(checks[1].Name, "≥ 10×") || !strings.Contains(checks[1].Got, "8.0× Apollo") {
		t.Errorf("checks = %+v", checks)
	}
	none := peerChecks(peerTestRows()[:4])
	if len(none) != 1 || !none[0].Skipped || none[0].Got != "run with -peers" {
		t.Errorf("without peers: %+v, want one skipped check", none)
	}
}

func TestPrintPeers(t *testing.T) {
	var b bytes.Buffer
	printPeers(&b, peerTestRows())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 { // head, rule, two queries
		t.Fatalf("%d lines, want 4:\n%s", len(lines), &b)
	}
	for _, want := range []string{targetCeiling, targetApollo, targetMercurius, targetCacheOn, targetCacheOff} {
		if !strings.Contains(lines[0], "| "+want+" |") {
			t.Errorf("head %q has no column %q", lines[0], want)
		}
	}
	if want := "| dropdown | 30000 / 2ms | 2000 / 2ms | 9000 / 2ms | 24000 / 2ms | 12000 / 2ms | 1.33× (≥ 1.2×) | 6.0× (≥ 5×) | 1.33×, 6.0× |"; lines[2] != want {
		t.Errorf("dropdown:\n got %s\nwant %s", lines[2], want)
	}
	if !strings.HasSuffix(lines[3], "| 1.33× (≥ 1.2×) | 8.0× (≥ 10×) | 1.33×, 8.0× |") {
		t.Errorf("full: %s", lines[3])
	}
}

// TestPeerAnswers checks a peer the way the bench does before the load,
// against an httptest server: JSON-equal answers are kept, each distinct
// spelling once; a different one fails, naming the query and the difference,
// even when only a later answer (a compiled query's) differs.
func TestPeerAnswers(t *testing.T) {
	ours := answer{status: http.StatusOK, body: []byte(`{"data":{"opportunityTypes":[{"typeId":1001,"typeName":"标准"}]}}`)}
	tests := []struct {
		name    string
		bodies  []string // the peer's answers, in turn; the last repeats
		status  int
		want    int    // distinct answers kept
		wantErr string // a part of the error
	}{
		{name: "equal, two spellings", bodies: []string{
			`{"data":{"opportunityTypes":[{"typeName":"标准","typeId":1001}]}}` + "\n",
			`{"data":{"opportunityTypes":[{"typeId":1001,"typeName":"标准"}]}}`,
		}, want: 2},
		{name: "the compiled answer differs", bodies: []string{
			`{"data":{"opportunityTypes":[{"typeId":1001,"typeName":"标准"}]}}`,
			`{"data":{"opportunityTypes":[{"typeId":1001,"typeName":"标"}]}}`,
		}, wantErr: `peer answers dropdown (answer 2 of 3) differently from the service: data.opportunityTypes[0].typeName: the service has "标准", the peer "标"`},
		{name: "an error", bodies: []string{`{"errors":[{"message":"no"}]}`},
			wantErr: `answers dropdown (answer 1 of 3) differently from the service: data: the service has {"opportunityTypes"`},
		{name: "not 200", bodies: []string{`{}`}, status: http.StatusBadRequest, wantErr: "peer answers dropdown with HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/query" {
					t.Errorf("%s %s, want POST /query", r.Method, r.URL.Path)
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				i := min(int(n.Add(1)), len(tt.bodies)) - 1
				io.WriteString(w, tt.bodies[i])
			}))
			defer srv.Close()
			peer := &target{name: "peer", p: &proc.Process{Base: srv.URL}}
			got, err := peerAnswers(t.Context(), peer, request{name: "dropdown", method: http.MethodPost, body: `{"query":"{ opportunityTypes { typeId typeName } }"}`}, ours)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("peerAnswers error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("peerAnswers = %d answers, %v; want %d", len(got), err, tt.want)
			}
			if n.Load() != peerFetches {
				t.Errorf("%d requests, want %d", n.Load(), peerFetches)
			}
		})
	}
}
