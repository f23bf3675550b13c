// Package gcfloor keeps Go's garbage collector from running more often than a
// heap floor asks: after each collection it sets GOGC so that the next one
// comes no sooner than a given number of bytes of new garbage.
//
// Why: the service's live heap is a few MiB (a snapshot and its indexes), and
// with GOGC's default of 100 the heap goal is twice that (at least 4 MiB), so
// under load a collection starts every few MiB allocated, 25 times a second on
// one core serving cached answers. Each mark phase takes 2–3 ms of wall time
// on that core and slows the requests it overlaps; those are the p99. A floor
// of 32 MiB makes collections about ten times rarer there and leaves large
// heaps (the large dataset's concurrent executions) exactly as GOGC=100
// would: the percent never goes below 100.
//
// Go has no setting for this: GOGC scales with the live heap and GOMEMLIMIT
// only ever makes the collector run sooner. A higher fixed GOGC would make
// large heaps grow by that factor too. github.com/bytedance/gopkg's gctuner
// does a cousin of this, but lowers GOGC to 50 above its threshold (twice the
// collections the large dataset has now), reads the heap with
// runtime.ReadMemStats (a stop-the-world each cycle) and keeps its tuner in a
// package variable; what is here is the floor alone, read from
// runtime/metrics without stopping the world.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// basePercent is GOGC's default, the percent the floor never goes below.
// The floor runs only when GOGC is unset (the operator's GOGC is theirs), so
// this is what the runtime would use without it.
const basePercent = 100

// runtimeHeapMinimum is the Go runtime's smallest heap goal at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go); the runtime scales it by
// GOGC/100.
const runtimeHeapMinimum = 4 << 20

// maxPercent bounds the percent against an absurd multiple; the minimum-heap
// bound in percent keeps every floor under about 400 MiB below it.
const maxPercent = 10000

// The runtime/metrics names of what the heap goal is made of: the heap the
// last collection marked live, and the goroutine stacks and globals it
// scanned. GOGC applies to all three (goal = live + (live + stacks +
// globals) × GOGC/100), so all three are read: an idle keep-alive
// connection's goroutine holds 8–32 KiB of stack, and a few hundred of them
// beside a 3 MiB heap would otherwise multiply the floor several times over.
var goalParts = [...]string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Floor is a started heap floor; Stop ends it.
type Floor struct {
	bytes uint64

	mu      sync.Mutex // cleanups may run on more than one goroutine
	sample  []metrics.Sample
	percent int  // what was set last
	stopped bool // Stop was called: the next cleanup does nothing
}

// Start keeps at least floor bytes between the live heap and the next
// collection's goal until Stop. Only one Floor should run in a process: GOGC
// is the process's.
func Start(floor uint64) *Floor {
	f := &Floor{bytes: floor, percent: basePercent}
	for _, name := range goalParts {
		f.sample = append(f.sample, metrics.Sample{Name: name})
	}
	f.arm()
	return f
}

// Stop ends the floor and puts GOGC back to its default.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	debug.SetGCPercent(basePercent)
}

// sentinel is an object made only to be collected: its cleanup tells the
// floor that a collection has ended. It holds a pointer so that it is not a
// tiny allocation, which may share a block with others and be kept alive by
// them.
type sentinel struct{ _ *byte }

// arm makes a new sentinel whose cleanup, after the next collection, tunes
// GOGC and arms the next one.
func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), (*Floor).collected, f)
}

// collected runs after a collection: it sets the percent for the next one.
func (f *Floor) collected() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	metrics.Read(f.sample)
	var parts [len(goalParts)]uint64
	for i, s := range f.sample {
		if s.Value.Kind() == metrics.KindUint64 { // KindBad: a runtime without it
			parts[i] = s.Value.Uint64()
		}
	}
	if p := percent(parts[0], parts[0]+parts[1]+parts[2], f.bytes); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	f.arm()
}

// percent is the GOGC whose heap goal is live + floor, and never below the
// default. The runtime's goal is the larger of two: live + scanned ×
// GOGC/100, where scanned is what GOGC applies to (the live heap with the
// stacks and globals), and its minimum heap, 4 MiB × GOGC/100, which matters
// for the small heaps the floor is for (with 2 MiB live, the percent the
// first asks for would make the minimum 64 MiB).
func percent(live, scanned, floor uint64) int {
	if scanned == 0 { // not collected yet, or a runtime without these metrics
		return basePercent
	}
	p := math.Ceil(float64(floor) * 100 / float64(scanned))
	p = min(p, math.Floor(float64(live+floor)*100/runtimeHeapMinimum))
	switch {
	case p < basePercent:
		return basePercent
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}
