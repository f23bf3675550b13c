// Package configsource is the service's one copy of the opportunity
// configuration: the signed tanmarket client behind a TTL cache (one shared
// refresh, stale-if-error), each refresh metered and logged once, each lookup
// counted, an empty answer kept from erasing a copy that has types, and the
// readiness that the copy implies.
package configsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// Fetcher brings the configuration from the upstream; *tanmarket.Client is one.
type Fetcher interface {
	OpportunityConfig(ctx context.Context) (*opportunity.Snapshot, error)
}

// DatedFetcher is a Fetcher that also says when the configuration it returns
// was fetched from the upstream: internal/redis's copy shared by replicas is
// as old as the one fetch that brought it, so it expires on every replica at
// once.
type DatedFetcher interface {
	Fetcher
	OpportunityConfigAt(ctx context.Context) (*opportunity.Snapshot, time.Time, error)
}

// Options configures a Source; every field but Now is required.
type Options struct {
	TTL           time.Duration    // CACHE_TTL
	MaxStale      time.Duration    // CACHE_MAX_STALE
	RetryInterval time.Duration    // CACHE_REFRESH_RETRY
	Now           func() time.Time // the cache's clock; nil is time.Now
	// AllowEmptyAfter is UPSTREAM_ALLOW_EMPTY: how long the upstream must
	// have answered an empty type list, continuously, before such an answer
	// replaces a copy that has types; 0 never lets it.
	AllowEmptyAfter time.Duration
	Logger          *slog.Logger
	Metrics         *telemetry.Metrics
}

// Source is safe for concurrent use.
type Source struct {
	cache   *cache.Cache[*opportunity.Snapshot]
	logger  *slog.Logger
	metrics *telemetry.Metrics
	// maxAge is how old a copy may be and the service still call itself
	// ready: TTL + MaxStale, the oldest copy it would serve.
	maxAge     time.Duration
	allowEmpty time.Duration
	now        func() time.Time

	// emptySince is when the upstream's current run of empty answers began;
	// nil when its last answer had types (or was not the documented shape).
	emptySince atomic.Pointer[time.Time]
	// refused is the last answer a rule refused, for readiness; nil once an
	// answer has been accepted since.
	refused atomic.Pointer[refusal]
}

// refusal is an upstream answer refused by a rule, as readiness reports it.
type refusal struct {
	violation *opportunity.Violation
	at        time.Time
}

// New returns the source around f.
func New(f Fetcher, opts Options) (*Source, error) {
	if f == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, fmt.Errorf("configuration source: a fetcher, a logger and metrics are required")
	}
	if opts.AllowEmptyAfter < 0 {
		return nil, fmt.Errorf("configuration source: AllowEmptyAfter is %s, want 0 (never) or more", opts.AllowEmptyAfter)
	}
	s := &Source{logger: opts.Logger, metrics: opts.Metrics, maxAge: opts.TTL + opts.MaxStale, allowEmpty: opts.AllowEmptyAfter, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	fetch := func(ctx context.Context) (*opportunity.Snapshot, time.Time, error) {
		snap, err := f.OpportunityConfig(ctx)
		return snap, time.Time{}, err
	}
	if d, ok := f.(DatedFetcher); ok {
		fetch = d.OpportunityConfigAt
	}
	c, err := cache.NewDated(func(ctx context.Context) (*opportunity.Snapshot, time.Time, error) {
		return s.refresh(ctx, fetch)
	}, cache.Options{TTL: opts.TTL, MaxStale: opts.MaxStale, RetryInterval: opts.RetryInterval, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("configuration source: %w", err)
	}
	s.cache = c
	return s, nil
}

// refresh is one call to the upstream, counted and logged here, once per
// refresh, rather than once per request or resolver that sees it. An answer
// a rule refuses (opportunity.Check in the client, RuleEmpty here) is an
// error like any failed refresh, so the cache keeps serving its copy; it is
// also counted by rule, logged with the rule and where, and kept for
// readiness.
func (s *Source) refresh(ctx context.Context, fetch func(context.Context) (*opportunity.Snapshot, time.Time, error)) (*opportunity.Snapshot, time.Time, error) {
	start := time.Now()
	snap, at, err := fetch(ctx)
	if err == nil {
		err = s.admit(snap)
	} else if !errors.Is(err, tanmarket.ErrUnavailable) {
		// An answer, though not a configuration: a run of empty answers is
		// no longer continuous. Silence (unavailable) does not break it.
		s.emptySince.Store(nil)
	}
	took := time.Since(start)
	s.metrics.ObserveRefresh(tanmarket.Outcome(err), took)
	if v, ok := errors.AsType[*opportunity.Violation](err); ok {
		s.metrics.ObserveRefusedAnswer(string(v.Rule))
		s.refused.Store(&refusal{violation: v, at: s.now()})
		s.logger.WarnContext(ctx, "upstream answer refused; the last good copy, if any, is kept",
			"rule", string(v.Rule), "where", v.Where, "err", err, "duration_ms", took.Milliseconds())
		return nil, time.Time{}, err
	}
	if err != nil {
		s.logger.WarnContext(ctx, "opportunity config refresh failed", "err", err, "duration_ms", took.Milliseconds())
		return nil, time.Time{}, err
	}
	s.refused.Store(nil)
	s.logger.InfoContext(ctx, "opportunity config fetched", "version", snap.Version(), "types", len(snap.Types()), "duration_ms", took.Milliseconds())
	if held, ok := s.cache.Peek(); ok && held.Value.Version() == snap.Version() {
		// The same bytes: keep the snapshot held, and with it what was
		// built from it once (its rules, the executor's counts and budgets
		// per snapshot), rather than build them again every TTL.
		return held.Value, at, nil
	}
	s.buildRules(ctx, snap)
	return snap, at, nil
}

// buildRules builds the snapshot's value and form rules now, in the refresh,
// so that no request waits for them (milliseconds on a large configuration),
// and logs each pattern RE2 cannot compile: the field keeps being served, and
// its values are checked without the pattern. A refresh of the same bytes
// keeps the snapshot held (refresh), so this runs once per version.
func (s *Source) buildRules(ctx context.Context, snap *opportunity.Snapshot) {
	_, problems := snap.Rules()
	for _, p := range problems {
		s.logger.WarnContext(ctx, "field pattern skipped: RE2 cannot compile it; values of the field are checked without it",
			"version", snap.Version(), "type_id", p.TypeID, "field_id", p.FieldID, "err", p)
	}
}

// admit applies RuleEmpty, the one rule that depends on the copy held: an
// empty type list replaces nothing that has types (a vendor glitch must not
// erase every pipeline) unless the upstream has answered empty continuously
// for AllowEmptyAfter, as it would once an account really has no types left.
// With no copy, or an empty one, there is nothing to lose and it is accepted.
func (s *Source) admit(snap *opportunity.Snapshot) error {
	if len(snap.Types()) > 0 {
		s.emptySince.Store(nil)
		return nil
	}
	now := s.now()
	since := s.emptySince.Load()
	if since == nil {
		since = &now
		s.emptySince.Store(since)
	}
	held, ok := s.cache.Peek()
	if !ok || len(held.Value.Types()) == 0 {
		return nil
	}
	run := now.Sub(*since)
	if s.allowEmpty > 0 && run >= s.allowEmpty {
		s.logger.Warn("the upstream has answered no opportunity types for UPSTREAM_ALLOW_EMPTY; serving the empty configuration",
			"since", since.UTC().Format(time.RFC3339), "replaced_types", len(held.Value.Types()))
		return nil
	}
	problem := fmt.Sprintf("no opportunity types, while the copy held has %d", len(held.Value.Types()))
	if s.allowEmpty > 0 {
		problem += fmt.Sprintf("; empty for %s of the %s UPSTREAM_ALLOW_EMPTY asks", run.Round(time.Second), s.allowEmpty)
	}
	return &tanmarket.Error{Kind: tanmarket.KindBadResponse, Message: "empty configuration refused",
		Err: &opportunity.Violation{Rule: opportunity.RuleEmpty, Problem: problem}}
}

// Get returns the configuration and counts the lookup: hit (fresh), miss
// (waited for a fetch: no copy, or one past TTL + max-stale), revalidating
// (past its TTL, served while a background refresh runs), stale (a refresh
// has failed) or error.
func (s *Source) Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error) {
	res, err := s.cache.Get(ctx)
	switch {
	case err != nil:
		s.metrics.ObserveCache("error")
	case res.Stale:
		s.metrics.ObserveCache("stale")
	case res.Refreshed:
		s.metrics.ObserveCache("miss")
	case res.Revalidating:
		s.metrics.ObserveCache("revalidating")
	default:
		s.metrics.ObserveCache("hit")
	}
	return res, err
}

// Current returns the copy if it may be served without waiting, starting the
// background refresh that is due (see cache.Current); it is not counted as a
// lookup. The endpoint checks stored answers against it.
func (s *Source) Current(ctx context.Context) (cache.Result[*opportunity.Snapshot], bool) {
	return s.cache.Current(ctx)
}

// Peek returns the copy held, without refreshing or counting, and whether
// there is one (readiness, tests).
func (s *Source) Peek() (cache.Result[*opportunity.Snapshot], bool) { return s.cache.Peek() }

// Revalidate refreshes the copy now and waits for the outcome, which it
// returns (the copy is kept when the refresh fails).
func (s *Source) Revalidate(ctx context.Context) error { return s.cache.Revalidate(ctx) }

// Changed returns a channel closed when the next fetch ends (cache.Cache's).
func (s *Source) Changed() <-chan struct{} { return s.cache.Changed() }

// Due says how long from now the copy held changes by the clock alone
// (cache.Cache's).
func (s *Source) Due() (time.Duration, bool) { return s.cache.Due() }

// Refreshing reports whether a fetch from the upstream is running.
func (s *Source) Refreshing() bool { return s.cache.Refreshing() }

// Fetches counts refreshes made so far (successful or not).
func (s *Source) Fetches() int64 { return s.cache.Fetches() }

// Warm fetches the configuration once, so that readiness turns green and the
// first user does not wait for the upstream. A failure is logged; requests
// retry on demand. It is not a client's lookup, so it is not counted as one.
func (s *Source) Warm(ctx context.Context) {
	if _, err := s.cache.Get(ctx); err != nil {
		s.logger.WarnContext(ctx, "initial configuration fetch failed; will retry on demand", "err", err)
	}
}

// Ready reports whether the service can answer: a configuration no older than
// TTL + max-stale is held. detail explains, for operators (GET /readyz).
func (s *Source) Ready() (ready bool, detail map[string]any) {
	res, ok := s.cache.Peek()
	if !ok {
		detail = map[string]any{"status": "not ready", "reason": "no opportunity configuration fetched yet"}
		s.addRefusal(detail)
		return false, detail
	}
	detail = map[string]any{
		"configVersion": res.Value.Version(),
		"ageSeconds":    int64(res.Age.Seconds()),
		"stale":         res.Stale,
		"refreshing":    s.cache.Refreshing(),
		"types":         len(res.Value.Types()),
	}
	s.addRefusal(detail)
	if res.Age > s.maxAge {
		detail["status"], detail["reason"] = "not ready", "the cached configuration is older than CACHE_TTL + CACHE_MAX_STALE"
		return false, detail
	}
	detail["status"] = "ready"
	return true, detail
}

// addRefusal adds the last refused answer to readiness details, if no answer
// has been accepted since. A refusal does not make the service unready while
// it holds a copy, which is served; operators learn why that copy is not the
// upstream's latest. The text holds ids and numbers, never names.
func (s *Source) addRefusal(detail map[string]any) {
	if r := s.refused.Load(); r != nil {
		detail["refusedAnswer"] = map[string]any{
			"rule":       string(r.violation.Rule),
			"error":      r.violation.Error(),
			"ageSeconds": int64(s.now().Sub(r.at).Seconds()),
		}
	}
}
