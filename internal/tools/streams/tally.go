package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// received is one event as a subscriber got it.
type received struct {
	at time.Time
	c  change
}

// tally holds what every subscriber received. The subscribers' goroutines
// write it; the run reads it between phases. Safe for concurrent use.
type tally struct {
	n int

	mu     sync.Mutex
	events [][]received // by subscriber, in arrival order
	pings  []int        // keep-alives by subscriber (SSE comments, WebSocket pings)
	ended  map[int]string
	// versions interns the versions received.
	versions map[string]string
	// reached[k] counts the subscribers holding at least k+1 events.
	reached []int
	frozen  bool // the run has ended: later events and ends are not counted
	// wake gets a token when an event arrives or a stream ends:
	// what waitEvents waits for.
	wake chan struct{}
}

func newTally(n int) *tally {
	return &tally{n: n, events: make([][]received, n), pings: make([]int, n), ended: map[int]string{}, versions: map[string]string{}, wake: make(chan struct{}, 1)}
}

// record counts one event of subscriber id.
func (t *tally) record(id int, c change, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.frozen {
		return
	}
	c.Version = t.intern(c.Version)
	t.events[id] = append(t.events[id], received{at: at, c: c})
	k := len(t.events[id]) - 1
	if k == len(t.reached) {
		t.reached = append(t.reached, 0)
	}
	t.reached[k]++
	// Every event, not only the n-th of a round: a subscriber that ended
	// early settles a round with fewer (settled), and waitEvents re-checks.
	t.signal()
}

// intern shares one copy of a version string between the subscribers: ten
// thousand copies of each would be much of the client's memory. t.mu is
// held.
func (t *tally) intern(v string) string {
	if s, ok := t.versions[v]; ok {
		return s
	}
	t.versions[v] = v
	return v
}

// ping counts one keep-alive of subscriber id.
func (t *tally) ping(id int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.frozen {
		t.pings[id]++
	}
}

// end records that subscriber id's stream ended, and why.
func (t *tally) end(id int, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.frozen {
		return
	}
	if _, ok := t.ended[id]; !ok {
		t.ended[id] = why
		t.signal()
	}
}

// signal wakes waitEvents. t.mu is held.
func (t *tally) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// freeze stops counting: the run closes its streams or the service after
// this.
func (t *tally) freeze() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frozen = true
}

// settled reports whether every subscriber holds k events or more, or has
// ended with fewer: no more of event k is to come. t.mu is held.
func (t *tally) settled(k int) bool {
	if k == 0 {
		return true
	}
	got := 0
	if k-1 < len(t.reached) {
		got = t.reached[k-1]
	}
	for id := range t.ended {
		if len(t.events[id]) < k {
			got++
		}
	}
	return got >= t.n
}

// waitEvents waits until every subscriber holds k events (or has ended),
// or until timeout; it returns how long it waited and whether all arrived.
func (t *tally) waitEvents(ctx context.Context, k int, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		t.mu.Lock()
		done := t.settled(k)
		t.mu.Unlock()
		if done {
			return time.Since(start), true
		}
		select {
		case <-t.wake:
		case <-timer.C:
			return time.Since(start), false
		case <-ctx.Done():
			return time.Since(start), false
		}
	}
}

// counts returns the events and keep-alives received so far, all
// subscribers together, and how many streams ended.
func (t *tally) counts() (events, pings, ended int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.events {
		events += len(t.events[i])
		pings += t.pings[i]
	}
	return events, pings, len(t.ended)
}

// Arrival is when one event reached the subscribers, from a start (the
// SetDataset call for a change): the first and the last of them, and the
// median and 99th percentile.
type Arrival struct {
	Received        int // subscribers that got the event
	First, Last     time.Duration
	P50, P99        time.Duration
	FanOut          time.Duration // Last − First
	FirstAt, LastAt time.Time     // wall clock of the first and last arrival
}

// arrival measures event k (0 is each stream's first) from start.
func (t *tally) arrival(k int, start time.Time) Arrival {
	t.mu.Lock()
	var ats []time.Time
	for _, evs := range t.events {
		if k < len(evs) {
			ats = append(ats, evs[k].at)
		}
	}
	t.mu.Unlock()
	a := Arrival{Received: len(ats)}
	if len(ats) == 0 {
		return a
	}
	slices.SortFunc(ats, func(x, y time.Time) int { return x.Compare(y) })
	pick := func(p int) time.Duration { return ats[(len(ats)-1)*p/100].Sub(start) }
	a.First, a.Last, a.P50, a.P99 = pick(0), pick(100), pick(50), pick(99)
	a.FanOut = a.Last - a.First
	a.FirstAt, a.LastAt = ats[0], ats[len(ats)-1]
	return a
}

// Problems are the wrong answers of one transport's run: missing,
// duplicated, unexpected or wrong events, and streams that ended. Each kind
// is counted, with its first example.
type Problems struct {
	byKind map[string]*problem
	order  []string
}

type problem struct {
	count   int
	example string
}

// add counts one problem of a kind.
func (p *Problems) add(kind, format string, args ...any) {
	if p.byKind == nil {
		p.byKind = map[string]*problem{}
	}
	pr, ok := p.byKind[kind]
	if !ok {
		pr = &problem{example: fmt.Sprintf(format, args...)}
		p.byKind[kind] = pr
		p.order = append(p.order, kind)
	}
	pr.count++
}

// Empty reports whether there were none.
func (p *Problems) Empty() bool { return len(p.order) == 0 }

// Lines describes them, one kind a line, in the order first seen.
func (p *Problems) Lines() []string {
	var out []string
	for _, kind := range p.order {
		pr := p.byKind[kind]
		out = append(out, fmt.Sprintf("%s: %d (first: %s)", kind, pr.count, pr.example))
	}
	return out
}

// want is what every subscriber's event k must be: the version the service
// serves, with these changed type ids, not stale.
type want struct {
	version string
	changed []int
}

// check compares every subscriber's events with wants (event k with
// wants[k]): exactly len(wants) events each, every one as wanted, and no
// stream ended.
func (t *tally) check(wants []want, p *Problems) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, evs := range t.events {
		for k, ev := range evs {
			if k >= len(wants) {
				p.add("events beyond those expected (duplicated or unexpected)", "subscriber %d's event %d: %+v", id, k, ev.c)
				continue
			}
			w := wants[k]
			switch {
			case ev.c.Version != w.version:
				p.add("events with another version than the service serves", "subscriber %d's event %d has version %q, want %q", id, k, ev.c.Version, w.version)
			case !slices.Equal(ev.c.ChangedTypeIDs, w.changed) || ev.c.ChangedTypeIDs == nil:
				p.add("events with other changedTypeIds", "subscriber %d's event %d lists %v, want %v", id, k, ev.c.ChangedTypeIDs, w.changed)
			case ev.c.Stale:
				p.add("stale events", "subscriber %d's event %d: %+v", id, k, ev.c)
			}
			if _, err := time.Parse(time.RFC3339, ev.c.FetchedAt); err != nil {
				p.add("events with a bad fetchedAt", "subscriber %d's event %d: %q", id, k, ev.c.FetchedAt)
			}
		}
		if len(evs) < len(wants) {
			p.add("missing events", "subscriber %d got %d events, want %d", id, len(evs), len(wants))
		}
	}
	for id, why := range t.ended {
		p.add("streams that ended while measured", "subscriber %d after %d events: %s", id, len(t.events[id]), why)
	}
}
