package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/oppconfig/oppconfig-graphql/internal/telemetry"
)

// TestMiddlewareWithoutExporterContinuesTheTrace: with no exporter the
// middleware makes no spans but still carries the client's trace context to
// the handler (and so to the upstream call), whatever the header's spelling.
func TestMiddlewareWithoutExporterContinuesTheTrace(t *testing.T) {
	tracing, err := telemetry.NewTracing(context.Background(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name, header, value string
		want                string
	}{
		{"lower case, as browsers send it", "traceparent", "00-" + traceID + "-00f067aa0ba902b7-01", traceID},
		{"canonical", "Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01", traceID},
		{"none", "", "", ""},
		{"malformed", "traceparent", "00-zz-00f067aa0ba902b7-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := tracing.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
					got = sc.TraceID().String()
				}
			}))
			req := httptest.NewRequest(http.MethodPost, "/query", nil)
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value) // Set canonicalises, as net/http does for requests it reads
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tt.want {
				t.Errorf("trace id %q, want %q", got, tt.want)
			}
		})
	}
}
