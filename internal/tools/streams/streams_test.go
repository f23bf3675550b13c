package main

import (
	"bytes"
	"context"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs the whole tool with 50 subscribers per transport,
// unpinned, on the real service binary: the baseline, the opening, a short
// idle window, two changes of the data, the goroutine dump. It checks that
// every answer is right and that the report adds up, not the figures.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service and runs it twice for about 2s each")
	}
	cfg := DefaultConfig()
	cfg.Clients = 50
	cfg.Duration = 300 * time.Millisecond
	cfg.Warmup = 0
	cfg.Changes = 2
	cfg.CacheTTL = 100 * time.Millisecond
	cfg.Pin = false
	var progress bytes.Buffer
	cfg.Progress = &progress

	// The first build in a cold cache takes longer than the run itself.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, &progress)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("report:\n%s", &out)

	if rep.Failed() {
		t.Errorf("wrong answers")
	}
	if len(rep.Results) != 2 || rep.Results[0].Transport != transportSSE || rep.Results[1].Transport != transportWS {
		t.Fatalf("%d results, want sse then ws", len(rep.Results))
	}
	if rep.Service.CacheTTL != cfg.CacheTTL || rep.Service.MaxStreamsPerClient != cfg.Clients {
		t.Errorf("service read CACHE_TTL %s, MAX_STREAMS_PER_CLIENT %d; want %s, %d", rep.Service.CacheTTL, rep.Service.MaxStreamsPerClient, cfg.CacheTTL, cfg.Clients)
	}
	for _, r := range rep.Results {
		if r.Open <= 0 || r.RSSBefore <= 0 || r.RSSAfter <= 0 || r.Idle < cfg.Duration || r.IdleEvents != 0 {
			t.Errorf("%s: open %s, RSS %d → %d kB, idle %s, %d idle events", r.Transport, r.Open, r.RSSBefore, r.RSSAfter, r.Idle, r.IdleEvents)
		}
		// Each stream holds goroutines of its own: the dump and /metrics
		// both count at least one per stream.
		if r.After.Goroutines-r.Before.Goroutines < int64(cfg.Clients) {
			t.Errorf("%s: goroutines %d → %d with %d streams", r.Transport, r.Before.Goroutines, r.After.Goroutines, cfg.Clients)
		}
		if r.Transport == transportSSE {
			// An idle SSE stream: its goroutine (live.Detacher's) in 8
			// KiB of stack; on Linux no other (one epoll goroutine watches
			// every connection), elsewhere the goroutine watching its
			// connection; no goroutine of gqlgen's (internal/live's
			// KeepAlives sends the keep-alives) nor of net/http's. The
			// goroutine bound leaves 0.2 for a refresh that may be running.
			// The stack bound leaves 8 KiB: the stacks in use are counted
			// by span, and a span keeps the freed stacks of the goroutines
			// that wrote the 50 streams' headers at once (8 KiB each) until
			// the collector finds it empty, which 50 streams are too few to
			// average out (8.3 to 14.1 KiB in runs of the same code). Stacks
			// are held to 8 KiB exactly by TestStreamMemory (internal/server),
			// which opens its streams one at a time.
			n := float64(cfg.Clients)
			goroutines, stack := 1.2, 16.0
			if runtime.GOOS != "linux" {
				goroutines, stack = 2.2, 20.0
			}
			if g := float64(r.After.Goroutines-r.Before.Goroutines) / n; g > goroutines {
				t.Errorf("sse: %.2f goroutines per stream, want at most %.1f", g, goroutines)
			}
			if kb := float64(r.After.StackInuse-r.Before.StackInuse) / 1024 / n; kb > stack {
				t.Errorf("sse: %.1f KiB of stack per stream, want at most %.0f", kb, stack)
			}
		}
		perStream := 0
		for _, g := range r.Goroutines {
			if g.Count == cfg.Clients {
				perStream++
			}
		}
		if perStream == 0 || r.GoroutineTotal < cfg.Clients {
			t.Errorf("%s: dump of %d goroutines, %d groups of one per stream: %+v", r.Transport, r.GoroutineTotal, perStream, r.Goroutines)
		}
		if len(r.Changes) != cfg.Changes {
			t.Fatalf("%s: %d changes, want %d", r.Transport, len(r.Changes), cfg.Changes)
		}
		versions := map[string]bool{}
		for i, c := range r.Changes {
			if !c.Complete || c.Received != cfg.Clients || c.First <= 0 || c.Last < c.First || c.FanOut != c.Last-c.First || c.Version == "" {
				t.Errorf("%s change %d: %+v", r.Transport, i+1, c)
			}
			versions[c.Version] = true
		}
		if len(versions) != cfg.Changes {
			t.Errorf("%s: versions %v, want %d distinct", r.Transport, versions, cfg.Changes)
		}
	}
	for _, want := range []string{"RSS per stream", "service CPU in the idle window", "fan-out", "### Targets", "SIGQUIT dump"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q", want)
		}
	}
}

func TestReadSSE(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []sseEvent
	}{
		{
			name: "as gqlgen writes it",
			give: ":\n\nevent: next\ndata: {\"a\":1}\n\n: ping\n\nevent: complete\n\n",
			want: []sseEvent{{}, {name: "next", data: []byte(`{"a":1}`)}, {}, {name: "complete"}},
		},
		{
			name: "data over two lines, no space after the colon",
			give: "event: next\ndata:{\"a\":\ndata: 1}\n\n",
			want: []sseEvent{{name: "next", data: []byte("{\"a\":\n1}")}},
		},
		{name: "an event cut off", give: "event: next\ndata: {", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sseEvent
			err := readSSE(strings.NewReader(tt.give), func(ev sseEvent) error {
				got = append(got, ev)
				return nil
			})
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readSSE = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDecodeResult(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    change
		wantErr bool
	}{
		{name: "a change", give: `{"data":{"opportunityConfigChanged":{"version":"v1","fetchedAt":"2026-01-01T00:00:00Z","changedTypeIds":[3],"stale":false}}}`,
			want: change{Version: "v1", FetchedAt: "2026-01-01T00:00:00Z", ChangedTypeIDs: []int{3}}},
		{name: "errors", give: `{"errors":[{"message":"no"}],"data":null}`, wantErr: true},
		{name: "no change", give: `{"data":{}}`, wantErr: true},
		{name: "not JSON", give: `{`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResult([]byte(tt.give))
			if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeResult = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestTallyCheck: every subscriber must hold exactly the events wanted.
func TestTallyCheck(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fetched := at.Format(time.RFC3339)
	first := change{Version: "v0", FetchedAt: fetched, ChangedTypeIDs: []int{}}
	next := change{Version: "v1", FetchedAt: fetched, ChangedTypeIDs: []int{7}}
	wants := []want{{version: "v0", changed: []int{}}, {version: "v1", changed: []int{7}}}
	tests := []struct {
		name string
		give func(*tally) // on two subscribers
		want []string     // the kinds of problem, in order
	}{
		{"right", func(tl *tally) {
			for id := range 2 {
				tl.record(id, first, at)
				tl.record(id, next, at.Add(time.Second))
			}
		}, nil},
		{"one missing", func(tl *tally) {
			tl.record(0, first, at)
			tl.record(0, next, at)
			tl.record(1, first, at)
		}, []string{"missing events"}},
		{"one twice", func(tl *tally) {
			for id := range 2 {
				tl.record(id, first, at)
				tl.record(id, next, at)
			}
			tl.record(1, next, at)
		}, []string{"events beyond those expected"}},
		{"an old version, stale, ended", func(tl *tally) {
			tl.record(0, first, at)
			tl.record(0, first, at)
			stale := next
			stale.Stale = true
			tl.record(1, first, at)
			tl.record(1, stale, at)
			tl.end(1, "closed")
		}, []string{"events with another version", "stale events", "streams that ended"}},
		{"first event without ids", func(tl *tally) {
			for id := range 2 {
				tl.record(id, change{Version: "v0", FetchedAt: fetched}, at)
				tl.record(id, next, at)
			}
		}, []string{"events with other changedTypeIds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTally(2)
			tt.give(tl)
			var p Problems
			tl.check(wants, &p)
			lines := p.Lines()
			if len(lines) != len(tt.want) {
				t.Fatalf("problems %q, want %q", lines, tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d: %q, want %q…", i, lines[i], w)
				}
			}
		})
	}
}

// TestTallyWait: waitEvents returns once every subscriber holds k events,
// or has ended with fewer; arrival measures them from a start.
func TestTallyWait(t *testing.T) {
	tl := newTally(3)
	start := time.Now()
	for id := range 3 {
		tl.record(id, change{Version: "v0"}, start.Add(time.Duration(id)*time.Millisecond))
	}
	if _, ok := tl.waitEvents(t.Context(), 1, time.Second); !ok {
		t.Fatal("three first events: not settled")
	}
	tl.record(0, change{Version: "v1"}, start.Add(10*time.Millisecond))
	tl.end(1, "closed")
	done := make(chan bool)
	go func() {
		_, ok := tl.waitEvents(t.Context(), 2, 10*time.Second)
		done <- ok
	}()
	tl.record(2, change{Version: "v1"}, start.Add(30*time.Millisecond))
	if !<-done {
		t.Fatal("two events or ended: not settled")
	}
	a := tl.arrival(1, start)
	if a.Received != 2 || a.First != 10*time.Millisecond || a.Last != 30*time.Millisecond || a.FanOut != 20*time.Millisecond {
		t.Errorf("arrival %+v", a)
	}
	if _, ok := tl.waitEvents(t.Context(), 3, time.Millisecond); ok {
		t.Error("a third event nobody got: settled")
	}
}

// dumpSample is the shape of a SIGQUIT dump: two goroutines of one stack,
// one of another, runtime frames and the go statements' wrappers shown.
const dumpSample = `SIGQUIT: quit
PC=0x47f2e1 m=0 sigcode=0

goroutine 0 gp=0x9b4f40 m=0 mp=0x9b5ba0 [idle]:
runtime.futex(0x9b5ce0, 0x80, 0x0, 0x0, 0x0, 0x0)
	/usr/local/go/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0x7ffc sp=0x7ffc pc=0x47f2e1

goroutine 21 gp=0xc000102a80 m=nil [select, 2 minutes]:
runtime.gopark(0xc0002b5f28?, 0x2?, 0x0?, 0x0?, 0xc0002b5ed4?)
	/usr/local/go/src/runtime/proc.go:435 +0xce fp=0xc0002b5d98 sp=0xc0002b5d78 pc=0x477f8e
github.com/99designs/gqlgen/graphql/handler/transport.(*sseConnection).keepAlive(0xc0001b6000, {0xa1c0a0, 0xc0001a4000})
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:207 +0x8a fp=0xc0002b5fb8 sp=0xc0002b5f00 pc=0x8c2a4a
github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do.gowrap2()
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:128 +0x25 fp=0xc0002b5fe0 sp=0xc0002b5fb8 pc=0x8c1f05
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc0002b5fe8 sp=0xc0002b5fe0 pc=0x47d8e1
created by github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do in goroutine 20
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:128 +0x6b5

goroutine 23 gp=0xc000102c40 m=nil [select]:
runtime.gopark(0xc0002b7f28?, 0x2?, 0x0?, 0x0?, 0xc0002b7ed4?)
	/usr/local/go/src/runtime/proc.go:435 +0xce fp=0xc0002b7d98 sp=0xc0002b7d78 pc=0x477f8e
github.com/99designs/gqlgen/graphql/handler/transport.(*sseConnection).keepAlive(0xc0001b6100, {0xa1c0a0, 0xc0001a4100})
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:207 +0x8a fp=0xc0002b7fb8 sp=0xc0002b7f00 pc=0x8c2a4a
github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do.gowrap2()
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:128 +0x25 fp=0xc0002b7fe0 sp=0xc0002b7fb8 pc=0x8c1f05
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc0002b7fe8 sp=0xc0002b7fe0 pc=0x47d8e1
created by github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do in goroutine 22
	/root/go/pkg/mod/github.com/99designs/gqlgen@v0.17.98/graphql/handler/transport/sse.go:128 +0x6b5
{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"a log line written meanwhile"}

goroutine 30 gp=0xc000103180 m=nil [IO wait]:
internal/poll.runtime_pollWait(0x7f0c, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85 fp=0xc00005dc40 sp=0xc00005dc20 pc=0x476f65
net.(*netFD).Read(0xc000180080, {0xc0001f2000, 0x1, 0x1})
	/usr/local/go/src/net/fd_posix.go:68 +0x25 fp=0xc00005dcf0 sp=0xc00005dca8 pc=0x5b7e65
net/http.(*connReader).backgroundRead(0xc0001a2030)
	/usr/local/go/src/net/http/server.go:690 +0x37 fp=0xc00005dfc8 sp=0xc00005dcf0 pc=0x6c1a17
net/http.(*connReader).startBackgroundRead.gowrap2()
	/usr/local/go/src/net/http/server.go:686 +0x25 fp=0xc00005dfe0 sp=0xc00005dfc8 pc=0x6c1925
runtime.goexit({})
	/usr/local/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc00005dfe8 sp=0xc00005dfe0 pc=0x47d8e1
created by net/http.(*connReader).startBackgroundRead in goroutine 29
	/usr/local/go/src/net/http/server.go:686 +0xca
`

func TestGoroutineDump(t *testing.T) {
	d := newGoroutineDump()
	d.line([]byte("goroutine 1 [running]:")) // before arm: the service's log
	d.arm()
	for line := range strings.SplitSeq(dumpSample, "\n") {
		d.line([]byte(line))
	}
	groups, total := d.groups()
	if total != 4 {
		t.Errorf("total %d, want 4", total)
	}
	want := []GoroutineGroup{
		{Count: 2, State: "select", BlockedIn: "github.com/99designs/gqlgen/graphql/handler/transport.(*sseConnection).keepAlive",
			Entry: "github.com/99designs/gqlgen/graphql/handler/transport.(*sseConnection).keepAlive", CreatedBy: "github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do", Depth: 4},
		{Count: 1, State: "idle", BlockedIn: "runtime.futex", Entry: "runtime.futex", Depth: 1},
		{Count: 1, State: "IO wait", BlockedIn: "net.(*netFD).Read", Entry: "net/http.(*connReader).backgroundRead", CreatedBy: "net/http.(*connReader).startBackgroundRead", Depth: 5},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("groups\n%+v\nwant\n%+v", groups, want)
	}
	if got := shortFunc(groups[0].CreatedBy); got != "transport.SSE.Do" {
		t.Errorf("shortFunc = %q", got)
	}
}

func TestParseTransport(t *testing.T) {
	tests := []struct {
		give    string
		want    []string
		wantErr bool
	}{
		{give: "sse", want: []string{transportSSE}},
		{give: "ws", want: []string{transportWS}},
		{give: "both", want: []string{transportSSE, transportWS}},
		{give: "http", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseTransport(tt.give)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseTransport(%q) = %v, %v", tt.give, got, err)
		}
	}
}
