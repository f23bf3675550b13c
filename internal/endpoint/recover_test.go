package endpoint

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

// panicking is an executor whose every execution panics, with a value that
// must never be shown or logged.
type panicking struct{}

func (panicking) CreateOperationContext(context.Context, *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	return &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Query}}, nil
}

func (panicking) DispatchOperation(context.Context, *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	panic("secret=" + testkit.Creds().AppSecret.Reveal())
}

func (panicking) DispatchError(context.Context, gqlerror.List) *graphql.Response { return nil }

// fresh is a source holding a fresh snapshot.
type fresh struct{ snap *opportunity.Snapshot }

func (f fresh) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	return cache.Result[*opportunity.Snapshot]{Value: f.snap}, nil
}

func (f fresh) Current(context.Context) (cache.Result[*opportunity.Snapshot], bool) {
	return cache.Result[*opportunity.Snapshot]{Value: f.snap}, true
}

// TestPanicsOffTheRequestGoroutine: an execution shared by identical requests
// runs on singleflight's goroutine, where a panic would end the process; it
// is answered as a GraphQL 500 and logged with its type, never its value.
func TestPanicsOffTheRequestGoroutine(t *testing.T) {
	logs := &testkit.LogBuffer{}
	e, err := New(panicking{}, fresh{opportunity.NewSnapshot(nil, "v1")}, Options{
		MaxBodyBytes: 1 << 20, CacheTTL: time.Minute,
		Responses: respcache.New(1 << 20), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the process survives, and the next request too
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ opportunityTypes { typeId } }"}`))
		r.Header.Set("Content-Type", "application/json")
		e.ServeHTTP(w, r)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"INTERNAL_SERVER_ERROR"`) {
			t.Errorf("%d %s", w.Code, w.Body)
		}
		testkit.AssertNoSecrets(t, "response", w.Body.String())
	}
	if !strings.Contains(logs.String(), "panic in a shared execution") || !strings.Contains(logs.String(), `"type":"string"`) {
		t.Errorf("panic not logged: %s", logs)
	}
	testkit.AssertNoSecrets(t, "logs", logs.String())
}
