// Package gcfloor keeps Go's garbage collector from running more often than a
// heap floor asks: after each collection it sets GOGC so that the next one
// comes no sooner than a given number of bytes of new garbage.
//
// Why: the service's live heap is a few MiB (a snapshot and its indexes), and
// with GOGC's default of 100 the heap goal is twice that, so under load a
// collection starts every few MiB allocated, 25 times a second on one core
// serving cached answers. Each mark phase takes a quarter of that core for
// about 2.5 ms and slows the requests it overlaps; those are the p99. A floor
// of 32 MiB makes collections about ten times rarer there and leaves large
// heaps (the large dataset's concurrent executions, 70 MiB live) exactly as
// GOGC=100 would: the percent never goes below 100.
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

// maxPercent bounds the percent, so that a near-empty heap (tests, the first
// moments after start) does not ask for an absurd multiple; with a live heap
// of at least 1/100th of the floor the bound is not reached.
const maxPercent = 10000

// liveHeap is the runtime/metrics name of the heap the last collection
// marked live.
const liveHeap = "/gc/heap/live:bytes"

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
	f := &Floor{bytes: floor, sample: []metrics.Sample{{Name: liveHeap}}, percent: basePercent}
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
	if f.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := percent(f.sample[0].Value.Uint64(), f.bytes); p != f.percent {
			debug.SetGCPercent(p)
			f.percent = p
		}
	}
	f.arm()
}

// percent is the GOGC whose heap goal, live × (1 + GOGC/100), is at least
// live + floor, and never below the default; the runtime adds the goroutine
// stacks and globals to live when it applies it, which only raises the goal.
func percent(live, floor uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := math.Ceil(float64(floor) * 100 / float64(live))
	switch {
	case p < basePercent:
		return basePercent
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}
