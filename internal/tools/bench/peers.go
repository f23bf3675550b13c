package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// peersDir is the peers' Node project (package.json, package-lock.json,
// install.sh), relative to the module root.
const peersDir = "internal/tools/bench/peers"

// The peers' target names, in the order of the tables.
const (
	targetApollo    = "Apollo Server 5"
	targetMercurius = "Mercurius + graphql-jit"
)

// Targets of the issue for the cache off against the peers, per query:
// ahead of every peer on every query.
const targetVsMercurius = 1.2

// targetVsApollo is the cache off's least multiple of Apollo Server's
// throughput on query: 5×, and 10× for the full query.
func targetVsApollo(query string) float64 {
	if query == "full" {
		return 10
	}
	return 5
}

// peerTarget is one peer: its name in the tables and its script in peersDir.
type peerTarget struct{ name, script string }

// peerTargets are the peers, in the order of the tables.
func peerTargets() []peerTarget {
	return []peerTarget{{targetApollo, "apollo.js"}, {targetMercurius, "mercurius.js"}}
}

// isPeer reports whether a target is one of the peers rather than the
// service or the ceiling.
func isPeer(target string) bool {
	return slices.ContainsFunc(peerTargets(), func(p peerTarget) bool { return p.name == target })
}

// peerRuntime is what runs the peers, once installPeers has installed them.
type peerRuntime struct {
	node     string // node's path
	dir      string // peersDir, absolute
	schema   string // the committed schema.graphql, which the peers read at start
	versions string // node's and the packages', as installed
}

// installPeers runs peers/install.sh (npm ci, a no-op when the lockfile is
// the one installed) and reports what it installed.
func installPeers(ctx context.Context, root string) (peerRuntime, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return peerRuntime{}, fmt.Errorf("-peers needs node (Node.js 20 or later) and npm on PATH: %w", err)
	}
	dir := filepath.Join(root, peersDir)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "install.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		// %v, not %w: the script's *exec.ExitError must not pass for the
		// exit status of the bench's pinned copy.
		return peerRuntime{}, fmt.Errorf("install the peers (%s/install.sh): %v\n%s", peersDir, err, out)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return peerRuntime{}, fmt.Errorf("node --version: %v", err)
	}
	var pkgs []string
	for _, name := range []string{"@apollo/server", "mercurius", "fastify", "graphql-jit", "graphql"} {
		v, err := packageVersion(dir, name)
		if err != nil {
			return peerRuntime{}, err
		}
		pkgs = append(pkgs, name+" "+v)
	}
	return peerRuntime{
		node:     node,
		dir:      dir,
		schema:   filepath.Join(root, "schema.graphql"),
		versions: "node " + strings.TrimSpace(string(out)) + "; " + strings.Join(pkgs, ", "),
	}, nil
}

// packageVersion is the version of the npm package name installed in dir,
// at the top of node_modules or, when npm did not hoist it, under
// mercurius's own.
func packageVersion(dir, name string) (string, error) {
	var errs []error
	for _, path := range []string{
		filepath.Join(dir, "node_modules", name, "package.json"),
		filepath.Join(dir, "node_modules", "mercurius", "node_modules", name, "package.json"),
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var pkg struct{ Version string }
		if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version == "" {
			return "", fmt.Errorf("%s: no version (%v)", path, err)
		}
		return pkg.Version, nil
	}
	return "", fmt.Errorf("npm package %s is not installed in %s: %w", name, dir, errors.Join(errs...))
}

// peerFetches is how many times each peer answers each query before the
// load: Mercurius runs a query's first time with graphql-js and compiles it
// with graphql-jit on its second (jit: 1), so the third answer is the
// compiled code's second. Every one must be JSON-equal to the service's.
const peerFetches = 3

// startPeers, with Config.Peers, writes data (the dataset the service's
// simulator serves) where the peers read it, starts each peer pinned as the
// service is, checks that its answer to each POST query in reqs is
// JSON-equal to the service's (answers), and records the bytes it answers
// in wants, by query and peer. It returns the running peers, or none
// without Config.Peers. The conditional GET is not asked of the peers: its
// 304 is the service's HTTP caching, which they do not have.
func (m *measurer) startPeers(ctx context.Context, label string, data []byte, reqs []request, answers map[string]answer, wants map[[2]string][]answer) (peers []*target, err error) {
	if !m.cfg.Peers {
		return nil, nil
	}
	defer func() {
		if err != nil {
			for _, p := range peers {
				stop(p)
			}
			peers = nil
		}
	}()
	file := filepath.Join(m.dir, "peers-"+label+".json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	rt := m.bins.peers
	for _, pt := range peerTargets() {
		args := []string{filepath.Join(rt.dir, pt.script), "-schema", rt.schema, "-data", file}
		// NODE_ENV=production, as the peers' documentation asks of a
		// deployment; nothing else of this process's environment.
		p, err := proc.Start(ctx, rt.node, args, proc.Options{Env: []string{"NODE_ENV=production"}, CPUs: m.cpus()})
		if err != nil {
			return peers, fmt.Errorf("%s: %w", pt.name, err)
		}
		t := &target{name: pt.name, p: p}
		peers = append(peers, t)
		for _, r := range reqs {
			if r.method != http.MethodPost {
				continue
			}
			got, err := peerAnswers(ctx, t, r, answers[r.name])
			if err != nil {
				return peers, fmt.Errorf("%s dataset: %w\n%s", label, err, t.p.Tail())
			}
			wants[[2]string{r.name, t.name}] = got
		}
	}
	return peers, nil
}

// peerAnswers asks peer t the query r peerFetches times and returns its
// distinct answers, each checked to be a 200 JSON-equal to ours.
func peerAnswers(ctx context.Context, t *target, r request, ours answer) ([]answer, error) {
	var got []answer
	for i := range peerFetches {
		a, err := fetch(ctx, t.p.Base, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		if a.status != http.StatusOK {
			return nil, fmt.Errorf("%s answers %s with HTTP %d %.300s; want 200", t.name, r.name, a.status, a.body)
		}
		diff, err := jsonDiff(ours.body, a.body)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", t.name, r.name, err)
		}
		if diff != "" {
			return nil, fmt.Errorf("%s answers %s (answer %d of %d) differently from the service: %s; the comparison would measure different work",
				t.name, r.name, i+1, peerFetches, diff)
		}
		if !slices.ContainsFunc(got, func(b answer) bool { return bytes.Equal(a.body, b.body) }) {
			got = append(got, a)
		}
	}
	return got, nil
}

// jsonDiff compares two JSON documents as values: objects by their members
// whatever their order, arrays item by item, numbers by value. It returns ""
// when they are equal, else the first difference (members in name order),
// naming where it lies, e.g. `data.opportunityTypes[2].typeName: the service
// has "a", the peer "b"`. An error says a document is not JSON.
func jsonDiff(ours, theirs []byte) (string, error) {
	a, err := decodeJSON(ours)
	if err != nil {
		return "", fmt.Errorf("the service's answer is not JSON: %w", err)
	}
	b, err := decodeJSON(theirs)
	if err != nil {
		return "", fmt.Errorf("the peer's answer is not JSON: %w (%.200q)", err, theirs)
	}
	return firstDifference("", a, b), nil
}

// decodeJSON decodes one JSON value, numbers kept as written, and refuses
// anything after it but whitespace.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the first JSON value")
	}
	return v, nil
}

// firstDifference is jsonDiff's walk; path is where a and b lie.
func firstDifference(path string, a, b any) string {
	where := path
	if where == "" {
		where = "the answer"
	}
	differ := func() string {
		return fmt.Sprintf("%s: the service has %s, the peer %s", where, shortJSON(a), shortJSON(b))
	}
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return differ()
		}
		var names []string
		for k := range a {
			names = append(names, k)
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			p := k
			if path != "" {
				p = path + "." + k
			}
			av, inA := a[k]
			bv, inB := bm[k]
			switch {
			case !inB:
				return fmt.Sprintf("%s: the service has %s, the peer nothing", p, shortJSON(av))
			case !inA:
				return fmt.Sprintf("%s: the peer has %s, the service nothing", p, shortJSON(bv))
			}
			if d := firstDifference(p, av, bv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		bs, ok := b.([]any)
		if !ok {
			return differ()
		}
		for i := range min(len(a), len(bs)) {
			if d := firstDifference(fmt.Sprintf("%s[%d]", path, i), a[i], bs[i]); d != "" {
				return d
			}
		}
		if len(a) != len(bs) {
			return fmt.Sprintf("%s: the service has %d items, the peer %d", where, len(a), len(bs))
		}
		return ""
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return differ()
		}
		if a == bn {
			return ""
		}
		x, okA := new(big.Float).SetString(string(a))
		y, okB := new(big.Float).SetString(string(bn))
		if okA && okB && x.Cmp(y) == 0 { // 1 and 1.0, 1e2 and 100
			return ""
		}
		return differ()
	default: // string, bool or nil: comparable, whatever b holds
		if a != b {
			return differ()
		}
		return ""
	}
}

// shortJSON is v as JSON, cut to 80 bytes.
func shortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "…"
	}
	return string(b)
}

// PeerRow is one query's comparison with the peers: the rows of the
// ceiling, of each peer and of the service with and without the response
// cache, measured in the same rounds.
type PeerRow struct {
	Query                                         string
	Ceiling, Apollo, Mercurius, CacheOn, CacheOff Row
}

// VsMercurius is the cache off's throughput over Mercurius's.
func (p PeerRow) VsMercurius() float64 { return rateRatio(p.CacheOff, p.Mercurius) }

// VsApollo is the cache off's throughput over Apollo Server's.
func (p PeerRow) VsApollo() float64 { return rateRatio(p.CacheOff, p.Apollo) }

// Met reports whether the cache off is as far ahead of both peers as the
// targets ask.
func (p PeerRow) Met() bool {
	return p.VsMercurius() >= targetVsMercurius && p.VsApollo() >= targetVsApollo(p.Query)
}

// CPUVsMercurius is Mercurius's server CPU per request over the cache
// off's: the same comparison by cost, which a busy machine disturbs less
// than it does rates.
func (p PeerRow) CPUVsMercurius() float64 { return cpuRatio(p.Mercurius, p.CacheOff) }

// CPUVsApollo is Apollo Server's server CPU per request over the cache off's.
func (p PeerRow) CPUVsApollo() float64 { return cpuRatio(p.Apollo, p.CacheOff) }

func cpuRatio(a, b Row) float64 {
	if b.CPUPerRequest == 0 {
		return 0
	}
	return float64(a.CPUPerRequest) / float64(b.CPUPerRequest)
}

func rateRatio(a, b Row) float64 {
	if b.ReqPerSec == 0 {
		return 0
	}
	return a.ReqPerSec / b.ReqPerSec
}

// peerRows gathers, per query in the order of rows, the targets a peer
// comparison needs; a query without both peers' rows (the 304) has none.
func peerRows(rows []Row) []PeerRow {
	var out []PeerRow
	for _, row := range rows {
		if row.Target != targetCeiling {
			continue
		}
		p := PeerRow{Query: row.Query, Ceiling: row}
		found := 0
		for _, other := range rows {
			if other.Query != row.Query {
				continue
			}
			slot := map[string]*Row{targetApollo: &p.Apollo, targetMercurius: &p.Mercurius, targetCacheOn: &p.CacheOn, targetCacheOff: &p.CacheOff}[other.Target]
			if slot != nil {
				*slot = other
				found++
			}
		}
		if found == 4 {
			out = append(out, p)
		}
	}
	return out
}

// peerChecks are the targets against the peers, one per query of
// rows; a single skipped one when the peers were not measured.
func peerChecks(rows []Row) []Check {
	prs := peerRows(rows)
	if len(prs) == 0 {
		return []Check{{Name: fmt.Sprintf("cache off ahead of every peer: ≥ %.1f× %s and ≥ %.0f× %s on every query (full ≥ %.0f×)",
			targetVsMercurius, targetMercurius, targetVsApollo(""), targetApollo, targetVsApollo("full")), Skipped: true, Got: "run with -peers"}}
	}
	var checks []Check
	for _, p := range prs {
		checks = append(checks, Check{
			Name: fmt.Sprintf("cache off, %s: ≥ %.1f× %s, ≥ %.0f× %s", p.Query, targetVsMercurius, targetMercurius, targetVsApollo(p.Query), targetApollo),
			Met:  p.Met(),
			Got: fmt.Sprintf("%.2f× Mercurius, %.1f× Apollo (%.0f against %.0f and %.0f req/s)",
				p.VsMercurius(), p.VsApollo(), p.CacheOff.ReqPerSec, p.Mercurius.ReqPerSec, p.Apollo.ReqPerSec),
		})
	}
	return checks
}

// printPeers writes the peer comparison of one dataset's rows: per query,
// each target's req/s and p99, the ratios the targets name, and the same
// ratios by server CPU per request.
func printPeers(w io.Writer, rows []Row) {
	cell := func(r Row) string { return fmt.Sprintf("%.0f / %s", r.ReqPerSec, roundLatency(r.P99)) }
	fmt.Fprintf(w, "| query | %s | %s | %s | %s | %s | cache off / Mercurius | cache off / Apollo | CPU/request: Mercurius, Apollo / cache off |\n",
		targetCeiling, targetApollo, targetMercurius, targetCacheOn, targetCacheOff)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range peerRows(rows) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %.2f× (≥ %.1f×) | %.1f× (≥ %.0f×) | %.2f×, %.1f× |\n", p.Query,
			cell(p.Ceiling), cell(p.Apollo), cell(p.Mercurius), cell(p.CacheOn), cell(p.CacheOff),
			p.VsMercurius(), targetVsMercurius, p.VsApollo(), targetVsApollo(p.Query), p.CPUVsMercurius(), p.CPUVsApollo())
	}
}

// warnPeersBusy flags the rows of a peer comparison whose server did not
// fill its core: the machine's other work took part of it, and a ratio of
// rates measured under different contention compares the contention too.
func warnPeersBusy(w io.Writer, rows []Row) {
	for _, p := range peerRows(rows) {
		for _, row := range []Row{p.Apollo, p.Mercurius, p.CacheOff} {
			if row.ServerCPU < 0.9 {
				fmt.Fprintf(w, "\nWarning: %s used %.0f%% of its core on %s (the rest of the machine %.0f%% of a core): its rate is partly the machine's load.\n",
					row.Target, 100*row.ServerCPU, row.Query, 100*row.OtherCPU)
			}
		}
	}
}

// peersNote says how the peers ran, below their tables.
func (r *Report) peersNote(w io.Writer) {
	fmt.Fprintf(w, "\nEach target: req/s / p99, over the same interleaved rounds as the tables above; the last column compares server CPU per request, which other work on the machine disturbs less than rates. The peers (%s, %s; %s) serve the committed schema.graphql over the dataset the simulator serves, "+
		"read from a file and indexed once at start (the service fetches it once per CACHE_TTL and serves it from memory), with resolvers equivalent to the service's and no response caching; "+
		"NODE_ENV=production, each pinned as the service is (%s). Before the load, each peer's answer to each query was checked JSON-equal to the service's (%d times each, so Mercurius's compiled queries too); "+
		"the load then checks every answer byte for byte against the peer's own. Apollo runs without its cache-control plugin (per-field hooks for @cacheControl hints, which the schema has none of).\n",
		targetApollo, targetMercurius, r.PeerVersions, r.Pinning, peerFetches)
}
