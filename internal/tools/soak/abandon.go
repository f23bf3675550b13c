package main

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// The abandoned burst (heavy mix), after the load: burstSize variants of the
// heaviest query sent at once, each from an address of its own (so that every
// one is admitted by the execution rate, the worst case), all given up
// burstCancelAfter after they were sent. The service's CPU time is then
// sampled every cpuSampleEvery; it is idle once a window of idleWindow used
// at most idleShare of one core. USER_HZ ticks are 10 ms, so 5 % of 200 ms
// is one tick: a window is idle when it used at most one.
const (
	burstSize        = 50
	burstCancelAfter = 100 * time.Millisecond
	cpuSampleEvery   = 100 * time.Millisecond
	idleWindow       = 200 * time.Millisecond
	idleShare        = 0.05
	idleTarget       = time.Second     // the verdict's bound on the time to idle after the cancel
	idleWatch        = 5 * time.Second // how long after the cancel idleness is looked for
	quietWait        = 10 * time.Second
)

// BurstResult is what the abandoned burst measured.
type BurstResult struct {
	Sent     int
	Answered int              // answered before the cancel, not abandoned
	Answers  map[string]int64 // by answerLabel
	// Measured is false when the child's CPU time cannot be read (no /proc).
	Measured bool
	// QuietBefore says whether the service was idle before the burst
	// (within quietWait of the load's end); QuietAfter is how long that
	// took.
	QuietBefore bool
	QuietAfter  time.Duration
	CPUBurst    time.Duration // CPU time from the first request to the cancel
	CPUAfter    time.Duration // from the cancel to the idle window (or to the end of the watch)
	Idle        bool          // an idle window began within idleWatch of the cancel
	IdleAfter   time.Duration // from the cancel to the start of that window
	// After is judge's word on an ordinary query sent once the CPU was
	// idle ("" when it was answered with data).
	After            string
	Unexpected       int64 // answers to the burst judge finds undocumented
	UnexpectedSample string
}

// cpuSample is the child's CPU time (user plus system) at a moment.
type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// firstIdle returns the index of the first sample from which a window of at
// least window used at most share of one core, measured to the first later
// sample at least window after it; false when none has yet.
func firstIdle(samples []cpuSample, window time.Duration, share float64) (int, bool) {
	for i, s := range samples {
		for _, e := range samples[i+1:] {
			elapsed := e.at.Sub(s.at)
			if elapsed < window {
				continue
			}
			if float64(e.cpu-s.cpu) <= share*float64(elapsed) {
				return i, true
			}
			break
		}
	}
	return 0, false
}

// watchIdle samples pid's CPU time, from first on, until a window is idle
// (firstIdle) or watch has passed since first; it returns the samples, the
// idle one's index and whether there was one.
func watchIdle(ctx context.Context, pid int, first cpuSample, watch time.Duration) ([]cpuSample, int, bool) {
	samples := []cpuSample{first}
	tick := time.NewTicker(cpuSampleEvery)
	defer tick.Stop()
	for {
		if i, ok := firstIdle(samples, idleWindow, idleShare); ok {
			return samples, i, true
		}
		if time.Since(first.at) >= watch+idleWindow {
			return samples, 0, false
		}
		select {
		case <-ctx.Done():
			return samples, 0, false
		case <-tick.C:
			samples = append(samples, sampleCPU(pid))
		}
	}
}

func sampleCPU(pid int) cpuSample {
	return cpuSample{at: time.Now(), cpu: proc.CPUTime(pid)}
}

// abandonBurst waits for the service to be quiet, sends the burst, gives it
// up, and measures how soon the CPU is idle; then it checks an ordinary
// query is answered.
func (l *load) abandonBurst(ctx context.Context, pid int) *BurstResult {
	res := &BurstResult{Sent: burstSize, Answers: map[string]int64{}, Measured: proc.CPUTime(pid) >= 0}
	if res.Measured {
		samples, i, ok := watchIdle(ctx, pid, sampleCPU(pid), quietWait)
		if !ok {
			i = len(samples) - 1
		}
		res.QuietBefore, res.QuietAfter = ok, samples[i].at.Sub(samples[0].at)
	}

	start := sampleCPU(pid)
	burstCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make(chan result, burstSize)
	for k := range burstSize {
		req := request{name: "abandoned", kind: KindAbandoned, method: http.MethodPost,
			body: postBody(variantQuery(l.variants.Add(1))), forwardedFor: clientAddr(1, k)}
		go func() { results <- l.do(burstCtx, req, new(bytes.Buffer)) }()
	}
	select {
	case <-ctx.Done():
	case <-time.After(burstCancelAfter):
	}
	cancel(errAbandoned) // do reads the cause: the requests are abandoned
	at := sampleCPU(pid)
	for range burstSize {
		r := <-results
		res.Answers[answerLabel(r)]++
		if r.outcome != OutcomeAbandoned {
			res.Answered++
		}
		if why := judge(KindAbandoned, r); why != "" {
			res.Unexpected++
			if res.UnexpectedSample == "" {
				res.UnexpectedSample = "burst: " + why
			}
		}
	}
	if ctx.Err() != nil {
		return res
	}

	if res.Measured {
		res.CPUBurst = at.cpu - start.cpu
		samples, i, ok := watchIdle(ctx, pid, at, idleWatch)
		res.Idle = ok
		end := samples[len(samples)-1]
		if ok {
			end = samples[i]
			res.IdleAfter = end.at.Sub(at.at)
		}
		res.CPUAfter = end.cpu - at.cpu
	}

	r := l.do(ctx, l.mix.ordinary[0], new(bytes.Buffer))
	if r.outcome != OutcomeData {
		res.After = answerLabel(r)
		if why := judge(KindOrdinary, r); why != "" {
			res.After = why
		}
	}
	return res
}
