package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName names the service in traces.
const ServiceName = "oppconfig-graphql"

// Tracing is the service's tracer provider and propagator, passed explicitly
// to every instrumented place rather than set as OpenTelemetry globals.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
	exporting  bool // false: spans go nowhere, so only context is propagated
}

// NewTracing exports spans over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set;
// the exporter reads the other OTEL_* variables itself. Otherwise tracing is a
// no-op that costs next to nothing. W3C trace context is propagated either way,
// so an incoming traceparent still reaches the upstream.
func NewTracing(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	t := &Tracing{
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Provider:   noop.NewTracerProvider(),
		shutdown:   func(context.Context) error { return nil },
	}
	// The endpoint is read through getenv (tests pass a map); the exporter
	// reads the other OTEL_EXPORTER_OTLP_* settings from the process itself.
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint == "" && base != "" {
		endpoint = strings.TrimRight(base, "/") + "/v1/traces"
	}
	if endpoint == "" {
		return t, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.Provider, t.shutdown, t.exporting = tp, tp.Shutdown, true
	return t, nil
}

// NewTracingWith uses a given provider (tests pass one with an in-memory exporter).
func NewTracingWith(tp trace.TracerProvider) *Tracing {
	return &Tracing{
		Provider:   tp,
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
		exporting:  true,
	}
}

// Shutdown flushes spans not yet exported.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// Tracer returns the service's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.Provider.Tracer(ServiceName) }

// Exporting reports whether spans are recorded and exported; without an
// exporter a span is worth nothing but its cost, so callers may start none.
func (t *Tracing) Exporting() bool { return t.exporting }

// Middleware starts a server span per HTTP request, continuing an incoming
// traceparent. With no exporter it only carries the incoming trace context
// (so that it still reaches the upstream): a span nobody records is not worth
// otelhttp's per-request wrapping on the hot path.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if !t.exporting {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.Header["Traceparent"]) > 0 { // the canonical name: Get would canonicalise "traceparent" on every request
				r = r.WithContext(t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}
			next.ServeHTTP(w, r)
		})
	}
	return otelhttp.NewHandler(next, "http.request",
		otelhttp.WithTracerProvider(t.Provider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + routeName(r.URL.Path) }),
	)
}

// routeName keeps span names bounded: a known route, or "other".
func routeName(path string) string {
	switch path {
	case "/", "/query", "/explorer", "/graphql/schema.graphql", "/healthz", "/readyz", "/metrics":
		return path
	}
	return "other"
}

// Transport starts a client span per upstream HTTP request and sends the
// traceparent header with it.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.Provider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "tanmarket " + r.Method + " " + r.URL.Path }),
	)
}
