package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// The replicas scenario (-replicas N): N replicas of the service, cache on,
// on one real redis-server (Debian's), beside one replica alone, all pinned
// as the service is and fed by one simulator. Each replica is driven alone
// in turn, interleaved with the single one, for its throughput; then all N
// at once, with CACHE_TTL=RefreshTTL, for the upstream calls per TTL that
// the shared copy allows (one, however many replicas).

// targetReplicaRatio is the bound on a replica's throughput with
// the cache on, as a share of a single replica's.
const targetReplicaRatio = 0.9

// ReplicaRow is one query's throughput per replica against the single one.
type ReplicaRow struct {
	Query          string
	Single         float64   // req/s of the replica without Redis
	Replicas       []float64 // req/s of each replica on Redis
	SingleP99, P99 time.Duration
	Calls          int64 // upstream calls while measuring these
	// MeanRatio is the replicas' mean req/s over the single one's: the
	// throughput per replica, which the target bounds. WorstRatio is the
	// slowest replica's, a minimum of noisy samples and so biased low.
	MeanRatio, WorstRatio float64
	SingleRSSKB           int64
	ReplicaRSSKBMax       int64
	// CountedSingle and CountedReplica are the single replica and replica
	// 1 again with RATE_LIMIT counting every request (so high that none is
	// refused): in memory, and in Redis, two round trips a request.
	CountedSingle, CountedReplica float64
}

// countedRateLimit is RATE_LIMIT for the counted targets: every request
// counted, none refused.
const countedRateLimit = "RATE_LIMIT=1000000000"

// SharedTTL is the all-at-once run of the replicas scenario.
type SharedTTL struct {
	Replicas      int
	TTL           time.Duration
	Elapsed       time.Duration
	Requests      int64
	UpstreamCalls int64
	Allowed       int64 // one per TTL of the run, and one more for the copy due at its start
	P99           time.Duration
}

func (m *measurer) replicas(ctx context.Context, sim *simulator.Simulator, simURL string, reqs []request, answers map[string]answer) ([]ReplicaRow, *SharedTTL, error) {
	cfg := m.cfg
	rs, err := proc.NewRedis(m.dir, m.cpus())
	if err != nil {
		return nil, nil, err
	}
	if err := rs.Start(ctx); err != nil {
		return nil, nil, err
	}
	defer rs.Stop()
	redisEnv := []string{"REDIS_URL=" + rs.URL(), "REDIS_PREFIX=bench:"}
	single, err := m.startService(ctx, "single", serviceEnv(cfg, simURL))
	if err != nil {
		return nil, nil, err
	}
	defer stop(single)
	var reps []*target
	for i := range cfg.Replicas {
		t, err := m.startService(ctx, fmt.Sprintf("replica %d", i+1), serviceEnv(cfg, simURL, redisEnv...))
		if err != nil {
			return nil, nil, err
		}
		defer stop(t)
		reps = append(reps, t)
	}
	countedSingle, err := m.startService(ctx, "single, counted", serviceEnv(cfg, simURL, countedRateLimit))
	if err != nil {
		return nil, nil, err
	}
	defer stop(countedSingle)
	countedReplica, err := m.startService(ctx, "replica, counted", serviceEnv(cfg, simURL, append(slices.Clone(redisEnv), countedRateLimit)...))
	if err != nil {
		return nil, nil, err
	}
	defer stop(countedReplica)
	targets := slices.Concat([]*target{single}, reps, []*target{countedSingle, countedReplica})
	for _, r := range reqs {
		for _, t := range targets {
			a, err := fetch(ctx, t.p.Base, r)
			if err != nil {
				return nil, nil, err
			}
			if want := answers[r.name]; a.status != want.status || string(a.body) != string(want.body) {
				return nil, nil, fmt.Errorf("replicas: %s answers %s with HTTP %d and %d bytes, want %d with %d", t.name, r.name, a.status, len(a.body), want.status, len(want.body))
			}
		}
	}

	var rows []ReplicaRow
	for _, r := range reqs {
		want := []answer{answers[r.name]}
		if cfg.Warmup > 0 {
			for _, t := range targets {
				if _, err := drive(ctx, loop{base: t.p.Base, pid: t.p.PID(), req: r, want: want, conns: cfg.Clients, d: cfg.Warmup}); err != nil {
					return nil, nil, fmt.Errorf("replicas, warm-up of %s: %w", t.name, err)
				}
			}
		}
		row := ReplicaRow{Query: r.name, Replicas: make([]float64, len(reps))}
		requests := make([]int64, len(targets))
		elapsed := make([]time.Duration, len(targets))
		lat := make([][]time.Duration, len(targets))
		calls := sim.Calls()
		for round := range cfg.Rounds {
			order := slices.Concat(targets[round%len(targets):], targets[:round%len(targets)])
			for _, t := range order {
				i := slices.Index(targets, t)
				s, err := drive(ctx, loop{base: t.p.Base, pid: t.p.PID(), req: r, want: want, conns: cfg.Clients, d: cfg.Duration})
				if err != nil {
					return nil, nil, fmt.Errorf("replicas, %s, round %d: %w\n%s", t.name, round+1, err, t.p.Tail())
				}
				requests[i] += s.requests
				elapsed[i] += s.elapsed
				lat[i] = append(lat[i], s.latencies...)
				fmt.Fprintf(m.progress, "bench: replicas round %d/%d  %-8s  %-16s  %8.0f req/s\n", round+1, cfg.Rounds, r.name, t.name, float64(s.requests)/s.elapsed.Seconds())
			}
		}
		row.Calls = sim.Calls() - calls
		row.Single = float64(requests[0]) / elapsed[0].Seconds()
		row.SingleP99 = percentile(sortedCopy(lat[0]), 99)
		row.WorstRatio = 1e9
		var all []time.Duration
		for i := range reps {
			row.Replicas[i] = float64(requests[i+1]) / elapsed[i+1].Seconds()
			row.WorstRatio = min(row.WorstRatio, row.Replicas[i]/row.Single)
			all = append(all, lat[i+1]...)
			row.ReplicaRSSKBMax = max(row.ReplicaRSSKBMax, reps[i].p.RSSKB())
		}
		n := len(targets)
		row.CountedSingle = float64(requests[n-2]) / elapsed[n-2].Seconds()
		row.CountedReplica = float64(requests[n-1]) / elapsed[n-1].Seconds()
		var sum float64
		for _, v := range row.Replicas {
			sum += v
		}
		row.MeanRatio = sum / float64(len(row.Replicas)) / row.Single
		row.P99 = percentile(sortedCopy(all), 99)
		row.SingleRSSKB = single.p.RSSKB()
		rows = append(rows, row)
	}

	shared, err := m.replicasTogether(ctx, simURL, sim, redisEnv, reqs[0], answers[reqs[0].name])
	if err != nil {
		return nil, nil, err
	}
	return rows, shared, nil
}

// replicasOnly is Run with the replicas scenario alone (-replicas-only):
// the answers it checks come from a service as shipped on the same data.
func (m *measurer) replicasOnly(ctx context.Context, rep *Report, sim *simulator.Simulator, simURL string, reqs []request) (*Report, error) {
	reqs = pick(reqs, "dropdown", "full")
	ref, err := m.startService(ctx, "reference", serviceEnv(m.cfg, simURL))
	if err != nil {
		return nil, err
	}
	answers := map[string]answer{}
	for _, r := range reqs {
		a, err := fetch(ctx, ref.p.Base, r)
		if err == nil {
			err = checkData(a, 200)
		}
		if err != nil {
			stop(ref)
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		answers[r.name] = a
	}
	stop(ref)
	fmt.Fprintf(m.progress, "bench: %d replicas on one redis-server, beside a single one (alone)\n", m.cfg.Replicas)
	if rep.Replicas, rep.SharedTTL, err = m.replicas(ctx, sim, simURL, reqs, answers); err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// replicasTogether drives N replicas at once, CACHE_TTL=RefreshTTL, the
// connections spread over them, for RefreshDuration, counting upstream calls.
func (m *measurer) replicasTogether(ctx context.Context, simURL string, sim *simulator.Simulator, redisEnv []string, r request, want answer) (*SharedTTL, error) {
	cfg := m.cfg
	var reps []*target
	for i := range cfg.Replicas {
		env := serviceEnv(cfg, simURL, append(slices.Clone(redisEnv), "REDIS_PREFIX=bench-ttl:", "CACHE_TTL="+cfg.RefreshTTL.String())...)
		t, err := m.startService(ctx, fmt.Sprintf("replica %d (TTL %s)", i+1, cfg.RefreshTTL), env)
		if err != nil {
			return nil, err
		}
		defer stop(t)
		reps = append(reps, t)
	}
	fmt.Fprintf(m.progress, "bench: replicas together: %d replicas, CACHE_TTL=%s, %s\n", len(reps), cfg.RefreshTTL, cfg.RefreshDuration)
	conns := max(1, cfg.Clients/len(reps))
	calls := sim.Calls()
	var wg sync.WaitGroup
	samples := make([]sample, len(reps))
	errs := make([]error, len(reps))
	start := time.Now()
	for i, t := range reps {
		wg.Go(func() {
			samples[i], errs[i] = drive(ctx, loop{base: t.p.Base, pid: t.p.PID(), req: r, want: []answer{want}, conns: conns, d: cfg.RefreshDuration})
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := &SharedTTL{Replicas: len(reps), TTL: cfg.RefreshTTL, Elapsed: elapsed, UpstreamCalls: sim.Calls() - calls, Allowed: refreshesAllowed(elapsed, cfg.RefreshTTL)}
	var lat []time.Duration
	for i, s := range samples {
		if errs[i] != nil {
			return nil, fmt.Errorf("replicas together, %s: %w\n%s", reps[i].name, errs[i], reps[i].p.Tail())
		}
		st.Requests += s.requests
		lat = append(lat, s.latencies...)
	}
	st.P99 = percentile(sortedCopy(lat), 99)
	return st, nil
}

// printReplicas writes the replicas scenario's tables.
func (r *Report) printReplicas(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\n### %d replicas on one Redis (cache on; each replica driven alone in turn, interleaved with a single replica without Redis)\n\n", c.Replicas)
	fmt.Fprintln(w, "| query | single req/s | each replica's req/s | mean / single | worst / single | single p99 | replicas p99 | upstream calls | RSS single / replica max | RATE_LIMIT counted: single / replica (shared) |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.Replicas {
		each := ""
		for i, v := range row.Replicas {
			if i > 0 {
				each += ", "
			}
			each += fmt.Sprintf("%.0f", v)
		}
		counted := "—"
		if row.CountedSingle > 0 {
			counted = fmt.Sprintf("%.0f / %.0f (%s)", row.CountedSingle, row.CountedReplica, ratioText(row.CountedReplica/row.CountedSingle))
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %d | %s / %s | %s |\n", row.Query, row.Single, each, ratioText(row.MeanRatio), ratioText(row.WorstRatio),
			roundLatency(row.SingleP99), roundLatency(row.P99), row.Calls, kbText(row.SingleRSSKB), kbText(row.ReplicaRSSKBMax), counted)
	}
	if st := r.SharedTTL; st != nil {
		fmt.Fprintf(w, "\nAll %d together, CACHE_TTL=%s, %d connections spread over them for %s: %d requests, p99 %s, %d upstream calls (one per TTL allows %d).\n",
			st.Replicas, st.TTL, c.Clients, st.Elapsed.Round(time.Millisecond), st.Requests, roundLatency(st.P99), st.UpstreamCalls, st.Allowed)
	}
	fmt.Fprintf(w, "\nThe replicas and Redis (Debian's redis-server, persistence off) are placed as the service is; the service's defaults but REDIS_URL, as in the throughput runs (RATE_LIMIT=0). \"RATE_LIMIT counted\": a single replica and a replica on Redis again with %s, so that every request is counted and none refused: what RATE_LIMIT costs a request in memory, and shared through Redis (internal/redis's counter, synced every 100 ms).\n", countedRateLimit)
}

// replicaChecks are the targets for several replicas.
func (r *Report) replicaChecks() []Check {
	var checks []Check
	for _, row := range r.Replicas {
		checks = append(checks, Check{
			Name: fmt.Sprintf("%d replicas on one Redis, %s: throughput per replica ≥ %.0f%% of a single one's (cache on)", r.Config.Replicas, row.Query, 100*targetReplicaRatio),
			Met:  row.MeanRatio >= targetReplicaRatio,
			Got:  fmt.Sprintf("mean %s (%.0f vs %.0f req/s), slowest replica %s", ratioText(row.MeanRatio), row.MeanRatio*row.Single, row.Single, ratioText(row.WorstRatio)),
		})
	}
	if st := r.SharedTTL; st != nil {
		checks = append(checks, Check{
			Name: fmt.Sprintf("%d replicas on one Redis, CACHE_TTL %s: 1 upstream call per TTL", st.Replicas, st.TTL),
			Met:  st.UpstreamCalls <= st.Allowed,
			Got:  fmt.Sprintf("%d calls in %s; one per TTL allows %d", st.UpstreamCalls, st.Elapsed.Round(time.Millisecond), st.Allowed),
		})
	}
	return checks
}
