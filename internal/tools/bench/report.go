package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Targets of the issue: one core for the server, warm cache, 32 connections.
const (
	targetOnRatio       = 0.80
	targetOnP99         = 3 * time.Millisecond
	targetOffSmallRatio = 0.40 // dropdown and lookup
	targetOffFullRatio  = 0.07
	targetOffSmallP99   = 5 * time.Millisecond // dropdown, lookup, default
	targetColdOverhead  = time.Millisecond
	targetRSSKB         = 64 << 10
)

// Check is one target, met or not.
type Check struct {
	Name string
	Met  bool
	Got  string
}

func (r *Report) row(rows []Row, query, target string) (Row, bool) {
	for _, row := range rows {
		if row.Query == query && row.Target == target {
			return row, true
		}
	}
	return Row{}, false
}

// Checks compares the demo rows with the targets.
func (r *Report) Checks() []Check {
	var checks []Check
	add := func(name string, met bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, Met: met, Got: fmt.Sprintf(format, args...)})
	}
	for _, q := range queryNames {
		on, _ := r.row(r.Demo, q, targetCacheOn)
		add(fmt.Sprintf("cache on, %s: ≥ %.0f%% of the ceiling, p99 ≤ %s", q, 100*targetOnRatio, targetOnP99),
			on.Ratio >= targetOnRatio && on.P99 <= targetOnP99, "%.0f%%, p99 %s", 100*on.Ratio, roundLatency(on.P99))
	}
	for _, q := range queryNames {
		off, _ := r.row(r.Demo, q, targetCacheOff)
		switch q {
		case "full":
			add(fmt.Sprintf("cache off, full: ≥ %.0f%% of the ceiling", 100*targetOffFullRatio),
				off.Ratio >= targetOffFullRatio, "%.1f%%", 100*off.Ratio)
		case "default":
			add(fmt.Sprintf("cache off, default: p99 ≤ %s", targetOffSmallP99),
				off.P99 <= targetOffSmallP99, "p99 %s (%.0f%% of the ceiling; no ratio target)", roundLatency(off.P99), 100*off.Ratio)
		default:
			add(fmt.Sprintf("cache off, %s: ≥ %.0f%% of the ceiling, p99 ≤ %s", q, 100*targetOffSmallRatio, targetOffSmallP99),
				off.Ratio >= targetOffSmallRatio && off.P99 <= targetOffSmallP99, "%.0f%%, p99 %s", 100*off.Ratio, roundLatency(off.P99))
		}
	}
	var calls int64
	var peak int64
	for _, row := range r.Demo {
		if row.Target != targetCeiling {
			calls += row.UpstreamCalls
			peak = max(peak, row.HWMKB)
		}
	}
	add("upstream: 0 calls while fresh", calls == 0, "%d calls during the measured runs", calls)
	// The upstream's own latency is what a direct call to it takes (the
	// simulator's sleep, its encoding, loopback), measured from the load
	// generator; the sleep alone is shown beside it.
	for _, c := range r.Cold {
		over := c.P50 - r.BareUpstream
		add(fmt.Sprintf("cold path, %s: p50 ≤ %s over the upstream's own (a bare call's p50, %s)", c.Query, targetColdOverhead, roundLatency(r.BareUpstream)),
			over <= targetColdOverhead, "+%s (+%s over the %s sleep; the ceiling via upstream: +%s)",
			roundLatency(over), roundLatency(c.P50-r.Config.Latency), r.Config.Latency, roundLatency(c.CeilingP50-r.BareUpstream))
	}
	add(fmt.Sprintf("RSS ≤ %d MiB", targetRSSKB>>10), peak > 0 && peak <= targetRSSKB, "peak VmHWM %s", kbText(peak))
	return checks
}

// Print writes the report as Markdown.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "## Load benchmark, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s, %s, %s\n", r.Machine, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(w, "- placement: %s\n", r.Pinning)
	fmt.Fprintf(w, "- load: closed loop, %d keep-alive connections, %d interleaved round(s) of %s per target and query after %s of warm-up; simulator latency %s\n",
		c.Clients, c.Rounds, c.Duration, c.Warmup, c.Latency)
	fmt.Fprintf(w, "- service env: %s (+ RESPONSE_CACHE=false for \"cache off\"); access log on as shipped: %d lines written while measuring\n",
		strings.Join(r.ServiceEnv, " "), r.AccessLogLines)
	fmt.Fprintf(w, "- run took %s\n\n", r.Elapsed.Round(time.Second))

	fmt.Fprintf(w, "### Demo dataset (%s)\n\n", byteText(float64(r.DemoBytes)))
	printRows(w, r.Demo, false)
	warnUnsaturated(w, r.Demo)

	fmt.Fprintf(w, "\n### Cold path (CACHE_TTL=CACHE_MAX_STALE=1ms: every request waits for a fetch; one connection, sequential)\n\n")
	fmt.Fprintf(w, "| query | requests | upstream calls | p50 | p99 | p50 − %s | p50 − bare upstream p50 (%s) | ceiling via upstream p50 | p50 − ceiling's |\n", c.Latency, roundLatency(r.BareUpstream))
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, cr := range r.Cold {
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", cr.Query, cr.Requests, cr.UpstreamCalls,
			roundLatency(cr.P50), roundLatency(cr.P99), roundLatency(cr.P50-c.Latency), roundLatency(cr.P50-r.BareUpstream),
			roundLatency(cr.CeilingP50), roundLatency(cr.P50-cr.CeilingP50))
	}
	fmt.Fprintln(w, "\nBare upstream: signed POSTs from the load generator straight to the simulator. Ceiling via upstream: the ceiling making that call before each canned answer, i.e. the upstream plus one HTTP hop on this machine.")

	if len(r.Large) > 0 {
		fmt.Fprintf(w, "\n### Large dataset (LargeDataset(%d, %d, %d): %s)\n\n", c.LargeSize[0], c.LargeSize[1], c.LargeSize[2], byteText(float64(r.LargeBytes)))
		printRows(w, r.Large, true)
		warnUnsaturated(w, r.Large)
		demo, ok1 := r.row(r.Demo, "full", targetCacheOff)
		large, ok2 := r.row(r.Large, "full", targetCacheOff)
		if ok1 && ok2 && demo.Bytes > 0 && large.Bytes > 0 {
			perByte := func(row Row) float64 { return float64(row.CPUPerRequest.Nanoseconds()) / float64(row.Bytes) }
			fmt.Fprintf(w, "\nFull query, cache off, server CPU per response byte: demo %.1f ns/B (%s per %s answer), large %.1f ns/B (%s per %s answer).\n",
				perByte(demo), demo.CPUPerRequest.Round(time.Microsecond), byteText(float64(demo.Bytes)),
				perByte(large), large.CPUPerRequest.Round(time.Microsecond), byteText(float64(large.Bytes)))
			fmt.Fprintf(w, "Ratio large/demo: %.2f per byte, for a response %.0f× and a configuration %.0f× larger (cost linear in the response would give 1; quadratic in the configuration, about %.0f).\n",
				perByte(large)/perByte(demo), float64(large.Bytes)/float64(demo.Bytes), float64(r.LargeBytes)/float64(r.DemoBytes), float64(r.LargeBytes)/float64(r.DemoBytes))
		}
	}

	fmt.Fprintf(w, "\n### Targets\n\n| target | result | |\n|---|---|---|\n")
	for _, ch := range r.Checks() {
		mark := "met"
		if !ch.Met {
			mark = "**not met**"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", ch.Name, ch.Got, mark)
	}
}

// warnUnsaturated flags ceilings that did not fill their core: there the
// load generator, not the server, set the pace, and ratios to it flatter the
// service.
func warnUnsaturated(w io.Writer, rows []Row) {
	for _, row := range rows {
		if row.Target == targetCeiling && row.ServerCPU < 0.95 {
			fmt.Fprintf(w, "\nWarning: the ceiling used %.0f%% of its core on %s: the load generator (%.0f%% of a core) may be the limit there.\n",
				100*row.ServerCPU, row.Query, 100*row.ClientCPU)
		}
	}
}

func printRows(w io.Writer, rows []Row, withBytes bool) {
	head := "| query | bytes | target | req/s | ± rounds | p50 | p99 | vs ceiling | upstream calls | server CPU | CPU/request | load CPU | RSS / peak |"
	sep := "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if withBytes {
		head += " bytes/s |"
		sep += "---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, row := range rows {
		ratio := "—"
		if row.Target != targetCeiling {
			ratio = ratioText(row.Ratio)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f%% | %s | %s | %s | %d | %.0f%% | %s | %.0f%% | %s / %s |",
			row.Query, row.Bytes, row.Target, row.ReqPerSec, 100*row.Spread(), roundLatency(row.P50), roundLatency(row.P99),
			ratio, row.UpstreamCalls, 100*row.ServerCPU, roundLatency(row.CPUPerRequest), 100*row.ClientCPU, kbText(row.RSSKB), kbText(row.HWMKB))
		if withBytes {
			fmt.Fprintf(w, " %s/s |", byteText(row.BytesPerSec()))
		}
		fmt.Fprintln(w)
	}
}

// roundLatency keeps three significant digits or so.
func roundLatency(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + roundLatency(-d)
	case d < 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond).String()
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func kbText(kb int64) string {
	if kb <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func byteText(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}
