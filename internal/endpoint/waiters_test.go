package endpoint

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

// blocking is an executor whose executions run until released or until
// their context ends, and report which.
type blocking struct {
	started  chan struct{}
	release  chan struct{}
	runs     atomic.Int32
	stopped  atomic.Int32 // executions that saw their context end
	finished atomic.Int32
}

func newBlocking() *blocking {
	return &blocking{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocking) CreateOperationContext(context.Context, *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	return &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Query}}, nil
}

func (b *blocking) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	b.runs.Add(1)
	b.started <- struct{}{}
	select {
	case <-b.release:
		b.finished.Add(1)
	case <-ctx.Done():
		b.stopped.Add(1)
	}
	return graphql.OneShot(&graphql.Response{Data: []byte(`{"ok":true}`)}), ctx
}

func (b *blocking) DispatchError(context.Context, gqlerror.List) *graphql.Response { return nil }

// waiter sends the query with its own context and returns the answer's body
// when it comes ("" when its context ended first).
func waiter(t *testing.T, e *Endpoint, ctx context.Context) string {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/query", strings.NewReader(`{"query":"{ opportunityTypes { typeId } }"}`))
	r.Header.Set("Content-Type", "application/json")
	e.ServeHTTP(w, r)
	return w.Body.String()
}

// TestSharedExecutionAndItsWaiters: of three identical requests sharing one
// execution, the one that leads it and one other go away; the execution goes
// on and the third gets its answer. When every waiter of an execution has
// gone, the execution is stopped: no work for nobody.
func TestSharedExecutionAndItsWaiters(t *testing.T) {
	newEndpoint := func(exec graphql.GraphExecutor) (*Endpoint, *waiting) {
		w := &waiting{}
		e, err := New(exec, fresh{opportunity.NewSnapshot(nil, "v1")}, Options{
			MaxBodyBytes: 1 << 20, CacheTTL: time.Minute, Responses: respcache.New(1 << 20), Observer: w,
		})
		if err != nil {
			t.Fatal(err)
		}
		return e, w
	}

	t.Run("a waiter leaving does not stop the others", func(t *testing.T) {
		exec := newBlocking()
		e, waiters := newEndpoint(exec)
		leaderCtx, leave := context.WithCancel(t.Context())
		otherCtx, otherLeaves := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		answers := make([]string, 3)
		wg.Go(func() { answers[0] = waiter(t, e, leaderCtx) })
		<-exec.started // the first request leads the execution
		wg.Go(func() { answers[1] = waiter(t, e, otherCtx) })
		wg.Go(func() { answers[2] = waiter(t, e, t.Context()) })
		waitFor(t, func() bool { return waiters.n.Load() == 3 })
		leave()
		otherLeaves()
		waitFor(t, func() bool { return waiters.n.Load() == 1 })
		close(exec.release)
		wg.Wait()
		if exec.runs.Load() != 1 || exec.finished.Load() != 1 || exec.stopped.Load() != 0 {
			t.Fatalf("runs %d, finished %d, stopped %d; want one execution, finished", exec.runs.Load(), exec.finished.Load(), exec.stopped.Load())
		}
		for i, want := range []string{"REQUEST_CANCELLED", "REQUEST_CANCELLED", `{"data":{"ok":true}}`} {
			if !strings.Contains(answers[i], want) {
				t.Errorf("request %d got %s, want %s", i, answers[i], want)
			}
		}
	})

	t.Run("the last waiter leaving stops the execution", func(t *testing.T) {
		exec := newBlocking()
		e, waiters := newEndpoint(exec)
		ctx, leave := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { waiter(t, e, ctx) })
		}
		<-exec.started
		waitFor(t, func() bool { return waiters.n.Load() == 2 })
		leave()
		wg.Wait()
		waitFor(t, func() bool { return exec.stopped.Load() == 1 })
		if exec.runs.Load() != 1 || exec.finished.Load() != 0 {
			t.Fatalf("runs %d, finished %d; want one execution, stopped", exec.runs.Load(), exec.finished.Load())
		}
	})
}

// waiting counts the requests waiting for a shared execution, as the
// service's metrics do.
type waiting struct{ n atomic.Int32 }

func (w *waiting) ObserveOperation(context.Context, string, string, time.Duration) {}
func (w *waiting) ObserveWaiting(delta int, _ bool)                                { w.n.Add(int32(delta)) }

// waitFor polls cond for up to 5 s: what it waits for happens on other
// goroutines as soon as the test's own steps allow.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// refusingFirst refuses its first execution RATE_LIMITED, after being
// released, as the executor does when the leading request's client is over
// its execution budget; later ones answer.
type refusingFirst struct {
	blocking
	calls atomic.Int32
}

func (r *refusingFirst) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if r.calls.Add(1) > 1 {
		return graphql.OneShot(&graphql.Response{Data: []byte(`{"ok":true}`)}), ctx
	}
	r.started <- struct{}{}
	<-r.release
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{apierror.GraphQL(apierror.RateLimited, "over")}}), ctx
}

// TestAWaiterIsNotRefusedForTheLeadersBudget: when the shared execution is
// refused for its leader's execution budget, a request that waited for it
// is executed on its own (its client has its own budget).
func TestAWaiterIsNotRefusedForTheLeadersBudget(t *testing.T) {
	exec := &refusingFirst{blocking: *newBlocking()}
	w := &waiting{}
	e, err := New(exec, fresh{opportunity.NewSnapshot(nil, "v1")}, Options{
		MaxBodyBytes: 1 << 20, CacheTTL: time.Minute, Responses: respcache.New(1 << 20), Observer: w,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	answers := make([]string, 2)
	wg.Go(func() { answers[0] = waiter(t, e, t.Context()) })
	<-exec.started
	wg.Go(func() { answers[1] = waiter(t, e, t.Context()) })
	waitFor(t, func() bool { return w.n.Load() == 2 })
	close(exec.release)
	wg.Wait()
	if !strings.Contains(answers[0], "RATE_LIMITED") || answers[1] != `{"data":{"ok":true}}` {
		t.Fatalf("leader %s, waiter %s", answers[0], answers[1])
	}
}
