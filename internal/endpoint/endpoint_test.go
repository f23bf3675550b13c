package endpoint_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/endpoint"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// noSource is a configuration source that has nothing.
type noSource struct{}

func (noSource) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	return cache.Result[*opportunity.Snapshot]{}, context.Canceled
}

func (noSource) Current(context.Context) (cache.Result[*opportunity.Snapshot], bool) {
	return cache.Result[*opportunity.Snapshot]{}, false
}

// TestNewRefusesMissingOptions: the endpoint has no hidden defaults; a bound
// it needs and did not get is an error naming it.
func TestNewRefusesMissingOptions(t *testing.T) {
	exec := graph.NewExecutor(slog.New(slog.DiscardHandler), graph.Options{})
	good := endpoint.Options{MaxBodyBytes: 1 << 20, CacheTTL: 30 * time.Second}
	tests := []struct {
		name    string
		src     endpoint.Source
		edit    func(*endpoint.Options)
		wantErr string // "" when New must succeed
	}{
		{"every required option", noSource{}, func(*endpoint.Options) {}, ""},
		{"no source", nil, func(*endpoint.Options) {}, "configuration source"},
		{"no body bound", noSource{}, func(o *endpoint.Options) { o.MaxBodyBytes = 0 }, "largest request body"},
		{"negative batch", noSource{}, func(o *endpoint.Options) { o.MaxBatch = -1 }, "must not be negative"},
		{"no TTL", noSource{}, func(o *endpoint.Options) { o.CacheTTL = 0 }, "configuration TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			tt.edit(&opts)
			_, err := endpoint.New(exec, tt.src, opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// TestOnlyGETAndPOST: the endpoint itself refuses other methods with a
// GraphQL-shaped 405, whatever router it is mounted on.
func TestOnlyGETAndPOST(t *testing.T) {
	s := teststack.New(t, teststack.Options{})
	e, err := endpoint.New(graph.NewExecutor(slog.New(slog.DiscardHandler), graph.Options{}), s.Service.Config,
		endpoint.Options{MaxBodyBytes: 1 << 20, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, "/query", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" || !strings.Contains(w.Body.String(), `"METHOD_NOT_ALLOWED"`) {
			t.Errorf("%s: %d %v %s", method, w.Code, w.Header(), w.Body)
		}
		// And as the service routes it.
		resp, body := testkit.Do(t, method, s.Server.URL+"/query", "", nil, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" || !strings.Contains(body, `"METHOD_NOT_ALLOWED"`) {
			t.Errorf("%s through the routes: %d %v %s", method, resp.StatusCode, resp.Header, body)
		}
	}
}
