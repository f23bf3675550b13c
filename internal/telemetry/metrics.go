// Package telemetry holds the service's observability: Prometheus metrics,
// OpenTelemetry tracing, structured logs with request ids, and the access log.
package telemetry

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxOperationNames bounds the operation label: the first names executed
// successfully (or declared by KnownOperations) keep their own series; later
// ones, and names of operations that were refused or failed, fold into
// "other", so a client inventing names, or sending refused documents under
// them, cannot take the labels of the operations the front-ends run.
const maxOperationNames = 100

// Operation label values that are not client-chosen names.
const (
	OperationAnonymous = "anonymous"
	OperationOther     = "other"
)

// validName is a GraphQL name of sane length; anything else is "other".
var validName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// Metrics are the service's Prometheus metrics, on a registry of their own so
// that tests can build as many as they like.
type Metrics struct {
	registry *prometheus.Registry

	operations        *prometheus.CounterVec
	operationDuration *prometheus.HistogramVec
	refreshes         *prometheus.CounterVec
	refreshDuration   *prometheus.HistogramVec
	refusedAnswers    *prometheus.CounterVec
	upstreamHTTP      *prometheus.CounterVec
	upstreamHTTPTime  *prometheus.HistogramVec
	cache             *prometheus.CounterVec
	inFlight          prometheus.Gauge
	breakerChanges    *prometheus.CounterVec
	breakerState      *prometheus.GaugeVec
	waiting           prometheus.Gauge
	sharedAnswers     prometheus.Counter
	streams           prometheus.Gauge
	redisUp           prometheus.Gauge
	redisErrors       *prometheus.CounterVec
	sharedConfig      *prometheus.CounterVec

	mu              sync.Mutex
	names           map[string]bool
	redisRegistered bool

	// handles keeps the series of operations already seen, by name and
	// outcome, so that counting one costs a map lookup, not a name check
	// and two label hashes. Only names kept as their own label are stored
	// (at most maxOperationNames of them, times the outcomes).
	handles sync.Map // opKey → opHandles
	// cacheResults are config_cache_requests_total's series, made once:
	// every executed request counts one, and WithLabelValues hashes its
	// label and takes the vector's lock (0.25 µs of an executed dropdown
	// request's 32 under load). Read-only after NewMetrics.
	cacheResults map[string]prometheus.Counter
}

type opKey struct{ name, outcome string }

type opHandles struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// NewMetrics registers every metric, Go runtime and process collectors included.
func NewMetrics() *Metrics {
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		names:    map[string]bool{},
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_operations_total",
			Help: "GraphQL operations by operation name and outcome (ok, error: executed with errors, rejected: refused by parsing, validation or limits).",
		}, []string{"operation", "outcome"}),
		operationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graphql_operation_duration_seconds", Help: "Time to answer a GraphQL operation.", Buckets: latency,
		}, []string{"operation"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_refreshes_total",
			Help: "Configuration refreshes from the upstream by outcome (ok, unavailable, rejected, bad_response, circuit_open).",
		}, []string{"outcome"}),
		refreshDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstream_refresh_duration_seconds", Help: "Time of one refresh, retries included.", Buckets: latency,
		}, []string{"outcome"}),
		refusedAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_refused_answers_total",
			Help: "Upstream answers refused by a rule of the configuration (empty, duplicate_type_id, duplicate_stage_id, stage_cycle, duplicate_field_id, int_out_of_range, stage_depth); the last good copy is kept.",
		}, []string{"rule"}),
		upstreamHTTP: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_http_requests_total", Help: "HTTP requests sent to the upstream, by status code (0: no response).",
		}, []string{"code"}),
		upstreamHTTPTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstream_http_request_duration_seconds", Help: "Time of one HTTP request to the upstream.", Buckets: latency,
		}, []string{"code"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "config_cache_requests_total", Help: "Configuration lookups by result: hit (fresh), miss (waited for a fetch), revalidating (past its TTL, served while a background refresh runs), stale (a refresh failed), error.",
		}, []string{"result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_breaker_transitions_total", Help: "Circuit breaker state changes.",
		}, []string{"from", "to"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstream_breaker_state", Help: "1 for the circuit breaker's current state.",
		}, []string{"state"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_shared_execution_waiters",
			Help: "Requests waiting for an execution shared by identical requests (its leader included).",
		}),
		sharedAnswers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graphql_shared_answers_total",
			Help: "Answers taken from another identical request's execution instead of executing again.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_streams_open",
			Help: "Subscription streams open (SSE and WebSocket), bounded by MAX_STREAMS; also counted in http_requests_in_flight.",
		}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redis_up",
			Help: "1 while the Redis of REDIS_URL answers, 0 while this replica uses its own state instead; absent without REDIS_URL.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_errors_total",
			Help: "Redis commands that failed or timed out, by what they were for (config, lease, publish, apq, rate_limit, upstream_limit, execution_limit, ping).",
		}, []string{"operation"}),
		sharedConfig: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "config_shared_total",
			Help: "Refreshes of this replica's configuration copy through Redis, by how: read (the shared copy was fresh), fetched (this replica called the upstream for all), waited (another replica was fetching), failed (the shared refresh failed), alone (Redis unavailable: called the upstream itself).",
		}, []string{"result"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.operations, m.operationDuration, m.refreshes, m.refreshDuration, m.refusedAnswers,
		m.upstreamHTTP, m.upstreamHTTPTime, m.cache, m.inFlight,
		m.breakerChanges, m.breakerState, m.waiting, m.sharedAnswers, m.streams,
		m.redisErrors, m.sharedConfig,
	)
	m.breakerState.WithLabelValues("closed").Set(1)
	// The results configsource reports to ObserveCache.
	m.cacheResults = make(map[string]prometheus.Counter, 5)
	for _, result := range []string{"hit", "miss", "revalidating", "stale", "error"} {
		m.cacheResults[result] = m.cache.WithLabelValues(result)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// KnownOperations gives names their own label from the start: the
// operations of trusted documents, which are the only ones that can run.
func (m *Metrics) KnownOperations(names []string) {
	for _, name := range names {
		m.operationLabel(name, true)
	}
}

// operationLabel folds a client-chosen operation name into a bounded label;
// a name not labelled yet gets its own only when claim is set (its
// operation was executed successfully) and labels are left.
func (m *Metrics) operationLabel(name string, claim bool) string {
	if name == "" {
		return OperationAnonymous
	}
	if !validName.MatchString(name) {
		return OperationOther
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return name
	}
	if !claim || len(m.names) >= maxOperationNames {
		return OperationOther
	}
	m.names[name] = true
	return name
}

// outcomeOK is internal/endpoint's OutcomeOK: an operation executed without
// errors, or answered from what one stored.
const outcomeOK = "ok"

// ObserveOperation counts one GraphQL operation and names it on its
// request's access-log line: the endpoint tells this one place, and the name
// reaches both.
func (m *Metrics) ObserveOperation(ctx context.Context, name, outcome string, d time.Duration) {
	SetOperationName(ctx, name)
	key := opKey{name, outcome}
	h, ok := m.handles.Load(key)
	if !ok {
		label := m.operationLabel(name, outcome == outcomeOK)
		h = opHandles{m.operations.WithLabelValues(label, outcome), m.operationDuration.WithLabelValues(label)}
		if label == name || name == "" {
			m.handles.Store(key, h)
		}
	}
	h.(opHandles).count.Inc()
	h.(opHandles).duration.Observe(d.Seconds())
}

// ObserveWaiting tracks requests waiting for a shared execution: +1 when one
// starts waiting, -1 when it stops; shared counts an answer it took from
// another request's execution.
func (m *Metrics) ObserveWaiting(delta int, shared bool) {
	m.waiting.Add(float64(delta))
	if shared {
		m.sharedAnswers.Inc()
	}
}

// ObserveStreams sets the number of open subscription streams.
func (m *Metrics) ObserveStreams(open int) { m.streams.Set(float64(open)) }

// ObserveRedis sets redis_up; the first call registers it, so that a
// service without REDIS_URL shows no Redis gauge at all.
func (m *Metrics) ObserveRedis(up bool) {
	m.mu.Lock()
	if !m.redisRegistered {
		m.registry.MustRegister(m.redisUp)
		m.redisRegistered = true
	}
	m.mu.Unlock()
	v := 0.0
	if up {
		v = 1
	}
	m.redisUp.Set(v)
}

// ObserveRedisError counts a failed Redis command by what it was for.
func (m *Metrics) ObserveRedisError(operation string) { m.redisErrors.WithLabelValues(operation).Inc() }

// ObserveSharedConfig counts a refresh of the copy through Redis by how it
// went (see config_shared_total).
func (m *Metrics) ObserveSharedConfig(result string) { m.sharedConfig.WithLabelValues(result).Inc() }

// ObserveRefresh counts one configuration refresh.
func (m *Metrics) ObserveRefresh(outcome string, d time.Duration) {
	m.refreshes.WithLabelValues(outcome).Inc()
	m.refreshDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObserveRefusedAnswer counts one upstream answer refused by rule, one of
// opportunity.Rules(): a fixed set, so the label cannot grow.
func (m *Metrics) ObserveRefusedAnswer(rule string) { m.refusedAnswers.WithLabelValues(rule).Inc() }

// ObserveCache counts one configuration lookup.
func (m *Metrics) ObserveCache(result string) {
	if c, ok := m.cacheResults[result]; ok {
		c.Inc()
		return
	}
	m.cache.WithLabelValues(result).Inc()
}

// ObserveBreaker records a circuit breaker transition.
func (m *Metrics) ObserveBreaker(from, to string) {
	m.breakerChanges.WithLabelValues(from, to).Inc()
	m.breakerState.WithLabelValues(from).Set(0)
	m.breakerState.WithLabelValues(to).Set(1)
}

// InstrumentTransport counts and times every HTTP request sent through rt.
func (m *Metrics) InstrumentTransport(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := rt.RoundTrip(r)
		code := "0"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.upstreamHTTP.WithLabelValues(code).Inc()
		m.upstreamHTTPTime.WithLabelValues(code).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// InFlight counts requests being served.
func (m *Metrics) InFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		next.ServeHTTP(w, r)
	})
}
