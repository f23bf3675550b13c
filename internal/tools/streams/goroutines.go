package main

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// GoroutineGroup is the goroutines of one stack in a dump: the same state,
// frames and creator.
type GoroutineGroup struct {
	Count int
	State string // "select", "IO wait", "chan receive", …
	// BlockedIn is the first frame outside the runtime and internal/…:
	// where the goroutine waits; Entry is its last frame, the function it
	// was started with; CreatedBy, the function that started it.
	BlockedIn, Entry, CreatedBy string
	Depth                       int // frames
}

// goroutineDump reads a Go program's goroutine dump (what SIGQUIT makes it
// write to stderr) line by line, once armed, and groups the goroutines by
// stack. Before arm it ignores every line: the service's log.
type goroutineDump struct {
	armed atomic.Bool

	mu    sync.Mutex
	cur   *dumpRecord
	byKey map[string]*GoroutineGroup
	order []string
	total int
}

type dumpRecord struct {
	state   string
	frames  []string
	created string
}

func newGoroutineDump() *goroutineDump {
	return &goroutineDump{byKey: map[string]*GoroutineGroup{}}
}

// arm starts reading: the dump follows.
func (d *goroutineDump) arm() { d.armed.Store(true) }

// goroutineHeader is a record's first line, e.g. "goroutine 42 [select, 2
// minutes]:" (with GOTRACEBACK=system, "goroutine 42 gp=0x… m=nil [select]:").
var goroutineHeader = regexp.MustCompile(`^goroutine \d+ .*\[([^\]]*)\]:$`)

// goWrapper is the name of the wrapper a go statement with arguments
// starts.
var goWrapper = regexp.MustCompile(`\.gowrap\d+$`)

// line takes one line of the child's output (proc.Options.OnLine).
func (d *goroutineDump) line(b []byte) {
	if !d.armed.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := string(b)
	if m := goroutineHeader.FindStringSubmatch(s); m != nil {
		d.finish()
		state, _, _ := strings.Cut(m[1], ",")
		d.cur = &dumpRecord{state: state}
		return
	}
	if d.cur == nil {
		return // "SIGQUIT: quit", registers, a log line
	}
	switch {
	case s == "":
		d.finish()
	case strings.HasPrefix(s, "\t"), strings.HasPrefix(s, "{"), strings.HasPrefix(s, "..."):
		// a frame's file and line; a log line written meanwhile;
		// "...additional frames elided..."
	case strings.HasPrefix(s, "created by "):
		created := strings.TrimPrefix(s, "created by ")
		created, _, _ = strings.Cut(created, " in goroutine ")
		d.cur.created = created
	default:
		d.cur.frames = append(d.cur.frames, funcName(s))
	}
}

// funcName drops a frame's arguments: "net/http.(*conn).serve(0xc000…)"
// is net/http.(*conn).serve.
func funcName(frame string) string {
	if strings.HasSuffix(frame, ")") {
		if i := strings.LastIndexByte(frame, '('); i > 0 {
			return frame[:i]
		}
	}
	return frame
}

// finish groups the record being read. d.mu is held.
func (d *goroutineDump) finish() {
	r := d.cur
	d.cur = nil
	if r == nil {
		return
	}
	d.total++
	key := r.state + "\x00" + strings.Join(r.frames, "\x00") + "\x00" + r.created
	g, ok := d.byKey[key]
	if !ok {
		g = &GoroutineGroup{State: r.state, CreatedBy: r.created, Depth: len(r.frames)}
		// runtime.goexit is every goroutine's last frame when the runtime's
		// frames are shown (a SIGQUIT dump shows them).
		// A go statement with arguments starts a compiler-made wrapper,
		// "….gowrap2", that calls the function it names.
		frames := r.frames
		if len(frames) > 1 && frames[len(frames)-1] == "runtime.goexit" {
			frames = frames[:len(frames)-1]
		}
		if len(frames) > 1 && goWrapper.MatchString(frames[len(frames)-1]) {
			frames = frames[:len(frames)-1]
		}
		if len(frames) > 0 {
			g.Entry = frames[len(frames)-1]
			g.BlockedIn = g.Entry
		}
		for _, f := range r.frames {
			if !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "internal/") {
				g.BlockedIn = f
				break
			}
		}
		d.byKey[key] = g
		d.order = append(d.order, key)
	}
	g.Count++
}

// groups returns the groups, largest first, and the goroutines counted.
func (d *goroutineDump) groups() ([]GoroutineGroup, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finish()
	out := make([]GoroutineGroup, 0, len(d.order))
	for _, k := range d.order {
		out = append(out, *d.byKey[k])
	}
	slices.SortStableFunc(out, func(a, b GoroutineGroup) int { return cmp.Compare(b.Count, a.Count) })
	return out, d.total
}

// shortFunc drops a function's import path but its last element:
// "github.com/99designs/gqlgen/graphql/handler/transport.SSE.Do" is
// transport.SSE.Do.
func shortFunc(f string) string {
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		return f[i+1:]
	}
	return f
}
