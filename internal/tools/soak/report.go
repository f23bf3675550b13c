package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// Report is what a soak run measured.
type Report struct {
	Config        Config
	Settings      []string      // the service's environment, upstream URL and credentials left out
	DatasetBytes  int           // the large dataset's size; 0 for the demo's
	FastPath      bool          // the service ran with FAST_PATH=true
	Elapsed       time.Duration // measured load, from the first request to the last answer
	PhasesEntered int

	Total    tally
	ByPhase  [len(phases)]tally
	ByCode   map[string]int64 // responses with errors, by the first error's extensions.code
	ByStatus map[int]int64    // answered responses by HTTP status
	// FiveXXAfterData counts 5xx answers to requests sent once some request
	// had been answered with data: the service then had a copy to serve stale.
	// 503 OVERLOADED with Retry-After, the documented refusal under load, is
	// not one of them.
	FiveXXAfterData int64
	NoAnswerSample  string
	ByKind          [numKinds]kindTally
	// Unexpected counts answers judge finds undocumented for their kind.
	Unexpected       int64
	UnexpectedSample string

	P50, P99, Max time.Duration
	PhaseP99      [len(phases)]time.Duration

	UpstreamCalls int64     // requests that reached the simulator while measuring
	Logs          LogCounts // what the service logged while measuring

	RSSStartKB, RSSEndKB, PeakRSSKB int64     // 0: unavailable
	PeakRSSLimitKB                  int64     // the verdict's bound on PeakRSSKB; 0: none
	Heap                            HeapPeaks // sampled from /metrics while measuring and during the burst
	GoroutinesStart, GoroutinesEnd  float64   // -1: the service exposes no go_goroutines

	Burst *BurstResult // the abandoned burst (heavy mix); nil when not run

	Stop proc.StopResult
}

// Answered200 is the number of requests answered with HTTP 200.
func (r *Report) Answered200() int64 { return r.ByStatus[200] }

func (r *Report) add(s *stats) {
	r.Total = s.total
	r.ByPhase = s.byPhase
	r.ByCode = s.byCode
	r.ByStatus = s.byStatus
	r.FiveXXAfterData = s.fiveXXAfterData
	r.NoAnswerSample = s.noAnswerSample
	r.ByKind = s.byKind
	r.Unexpected = s.unexpected
	r.UnexpectedSample = s.unexpectedSample
	var all []time.Duration
	for p, lat := range s.latencies {
		slices.Sort(lat)
		r.PhaseP99[p] = percentile(lat, 99)
		all = append(all, lat...)
	}
	slices.Sort(all)
	r.P50, r.P99 = percentile(all, 50), percentile(all, 99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// RSSGrowth is (end-start)/start, and false when RSS was not available.
func (r *Report) RSSGrowth() (float64, bool) {
	if r.RSSStartKB <= 0 || r.RSSEndKB <= 0 {
		return 0, false
	}
	return float64(r.RSSEndKB-r.RSSStartKB) / float64(r.RSSStartKB), true
}

// Check is one line of the verdict.
type Check struct {
	Name string
	Pass bool
	Note string
}

// Checks are the verdict's criteria.
func (r *Report) Checks() []Check {
	checks := []Check{
		{
			Name: "no 5xx once a stale copy exists",
			Pass: r.FiveXXAfterData == 0,
			Note: fmt.Sprintf("%d, 503 OVERLOADED with Retry-After aside", r.FiveXXAfterData),
		},
		r.documentedCheck(),
	}
	growth, ok := r.RSSGrowth()
	rss := Check{Name: "RSS growth", Pass: !ok || growth <= r.Config.MaxRSSGrowth}
	if ok {
		rss.Note = fmt.Sprintf("%+.1f%%, limit %.0f%%", 100*growth, 100*r.Config.MaxRSSGrowth)
	} else {
		rss.Note = "not measured (no /proc)"
	}
	if r.Config.Mix != MixHeavy {
		// With the heavy mix, RSS follows the garbage of 2 MB answers and
		// the collector's pacing, not leaks: the peak is bounded instead.
		checks = append(checks, rss)
	}
	if r.PeakRSSLimitKB > 0 {
		peak := Check{Name: "peak RSS", Pass: r.PeakRSSKB <= r.PeakRSSLimitKB}
		if r.PeakRSSKB > 0 {
			peak.Note = fmt.Sprintf("%s, limit %s", kbText(r.PeakRSSKB), kbText(r.PeakRSSLimitKB))
		} else {
			peak.Note = "not measured (no /proc)"
		}
		checks = append(checks, peak)
	}
	if r.Burst != nil {
		checks = append(checks, r.Burst.check())
	}
	stop := Check{Name: "clean shutdown", Pass: r.Stop.OK()}
	switch {
	case r.Stop.TimedOut:
		stop.Note = fmt.Sprintf("still running %s after SIGTERM", stopTimeout)
	case r.Stop.Err != "":
		stop.Note = r.Stop.Err
	default:
		stop.Note = fmt.Sprintf("exit %d after SIGTERM in %s", r.Stop.ExitCode, r.Stop.Took.Round(time.Millisecond))
	}
	return append(checks, stop)
}

// documentedCheck passes when every answer, the burst's included, is one
// judge documents for its kind.
func (r *Report) documentedCheck() Check {
	n, sample := r.Unexpected, r.UnexpectedSample
	if b := r.Burst; b != nil {
		n += b.Unexpected
		if sample == "" {
			sample = b.UnexpectedSample
		}
	}
	c := Check{Name: "documented answers", Pass: n == 0, Note: "every refusal with its code"}
	if n > 0 {
		c.Note = fmt.Sprintf("%d undocumented, e.g. %s", n, sample)
	}
	return c
}

// check is the burst's line of the verdict: the CPU idle within idleTarget
// of the cancel, and the next query answered.
func (b *BurstResult) check() Check {
	c := Check{Name: fmt.Sprintf("CPU idle after %d abandoned", b.Sent)}
	switch {
	case b.After != "":
		c.Note = "the query after the burst: " + b.After
	case !b.Measured:
		c.Pass, c.Note = true, "not measured (no /proc)"
	case !b.Idle:
		c.Note = fmt.Sprintf("not idle within %s of the cancel", idleWatch)
	default:
		c.Pass = b.IdleAfter <= idleTarget
		c.Note = fmt.Sprintf("%s after the cancel, limit %s", b.IdleAfter.Round(time.Millisecond), idleTarget)
	}
	return c
}

// Pass reports whether every check passed.
func (r *Report) Pass() bool {
	for _, c := range r.Checks() {
		if !c.Pass {
			return false
		}
	}
	return true
}

// Print writes the report as aligned text.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	line := func(label, format string, args ...any) {
		if label != "" { // "": a line continuing the one before
			label += ":"
		}
		fmt.Fprintf(w, "%-22s %s\n", label, fmt.Sprintf(format, args...))
	}
	load := "closed loop"
	if c.RPS > 0 {
		load = fmt.Sprintf("%g req/s", c.RPS)
	}
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.name
	}
	fmt.Fprintln(w, "soak report")
	line("duration", "%s measured after %s warm-up; %d clients, %s", r.Elapsed.Round(time.Millisecond), c.Warmup, c.Clients, load)
	line("phases", "%d of %s: %s, repeating", r.PhasesEntered, c.Phase, strings.Join(names, " → "))
	dataset := "demo"
	if c.Large {
		dataset = fmt.Sprintf("large: %d types × %d stages × %d fields (%.1f MB)", largeSize[0], largeSize[1], largeSize[2], float64(r.DatasetBytes)/1e6)
	}
	line("dataset", "%s", dataset)
	heavy := c.Mix == MixHeavy
	if heavy {
		line("mix", "heavy: of every %d requests, the 4 ordinary, the heaviest query, a variant of it under a new alias,", len(heavyCycle))
		line("", "a back-reference (a type nested twice in its stages) and a variant abandoned after %s–%s;",
			abandonMin, abandonMin+(abandonSpan-1)*time.Millisecond)
		line("", "client n sends X-Forwarded-For 10.0.x.y, the loopback proxy trusted")
	} else {
		line("mix", "ordinary: dropdown, pipeline, default-fields, stage-lookup, a quarter each")
	}
	line("service env", "%s", strings.Join(r.Settings, " "))
	secs := r.Elapsed.Seconds()
	line("requests sent", "%d (%.0f/s)", r.Total.Sent, float64(r.Total.Sent)/max(secs, 1e-9))
	line("answered 200", "%d", r.Answered200())
	line("answered with data", "%d (%d of them stale)", r.Total.Outcomes[OutcomeData], r.Total.Stale)
	line("answered with errors", "%d", r.Total.Outcomes[OutcomeErrors])
	line("other answers", "%d", r.Total.Outcomes[OutcomeOther])
	noAnswer := fmt.Sprintf("%d", r.Total.Outcomes[OutcomeNoAnswer])
	if r.NoAnswerSample != "" {
		noAnswer += " (e.g. " + r.NoAnswerSample + ")"
	}
	line("no answer", "%s", noAnswer)
	line("errors by code", "%s", countsText(r.ByCode, func(k string) string { return k }))
	line("answers by status", "%s", countsText(r.ByStatus, func(k int) string { return fmt.Sprint(k) }))
	line("latency", "p50 %s  p99 %s  max %s", roundLatency(r.P50), roundLatency(r.P99), roundLatency(r.Max))
	abandonedHead := ""
	if heavy {
		abandonedHead = fmt.Sprintf(" %9s", "abandoned")
	}
	fmt.Fprintf(w, "%-22s %-9s %8s %8s %8s %8s %8s%s %9s\n", "by phase:", "phase", "sent", "data", "stale", "errors", "other+na", abandonedHead, "p99")
	for p, t := range r.ByPhase {
		abandoned := ""
		if heavy {
			abandoned = fmt.Sprintf(" %9d", t.Outcomes[OutcomeAbandoned])
		}
		fmt.Fprintf(w, "%-22s %-9s %8d %8d %8d %8d %8d%s %9s\n", "", phases[p].name, t.Sent,
			t.Outcomes[OutcomeData], t.Stale, t.Outcomes[OutcomeErrors],
			t.Outcomes[OutcomeOther]+t.Outcomes[OutcomeNoAnswer], abandoned, roundLatency(r.PhaseP99[p]))
	}
	if heavy {
		label := "by kind:"
		for k, t := range r.ByKind {
			fmt.Fprintf(w, "%-22s %-9s %8d  %s\n", label, Kind(k), t.Sent, countsText(t.Answers, func(k string) string { return k }))
			label = ""
		}
	}
	line("upstream calls", "%d (%.1f/s)", r.UpstreamCalls, float64(r.UpstreamCalls)/max(secs, 1e-9))
	line("refreshes", "%d succeeded, %d failed", r.Logs.Refreshes, r.Logs.RefreshFailures)
	line("breaker transitions", "%s", countsText(r.Logs.Breaker, func(k string) string { return k }))
	line("service log lines", "%d (%s)", r.Logs.Lines, countsText(r.Logs.ByLevel, func(k string) string { return k }))
	growth := "n/a"
	if g, ok := r.RSSGrowth(); ok {
		growth = fmt.Sprintf("%+.1f%%", 100*g)
	}
	peak := kbText(r.PeakRSSKB)
	if r.PeakRSSLimitKB > 0 {
		executor := "fast path"
		if !r.FastPath {
			executor = "gqlgen"
		}
		peak += fmt.Sprintf(" (limit %s, %s)", kbText(r.PeakRSSLimitKB), executor)
	}
	line("RSS", "start %s, end %s (%s), peak %s", kbText(r.RSSStartKB), kbText(r.RSSEndKB), growth, peak)
	line("heap", "peak in use %s, peak goal (next GC) %s, read from /metrics every %s",
		bytesText(r.Heap.InUse), bytesText(r.Heap.Goal), heapSampleEvery)
	if b := r.Burst; b != nil {
		b.print(line)
	}
	line("goroutines", "start %s, end %s", goroutinesText(r.GoroutinesStart), goroutinesText(r.GoroutinesEnd))
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	var parts []string
	for _, ch := range r.Checks() {
		mark := "ok"
		if !ch.Pass {
			mark = "FAILED"
		}
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", ch.Name, mark, ch.Note))
	}
	line("verdict", "%s — %s", verdict, strings.Join(parts, "; "))
}

// print writes the burst's lines of the report.
func (b *BurstResult) print(line func(label, format string, args ...any)) {
	line("abandoned burst", "%d heavy variants at once from %d addresses, given up after %s: %d answered before, %s",
		b.Sent, b.Sent, burstCancelAfter, b.Answered, countsText(b.Answers, func(k string) string { return k }))
	if !b.Measured {
		line("", "CPU not measured (no /proc)")
		return
	}
	quiet := fmt.Sprintf("idle %s after the load", b.QuietAfter.Round(time.Millisecond))
	if !b.QuietBefore {
		quiet = fmt.Sprintf("not idle within %s of the load", quietWait)
	}
	idle := fmt.Sprintf("not idle within %s", idleWatch)
	if b.Idle {
		idle = fmt.Sprintf("idle %s after the cancel", b.IdleAfter.Round(time.Millisecond))
	}
	line("", "before: %s; CPU %s until the cancel, %s after it; %s (a %s window under %.0f%% of a core, sampled every %s)",
		quiet, b.CPUBurst, b.CPUAfter, idle, idleWindow, 100*idleShare, cpuSampleEvery)
}

// countsText lists non-zero counts, largest first, then by key.
func countsText[K cmp.Ordered](m map[K]int64, name func(K) string) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b K) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name(k), m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func kbText(kb int64) string {
	if kb <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func bytesText(b float64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

func goroutinesText(n float64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%g", n)
}
