package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
)

// The figures: 10 000 idle SSE subscribers on loopback cost at most
// 32 KiB of RSS and 2 % of a core between events, all of them together; a
// change fans out to all of them within 1 s.
const (
	targetKBPerStream = 32
	targetIdleCores   = 0.02
	targetFanOut      = time.Second
)

// Check is one target for one transport.
type Check struct {
	Name string
	Met  bool
	Got  string
}

// Checks compares each transport's figures with the targets. They are
// reported, not enforced: only wrong answers fail a run.
func (r *Result) Checks() []Check {
	fan := r.MaxFanOut()
	complete := len(r.Changes) > 0
	for _, c := range r.Changes {
		complete = complete && c.Complete
	}
	return []Check{
		{fmt.Sprintf("RSS per idle stream ≤ %d KiB", targetKBPerStream), r.PerSubscriberKB() <= targetKBPerStream,
			fmt.Sprintf("%.1f KiB", r.PerSubscriberKB())},
		{fmt.Sprintf("CPU between events ≤ %.0f %% of a core", 100*targetIdleCores), r.IdleCores() <= targetIdleCores,
			fmt.Sprintf("%.2f %%", 100*r.IdleCores())},
		{fmt.Sprintf("a change reaches every stream within %s of the first (fan-out)", targetFanOut), complete && fan <= targetFanOut,
			fmt.Sprintf("at most %s over %d changes", durText(fan), len(r.Changes))},
	}
}

// Failed reports whether any transport got a wrong answer.
func (rep *Report) Failed() bool {
	for _, r := range rep.Results {
		if !r.Problems.Empty() {
			return true
		}
	}
	return false
}

// transportName is a transport's name in the report.
func transportName(tr string) string {
	if tr == transportWS {
		return "graphql-transport-ws over WebSocket"
	}
	return "GraphQL over SSE"
}

// Print writes the report as Markdown.
func (rep *Report) Print(w io.Writer) {
	c, svc := rep.Config, rep.Service
	fmt.Fprintf(w, "## Subscription streams, %s\n\n", rep.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s, %s, %s/%s\n", rep.Machine, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- placement: %s\n", rep.Pinning)
	fmt.Fprintf(w, "- service env: %s; everything else as shipped. CACHE_TTL=%s is set so that a change of the upstream's data is seen within about a second "+
		"(shipped: 30s): it bounds the time from the change to the first event, not the fan-out. MAX_STREAMS_PER_CLIENT=%d because every subscriber connects "+
		"from 127.0.0.1 and the bound counts per client address with AUTH_MODE=none. RATE_LIMIT as shipped (%d per %s): streams are not counted by it. "+
		"MAX_STREAMS %d, STREAM_KEEPALIVE %s, SERVER_READ_TIMEOUT %s\n",
		strings.Join(rep.ServiceEnv, " "), svc.CacheTTL, svc.MaxStreamsPerClient, svc.RateLimit, svc.RateLimitWindow, svc.MaxStreams, svc.StreamKeepAlive, svc.ReadTimeout)
	fmt.Fprintf(w, "- per transport: a service of its own; %d streams, each on a connection of its own, opened %d at a time; %s of warm-up after the last first event, "+
		"an idle window of %s (the data unchanged, the service refreshing every CACHE_TTL with the same bytes), then %d changes of the upstream's data "+
		"(its first type renamed each time)\n", c.Clients, c.OpenAtOnce, c.Warmup, c.Duration, c.Changes)
	fmt.Fprintf(w, "- the service's RSS and CPU time are read from /proc/<pid>; the Go heap, stacks and goroutines from its /metrics\n")
	fmt.Fprintf(w, "- run took %s\n", rep.Elapsed.Round(time.Second))

	for _, r := range rep.Results {
		r.print(w, svc.StreamKeepAlive)
	}

	fmt.Fprintf(w, "\n### Targets\n\n| target | transport | result | |\n|---|---|---|---|\n")
	for _, r := range rep.Results {
		for _, ch := range r.Checks() {
			mark := "met"
			if !ch.Met {
				mark = "**not met**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", ch.Name, r.Transport, ch.Got, mark)
		}
	}

	fmt.Fprintf(w, "\n### Answers\n\n")
	for _, r := range rep.Results {
		if r.Problems.Empty() {
			fmt.Fprintf(w, "- %s: right. Every subscriber got exactly %d events: the version /readyz named at once, then one per change with the version /readyz "+
				"named after it and changedTypeIds of the renamed type, none stale; none in the idle window; no stream ended.\n", r.Transport, len(r.Changes)+1)
			continue
		}
		fmt.Fprintf(w, "- %s: **wrong**:\n", r.Transport)
		for _, l := range r.Problems.Lines() {
			fmt.Fprintf(w, "  - %s\n", l)
		}
	}
}

// print writes one transport's section.
func (r *Result) print(w io.Writer, keepAlive time.Duration) {
	n := float64(r.Subscribers)
	fmt.Fprintf(w, "\n### %s, %d streams\n\n| | |\n|---|---:|\n", transportName(r.Transport), r.Subscribers)
	fmt.Fprintf(w, "| streams open, to their first event | %d in %s |\n", r.Subscribers, durText(r.Open))
	fmt.Fprintf(w, "| service RSS before → after (VmRSS) | %s → %s |\n", kbText(r.RSSBefore), kbText(r.RSSAfter))
	fmt.Fprintf(w, "| **RSS per stream** | **%.1f KiB** (anonymous memory: %.1f KiB) |\n", r.PerSubscriberKB(), float64(r.AnonAfter-r.AnonBefore)/n)
	fmt.Fprintf(w, "| per stream, Go runtime (/metrics) | heap in use %.1f KiB, stacks %.1f KiB, %.2f goroutines, %.1f heap objects |\n",
		float64(r.After.HeapInuse-r.Before.HeapInuse)/1024/n, float64(r.After.StackInuse-r.Before.StackInuse)/1024/n,
		float64(r.After.Goroutines-r.Before.Goroutines)/n, float64(r.After.HeapObjects-r.Before.HeapObjects)/n)
	fmt.Fprintf(w, "| goroutines before → after | %d → %d |\n", r.Before.Goroutines, r.After.Goroutines)
	fmt.Fprintf(w, "| Go heap in use / stacks / obtained from the OS, after | %s / %s / %s; memory limit %s |\n",
		byteText(r.After.HeapInuse), byteText(r.After.StackInuse), byteText(r.After.Sys), limitText(r.After.MemoryLimit))
	fmt.Fprintf(w, "| RSS after the idle window; peak (VmHWM) | %s; %s |\n", kbText(r.RSSAfterIdle), kbText(r.Peak))
	fmt.Fprintf(w, "| **service CPU in the idle window** | **%.2f %% of a core** (%s in %s: user %s, system %s) |\n", 100*r.IdleCores(), r.IdleCPU, durText(r.Idle), r.IdleUser, r.IdleSystem)
	if r.IdlePings > 0 && r.IdleGCs == 0 {
		fmt.Fprintf(w, "| service CPU per keep-alive received, if it were all theirs | %s |\n", (r.IdleCPU / time.Duration(r.IdlePings)).Round(100*time.Nanosecond))
	}
	fmt.Fprintf(w, "| GC cycles in the idle window | %d |\n", r.IdleGCs)
	fmt.Fprintf(w, "| subscribers' process CPU in the idle window | %.2f %% of a core |\n", 100*r.ClientCPU.Seconds()/r.Idle.Seconds())
	fmt.Fprintf(w, "| events in the idle window (must be 0) | %d |\n", r.IdleEvents)
	fmt.Fprintf(w, "| keep-alives in the idle window | %d (%.2f per stream; one per STREAM_KEEPALIVE %s) |\n", r.IdlePings, float64(r.IdlePings)/n, keepAlive)
	if r.Goroutines == nil && !r.Shutdown.OK() {
		fmt.Fprintf(w, "| shutdown (SIGTERM) with every stream open | %+v |\n", r.Shutdown)
	}

	if lim := r.After.MemoryLimit; lim > 0 && lim < math.MaxInt64/2 && r.After.HeapInuse+r.After.StackInuse > lim {
		fmt.Fprintf(w, "\nThe Go heap and stacks with the streams open (%s) exceed the service's soft memory limit (%s): the collector runs again and again "+
			"to get under it (%d cycles in the idle window, where next to nothing is allocated), and its CPU is in every figure below.\n",
			byteText(r.After.HeapInuse+r.After.StackInuse), byteText(lim), r.IdleGCs)
	}

	fmt.Fprint(w, "\nChanges, timed from the simulator's SetDataset: the service sees a change at its next refresh (within CACHE_TTL) and publishes it as soon as "+
		"the refresh ends (/readyz is polled, so it may name the version after the first subscriber has it); the fan-out is from the first subscriber's event to the last's.\n\n")
	fmt.Fprintln(w, "| change | /readyz names it | first subscriber | median | p99 | last | **fan-out** | got it | service CPU (per stream) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, c := range r.Changes {
		per := time.Duration(0)
		if c.Received > 0 {
			per = c.ServiceCPU / time.Duration(c.Received)
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | **%s** | %d/%d | %s (%s) |\n", i+1, durText(c.Visible), durText(c.First), durText(c.P50), durText(c.P99),
			durText(c.Last), durText(c.FanOut), c.Received, r.Subscribers, c.ServiceCPU, per)
	}

	if r.GoroutineTotal > 0 {
		fmt.Fprintf(w, "\nThe service's goroutines with the %d streams open (SIGQUIT dump at the end): %d in all. The groups of at least one goroutine per 20 streams:\n\n",
			r.Subscribers, r.GoroutineTotal)
		fmt.Fprintln(w, "| goroutines | per stream | state | waits in | started as | created by | frames |")
		fmt.Fprintln(w, "|---:|---:|---|---|---|---|---:|")
		shown := 0
		for _, g := range r.Goroutines {
			if float64(g.Count) < n/20 {
				continue
			}
			shown += g.Count
			fmt.Fprintf(w, "| %d | %.2f | %s | `%s` | `%s` | `%s` | %d |\n", g.Count, float64(g.Count)/n, g.State, shortFunc(g.BlockedIn), shortFunc(g.Entry), shortFunc(g.CreatedBy), g.Depth)
		}
		fmt.Fprintf(w, "| %d | | the rest | | | | |\n", r.GoroutineTotal-shown)
		if r.Shutdown.TimedOut || int64(r.GoroutineTotal) < r.After.Goroutines {
			fmt.Fprintf(w, "\nThe dump is incomplete: %d goroutines in it, %d in /metrics before it (%+v).\n", r.GoroutineTotal, r.After.Goroutines, r.Shutdown)
		}
	}
}

// durText keeps three significant digits or so; -1 is "not seen".
func durText(d time.Duration) string {
	switch {
	case d == -1:
		return "not seen"
	case d < 0:
		return "-" + durText(-d)
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
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

func byteText(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	default:
		return fmt.Sprintf("%d B", b)
	}
}

// limitText is a memory limit: math.MaxInt64 is none.
func limitText(b int64) string {
	if b <= 0 || b >= math.MaxInt64/2 {
		return "none"
	}
	return byteText(b)
}
