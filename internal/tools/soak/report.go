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
	Elapsed       time.Duration // measured load, from the first request to the last answer
	PhasesEntered int

	Total    tally
	ByPhase  [len(phases)]tally
	ByCode   map[string]int64 // responses with errors, by the first error's extensions.code
	ByStatus map[int]int64    // answered responses by HTTP status
	// FiveXXAfterData counts 5xx answers to requests sent once some request
	// had been answered with data: the service then had a copy to serve stale.
	FiveXXAfterData int64
	NoAnswerSample  string

	P50, P99, Max time.Duration
	PhaseP99      [len(phases)]time.Duration

	UpstreamCalls int64     // requests that reached the simulator while measuring
	Logs          LogCounts // what the service logged while measuring

	RSSStartKB, RSSEndKB, PeakRSSKB int64   // 0: unavailable
	GoroutinesStart, GoroutinesEnd  float64 // -1: the service exposes no go_goroutines

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
	growth, ok := r.RSSGrowth()
	rss := Check{Name: "RSS growth", Pass: !ok || growth <= r.Config.MaxRSSGrowth}
	if ok {
		rss.Note = fmt.Sprintf("%+.1f%%, limit %.0f%%", 100*growth, 100*r.Config.MaxRSSGrowth)
	} else {
		rss.Note = "not measured (no /proc)"
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
	return []Check{
		{
			Name: "no 5xx once a stale copy exists",
			Pass: r.FiveXXAfterData == 0,
			Note: fmt.Sprintf("%d", r.FiveXXAfterData),
		},
		rss,
		stop,
	}
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
		fmt.Fprintf(w, "%-22s %s\n", label+":", fmt.Sprintf(format, args...))
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
	fmt.Fprintf(w, "%-22s %-9s %8s %8s %8s %8s %8s %9s\n", "by phase:", "phase", "sent", "data", "stale", "errors", "other+na", "p99")
	for p, t := range r.ByPhase {
		fmt.Fprintf(w, "%-22s %-9s %8d %8d %8d %8d %8d %9s\n", "", phases[p].name, t.Sent,
			t.Outcomes[OutcomeData], t.Stale, t.Outcomes[OutcomeErrors],
			t.Outcomes[OutcomeOther]+t.Outcomes[OutcomeNoAnswer], roundLatency(r.PhaseP99[p]))
	}
	line("upstream calls", "%d (%.1f/s)", r.UpstreamCalls, float64(r.UpstreamCalls)/max(secs, 1e-9))
	line("refreshes", "%d succeeded, %d failed", r.Logs.Refreshes, r.Logs.RefreshFailures)
	line("breaker transitions", "%s", countsText(r.Logs.Breaker, func(k string) string { return k }))
	line("service log lines", "%d (%s)", r.Logs.Lines, countsText(r.Logs.ByLevel, func(k string) string { return k }))
	growth := "n/a"
	if g, ok := r.RSSGrowth(); ok {
		growth = fmt.Sprintf("%+.1f%%", 100*g)
	}
	line("RSS", "start %s, end %s (%s), peak %s", kbText(r.RSSStartKB), kbText(r.RSSEndKB), growth, kbText(r.PeakRSSKB))
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

func goroutinesText(n float64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%g", n)
}
