package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Targets of the issue ("Performance, for real"): one core for the server,
// 32 connections, the service's defaults.
const (
	targetOnRatio = 0.85 // cache on, every query
	targetOnP99   = 3 * time.Millisecond
	// targetRefreshP99 is the cache on's p99 through refreshes and version
	// changes (the refresh scenario), which must also answer nothing but 2xx.
	targetRefreshP99 = 5 * time.Millisecond
	targetLargeRSSKB = 256 << 10 // the large dataset's uncached full queries in flight
	// targetPerByte bounds the full query's CPU per response byte, cache
	// off, on the large dataset over the demo's: cost follows the answer.
	targetPerByte = 1.3
)

// targetOffRatio is the cache off's share of the ceiling, per query: what
// the fast path must reach on each (queryNames are all of them).
func targetOffRatio(query string) float64 {
	return map[string]float64{"full": 0.06, "dropdown": 0.35, "lookup": 0.27, "default": 0.30}[query]
}

// Check is one target: met, not met, or not measured in this run.
type Check struct {
	Name    string
	Met     bool
	Skipped bool // not measured (the large dataset without -large)
	Got     string
}

func (r *Report) row(rows []Row, query, target string) (Row, bool) {
	for _, row := range rows {
		if row.Query == query && row.Target == target {
			return row, true
		}
	}
	return Row{}, false
}

// perByte is a row's server CPU per response byte, in ns.
func perByte(row Row) float64 {
	if row.Bytes == 0 {
		return 0
	}
	return float64(row.CPUPerRequest.Nanoseconds()) / float64(row.Bytes)
}

// upstreamWithinTTL sums the services' upstream calls in rows and the most
// the TTL allows them: a service refreshes only when a request finds its
// copy a TTL old, so at most once per TTL of its life, and not at all while
// its copy is fresh. The ceiling and the peers call no upstream.
func upstreamWithinTTL(rows []Row, ttl time.Duration) (calls, allowed int64) {
	life := map[string]time.Duration{}
	for _, row := range rows {
		if row.Target != targetCeiling && !isPeer(row.Target) {
			calls += row.UpstreamCalls
			life[row.Target] = max(life[row.Target], row.Life)
		}
	}
	for _, l := range life {
		allowed += int64(l / ttl)
	}
	return calls, allowed
}

// refreshesAllowed is the most refreshes a run of elapsed may make with
// CACHE_TTL ttl: one per TTL, and one more for the copy that may already be
// due when it starts. The refresh scenario adds it up over its rounds.
func refreshesAllowed(elapsed, ttl time.Duration) int64 { return int64(elapsed/ttl) + 1 }

// Checks compares the rows with the targets.
func (r *Report) Checks() []Check {
	var checks []Check
	add := func(name string, met bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, Met: met, Got: fmt.Sprintf(format, args...)})
	}
	for _, q := range queryNames {
		off, _ := r.row(r.Demo, q, targetCacheOff)
		gq, _ := r.row(r.Demo, q, targetGqlgen)
		want := targetOffRatio(q)
		add(fmt.Sprintf("cache off, %s: ≥ %.0f%% of the ceiling", q, 100*want),
			off.Ratio >= want, "%s, p99 %s (fast path off: %s, p99 %s)", ratioText(off.Ratio), roundLatency(off.P99), ratioText(gq.Ratio), roundLatency(gq.P99))
	}
	checks = append(checks, peerChecks(r.Demo)...)
	for _, q := range queryNames {
		on, _ := r.row(r.Demo, q, targetCacheOn)
		add(fmt.Sprintf("cache on, %s: ≥ %.0f%% of the ceiling, p99 ≤ %s steady", q, 100*targetOnRatio, targetOnP99),
			on.Ratio >= targetOnRatio && on.P99 <= targetOnP99, "%s, p99 %s", ratioText(on.Ratio), roundLatency(on.P99))
	}
	for _, f := range r.Refresh {
		add(fmt.Sprintf("cache on through refreshes, %s: p99 ≤ %s, 0 non-2xx", f.Query, targetRefreshP99),
			f.P99 <= targetRefreshP99 && f.Non2xx == 0 && f.Requests > 0, "p99 %s (max %s), %d non-2xx of %d", roundLatency(f.P99), roundLatency(f.Max), f.Non2xx, f.Requests)
	}

	name := fmt.Sprintf("large dataset, %d concurrent uncached full queries: peak RSS ≤ %d MiB", r.Config.Clients, targetLargeRSSKB>>10)
	full, ok := r.row(r.Large, "full", targetCacheOff)
	gq, _ := r.row(r.Large, "full", targetGqlgen)
	if ok {
		add(name, full.HWMKB > 0 && full.HWMKB <= targetLargeRSSKB, "peak VmHWM %s (fast path off: %s)", kbText(full.HWMKB), kbText(gq.HWMKB))
	} else {
		checks = append(checks, Check{Name: name, Skipped: true, Got: "run with -large"})
	}
	name = fmt.Sprintf("full query, cache off: CPU per response byte, large / demo ≤ %.1f×", targetPerByte)
	demo, _ := r.row(r.Demo, "full", targetCacheOff)
	demoGq, _ := r.row(r.Demo, "full", targetGqlgen)
	if ok && perByte(demo) > 0 {
		ratio := perByte(full) / perByte(demo)
		add(name, ratio <= targetPerByte, "%.2f× (%.1f / %.1f ns/B; fast path off: %.2f×)", ratio, perByte(full), perByte(demo), perByte(gq)/perByte(demoGq))
	} else {
		checks = append(checks, Check{Name: name, Skipped: true, Got: "run with -large"})
	}

	// Per dataset: each has services of its own, with the same names.
	calls, allowed := upstreamWithinTTL(r.Demo, r.TTL)
	lcalls, lallowed := upstreamWithinTTL(r.Large, r.TTL)
	calls, allowed = calls+lcalls, allowed+lallowed
	add(fmt.Sprintf("upstream, steady (CACHE_TTL %s): 0 calls while fresh, 1 per refresh", r.TTL), calls <= allowed,
		"%d calls while measuring; at most one per TTL of the services' lives allows %d", calls, allowed)
	var rcalls, rallowed int64
	for _, f := range r.Refresh {
		rcalls += f.UpstreamCalls
		rallowed += f.Allowed
	}
	if len(r.Refresh) > 0 {
		add(fmt.Sprintf("upstream, through refreshes (CACHE_TTL %s): 1 call per refresh", r.Config.RefreshTTL), rcalls <= rallowed,
			"%d calls; one per TTL allows %d", rcalls, rallowed)
	}
	return append(checks, r.replicaChecks()...)
}

// Print writes the report as Markdown.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "## Load benchmark, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s, %s, %s\n", r.Machine, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintf(w, "- placement: %s\n", r.Pinning)
	fmt.Fprintf(w, "- load: closed loop, %d keep-alive connections, %d interleaved round(s) of %s per target and query after %s of warm-up; simulator latency %s\n",
		c.Clients, c.Rounds, c.Duration, c.Warmup, c.Latency)
	ttl := fmt.Sprintf("CACHE_TTL %s, the service's default", r.TTL)
	if c.CacheTTL > 0 || slices.ContainsFunc(c.ServiceEnv, func(kv string) bool { return strings.HasPrefix(kv, "CACHE_TTL=") }) {
		ttl = fmt.Sprintf("CACHE_TTL %s, set for this run", r.TTL)
	}
	fmt.Fprintf(w, "- service env: %s, everything else as shipped (%s, FAST_PATH on); + RESPONSE_CACHE=false for %q, + FAST_PATH=false as well for %q; access log on as shipped: %d lines written while measuring\n",
		strings.Join(r.ServiceEnv, " "), ttl, targetCacheOff, targetGqlgen, r.AccessLogLines)
	if r.PeerVersions != "" {
		fmt.Fprintf(w, "- peers (-peers): %q and %q, %s, NODE_ENV=production, placed as the service is, on the POST queries\n", targetApollo, targetMercurius, r.PeerVersions)
	}
	if rows := slices.Concat(r.Demo, r.Large); len(rows) > 0 {
		var sum float64
		busiest := rows[0]
		for _, row := range rows {
			sum += row.OtherCPU
			if row.OtherCPU > busiest.OtherCPU {
				busiest = row
			}
		}
		fmt.Fprintf(w, "- the rest of the machine (\"other CPU\": other processes, interrupts, steal) used %.0f%% of a core on average while measuring, at most %.0f%% (%s, %s)\n",
			100*sum/float64(len(rows)), 100*busiest.OtherCPU, busiest.Query, busiest.Target)
	}
	fmt.Fprintf(w, "- run took %s\n\n", r.Elapsed.Round(time.Second))
	if c.ReplicasOnly {
		r.printReplicas(w)
		printChecks(w, r.replicaChecks())
		return
	}

	fmt.Fprintf(w, "### Demo dataset (%s)\n\n", byteText(float64(r.DemoBytes)))
	printRows(w, r.Demo, false)
	warnUnsaturated(w, r.Demo)
	if len(peerRows(r.Demo)) > 0 {
		fmt.Fprintf(w, "\n### Peers, demo dataset (the cache off against %s and %s)\n\n", targetApollo, targetMercurius)
		printPeers(w, r.Demo)
		r.peersNote(w)
		warnPeersBusy(w, r.Demo)
	}

	if len(r.Refresh) > 0 {
		fmt.Fprintf(w, "\n### Through refreshes (cache on, CACHE_TTL=%s; the upstream's data changes every %s)\n\n", c.RefreshTTL, c.RefreshEvery)
		fmt.Fprintln(w, "| query | bytes | requests | req/s | vs steady | p50 | p99 | max | steady p50 / p99 / max | non-2xx | upstream calls | allowed (1 per TTL) | data changes | versions served | answers old / changed | server CPU | RSS / peak |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, f := range r.Refresh {
			vs := "—"
			if f.Steady.ReqPerSec > 0 {
				vs = ratioText(f.ReqPerSec / f.Steady.ReqPerSec)
			}
			fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %s / %s / %s | %d | %d | %d | %d | %d | %d / %d | %.0f%% | %s / %s |\n",
				f.Query, f.Bytes, f.Requests, f.ReqPerSec, vs, roundLatency(f.P50), roundLatency(f.P99), roundLatency(f.Max),
				roundLatency(f.Steady.P50), roundLatency(f.Steady.P99), roundLatency(f.Steady.Max),
				f.Non2xx, f.UpstreamCalls, f.Allowed, f.DataChanges, f.Versions,
				f.Answered[0], f.Answered[1], 100*f.ServerCPU, kbText(f.RSSKB), kbText(f.HWMKB))
		}
		fmt.Fprintf(w, "\nOne service, response cache on, defaults but CACHE_TTL=%s, against a simulator of its own; each query driven for %s in %d round(s) after %s of warm-up. "+
			"Every %s the simulator's data alternates between the demo dataset and the same with every type's name and first stage's name edited, "+
			"each time with new bytes (a new version; every answer is byte-checked against the two contents'). "+
			"\"Versions served\": distinct configVersion values of /readyz, polled while measuring. "+
			"\"Steady\": the service as shipped (CACHE_TTL %s) on the unchanging demo dataset, driven for as long in rounds interleaved with these.\n",
			c.RefreshTTL, c.RefreshDuration, c.Rounds, c.Warmup, c.RefreshEvery, r.TTL)
		for _, f := range r.Refresh {
			if f.Non2xx > 0 {
				fmt.Fprintf(w, "\nFirst non-2xx on %s: %s\n", f.Query, f.FirstNon2xx)
			}
		}
	}

	if len(r.Replicas) > 0 {
		r.printReplicas(w)
	}

	fmt.Fprintf(w, "\n### Cold path (CACHE_TTL=CACHE_MAX_STALE=1ms: every request waits for a fetch; UPSTREAM_RATE_LIMIT=0, or the call budget would set the pace; one connection, sequential)\n\n")
	fmt.Fprintf(w, "| query | requests | upstream calls | p50 | p99 | p50 − %s | p50 − bare upstream p50 (%s) | ceiling via upstream p50 | p50 − ceiling's |\n", c.Latency, roundLatency(r.BareUpstream))
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, cr := range r.Cold {
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", cr.Query, cr.Requests, cr.UpstreamCalls,
			roundLatency(cr.P50), roundLatency(cr.P99), roundLatency(cr.P50-c.Latency), roundLatency(cr.P50-r.BareUpstream),
			roundLatency(cr.CeilingP50), roundLatency(cr.P50-cr.CeilingP50))
	}
	fmt.Fprintln(w, "\nBare upstream: signed POSTs from the load generator straight to the simulator. Ceiling via upstream: the ceiling making that call before each canned answer, i.e. the upstream plus one HTTP hop on this machine. With the shipped CACHE_MAX_STALE no request waits like this once a copy exists: only the first after start-up does.")

	if len(r.Large) > 0 {
		fmt.Fprintf(w, "\n### Large dataset (LargeDataset(%d, %d, %d): %s)\n\n", c.LargeSize[0], c.LargeSize[1], c.LargeSize[2], byteText(float64(r.LargeBytes)))
		printRows(w, r.Large, true)
		warnUnsaturated(w, r.Large)
		if len(peerRows(r.Large)) > 0 {
			fmt.Fprintf(w, "\nPeers on the large dataset (req/s / p99; the targets are the demo dataset's):\n\n")
			printPeers(w, r.Large)
			warnPeersBusy(w, r.Large)
		}
		for _, target := range []string{targetCacheOff, targetGqlgen} {
			demo, ok1 := r.row(r.Demo, "full", target)
			large, ok2 := r.row(r.Large, "full", target)
			if !ok1 || !ok2 || perByte(demo) == 0 || large.Bytes == 0 {
				continue
			}
			fmt.Fprintf(w, "\nFull query, %s, server CPU per response byte: demo %.1f ns/B (%s per %s answer), large %.1f ns/B (%s per %s answer); large/demo %.2f× per byte",
				target, perByte(demo), demo.CPUPerRequest.Round(time.Microsecond), byteText(float64(demo.Bytes)),
				perByte(large), large.CPUPerRequest.Round(time.Microsecond), byteText(float64(large.Bytes)), perByte(large)/perByte(demo))
			fmt.Fprintf(w, ", for a response %.0f× and a configuration %.0f× larger (cost linear in the response would give 1; quadratic in the configuration, about %.0f).\n",
				float64(large.Bytes)/float64(demo.Bytes), float64(r.LargeBytes)/float64(r.DemoBytes), float64(r.LargeBytes)/float64(r.DemoBytes))
		}
	}

	printChecks(w, r.Checks())
}

// printChecks writes the table of targets.
func printChecks(w io.Writer, checks []Check) {
	fmt.Fprintf(w, "\n### Targets\n\n| target | result | |\n|---|---|---|\n")
	for _, ch := range checks {
		mark := "met"
		switch {
		case ch.Skipped:
			mark = "not measured"
		case !ch.Met:
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
	head := "| query | bytes | target | req/s | ± rounds | p50 | p99 | vs ceiling | upstream calls | server CPU | CPU/request | load CPU | other CPU | RSS / peak |"
	sep := "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
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
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f%% | %s | %s | %s | %d | %.0f%% | %s | %.0f%% | %.0f%% | %s / %s |",
			row.Query, row.Bytes, row.Target, row.ReqPerSec, 100*row.Spread(), roundLatency(row.P50), roundLatency(row.P99),
			ratio, row.UpstreamCalls, 100*row.ServerCPU, roundLatency(row.CPUPerRequest), 100*row.ClientCPU, 100*row.OtherCPU, kbText(row.RSSKB), kbText(row.HWMKB))
		if withBytes {
			fmt.Fprintf(w, " %s/s |", byteText(row.BytesPerSec()))
		}
		fmt.Fprintln(w)
	}
	for _, row := range rows {
		if row.Overloaded > 0 {
			fmt.Fprintf(w, "\n%s, %s: %d more requests were refused with 503 OVERLOADED (EXECUTION_MEMORY: the executions running at once hold what each will build), left out of its req/s and latencies.\n",
				row.Query, row.Target, row.Overloaded)
		}
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
