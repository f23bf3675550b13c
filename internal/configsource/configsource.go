// Package configsource is the service's one copy of the opportunity
// configuration: the signed tanmarket client behind a TTL cache (one shared
// refresh, stale-if-error), each refresh metered and logged once, each lookup
// counted, and the readiness that the copy implies.
package configsource

import (
	"context"
	"fmt"
	"log/slog"
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

// Options configures a Source; every field but Now is required.
type Options struct {
	TTL           time.Duration    // CACHE_TTL
	MaxStale      time.Duration    // CACHE_MAX_STALE
	RetryInterval time.Duration    // CACHE_REFRESH_RETRY
	Now           func() time.Time // the cache's clock; nil is time.Now
	Logger        *slog.Logger
	Metrics       *telemetry.Metrics
}

// Source is safe for concurrent use.
type Source struct {
	cache   *cache.Cache[*opportunity.Snapshot]
	logger  *slog.Logger
	metrics *telemetry.Metrics
	// maxAge is how old a copy may be and the service still call itself
	// ready: TTL + MaxStale, the oldest copy it would serve.
	maxAge time.Duration
}

// New returns the source around f.
func New(f Fetcher, opts Options) (*Source, error) {
	if f == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, fmt.Errorf("configuration source: a fetcher, a logger and metrics are required")
	}
	s := &Source{logger: opts.Logger, metrics: opts.Metrics, maxAge: opts.TTL + opts.MaxStale}
	c, err := cache.New(func(ctx context.Context) (*opportunity.Snapshot, error) {
		return s.refresh(ctx, f)
	}, cache.Options{TTL: opts.TTL, MaxStale: opts.MaxStale, RetryInterval: opts.RetryInterval, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("configuration source: %w", err)
	}
	s.cache = c
	return s, nil
}

// refresh is one call to the upstream, counted and logged here, once per
// refresh, rather than once per request or resolver that sees it.
func (s *Source) refresh(ctx context.Context, f Fetcher) (*opportunity.Snapshot, error) {
	start := time.Now()
	snap, err := f.OpportunityConfig(ctx)
	took := time.Since(start)
	s.metrics.ObserveRefresh(tanmarket.Outcome(err), took)
	if err != nil {
		s.logger.WarnContext(ctx, "opportunity config refresh failed", "err", err, "duration_ms", took.Milliseconds())
		return nil, err
	}
	s.logger.InfoContext(ctx, "opportunity config fetched", "version", snap.Version(), "types", len(snap.Types()), "duration_ms", took.Milliseconds())
	return snap, nil
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
		return false, map[string]any{"status": "not ready", "reason": "no opportunity configuration fetched yet"}
	}
	detail = map[string]any{
		"configVersion": res.Value.Version(),
		"ageSeconds":    int64(res.Age.Seconds()),
		"stale":         res.Stale,
		"refreshing":    s.cache.Refreshing(),
	}
	if res.Age > s.maxAge {
		detail["status"], detail["reason"] = "not ready", "the cached configuration is older than CACHE_TTL + CACHE_MAX_STALE"
		return false, detail
	}
	detail["status"] = "ready"
	return true, detail
}
