package gcfloor_test

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/gcfloor"
)

// These tests change the process's GOGC, so none of them runs in parallel.

// readMetric reads one uint64 runtime metric.
func readMetric(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("metric %s is not a uint64", name)
	}
	return s[0].Value.Uint64()
}

// gogc is the GOGC in effect.
func gogc(t *testing.T) uint64 { return readMetric(t, "/gc/gogc:percent") }

// cycles is the number of collections so far.
func cycles(t *testing.T) uint64 { return readMetric(t, "/gc/cycles/total:gc-cycles") }

// churn allocates total bytes of garbage in 64 KiB blocks, keeping a few
// alive at a time, as requests do, and returns the collections it took.
func churn(t *testing.T, total int) uint64 {
	t.Helper()
	before := cycles(t)
	var keep [4][]byte
	for i := 0; i < total/(64<<10); i++ {
		keep[i%len(keep)] = make([]byte, 64<<10)
	}
	runtime.KeepAlive(keep)
	return cycles(t) - before
}

// waitGOGC collects until the GOGC in effect is ok and returns it, or
// fails: the floor's cleanup runs on a goroutine of its own after a
// collection, so a collection may end before it has run.
func waitGOGC(t *testing.T, ok func(uint64) bool) uint64 {
	t.Helper()
	for range 100 {
		runtime.GC()
		runtime.Gosched()
		if p := gogc(t); ok(p) {
			return p
		}
	}
	t.Fatalf("GOGC is still %d after 100 collections", gogc(t))
	return 0
}

// checkHeadroom fails unless the heap goal is about floor above the live
// heap, as the floor means it to be.
func checkHeadroom(t *testing.T, floor uint64) {
	t.Helper()
	live, goal := readMetric(t, "/gc/heap/live:bytes"), readMetric(t, "/gc/heap/goal:bytes")
	if headroom := goal - live; headroom < floor*9/10 || headroom > floor*13/10 {
		t.Errorf("heap goal %d MiB over %d MiB live (stacks %d MiB): %d MiB of headroom, want about the %d MiB floor",
			goal>>20, live>>20, readMetric(t, "/gc/scan/stack:bytes")>>20, headroom>>20, floor>>20)
	}
}

func reset(t *testing.T) {
	t.Helper()
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
}

func TestFloorMakesCollectionsRarer(t *testing.T) {
	reset(t)
	const floor = 64 << 20
	const garbage = 512 << 20
	runtime.GC()
	without := churn(t, garbage)

	f := gcfloor.Start(floor)
	p := waitGOGC(t, func(p uint64) bool { return p > 100 })
	// A heap this small sets the goal by the runtime's minimum heap, which
	// GOGC scales too.
	checkHeadroom(t, floor)
	with := churn(t, garbage)
	f.Stop()

	// The live heap here is a few MiB: GOGC=100 collects every few MiB of
	// garbage, the floor every 64 MiB or more.
	if most := uint64(garbage/floor) + 2; with > most {
		t.Errorf("with a %d MiB floor (GOGC %d), %d MiB of garbage took %d collections, want at most %d", floor>>20, p, garbage>>20, with, most)
	}
	if without < 4*with {
		t.Errorf("without the floor %d collections, with it %d: want at least 4 times fewer", without, with)
	}
	if p := gogc(t); p != 100 {
		t.Errorf("after Stop GOGC is %d, want 100", p)
	}
	// A collection after Stop leaves GOGC alone: the cleanup armed last
	// does nothing.
	runtime.GC()
	runtime.GC()
	if p := gogc(t); p != 100 {
		t.Errorf("a collection after Stop set GOGC to %d, want 100", p)
	}
}

func TestFloorReturnsToTheDefaultWhenTheHeapGrows(t *testing.T) {
	reset(t)
	f := gcfloor.Start(16 << 20)
	defer f.Stop()
	// A few MiB live: the floor raises GOGC.
	waitGOGC(t, func(p uint64) bool { return p > 100 })
	// Then 48 MiB live, as concurrent large executions hold: GOGC=100
	// already leaves 48 MiB before the next collection, more than the
	// floor, so the floor goes back to the default.
	live := make([][]byte, 48)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	if p := waitGOGC(t, func(p uint64) bool { return p <= 100 }); p != 100 {
		t.Errorf("GOGC with 48 MiB live and a 16 MiB floor = %d, want 100", p)
	}
	runtime.KeepAlive(live)
}

// deep grows its goroutine's stack by about depth KiB, then waits for
// release.
func deep(depth int, ready chan<- struct{}, release <-chan struct{}) byte {
	var frame [1 << 10]byte
	frame[depth%len(frame)] = byte(depth)
	if depth > 0 {
		return deep(depth-1, ready, release) + frame[0]
	}
	ready <- struct{}{}
	<-release
	return frame[1]
}

func TestFloorCountsStacksInTheGoal(t *testing.T) {
	reset(t)
	// 300 goroutines with 64 KiB stacks each, as idle keep-alive
	// connections have: about 19 MiB of stacks beside a heap of a few MiB.
	// GOGC applies to the stacks too, so a percent computed from the heap
	// alone would set the goal several floors above the heap.
	ready, release := make(chan struct{}), make(chan struct{})
	for range 300 {
		go deep(60, ready, release)
		<-ready
	}
	defer close(release)
	// More than the stacks, so that the floor raises GOGC at all (with
	// 19 MiB scanned, GOGC=100 leaves 19 MiB already).
	const floor = 64 << 20
	f := gcfloor.Start(floor)
	defer f.Stop()
	waitGOGC(t, func(p uint64) bool { return p > 100 })
	checkHeadroom(t, floor)
}
