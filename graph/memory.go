package graph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/sync/semaphore"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// memoryBudget bounds the memory of the executions running at once: each
// takes the bytes its answer will need (its counted size times what an
// executor holds per byte) before it runs and gives them back after, so that
// their sum stays under the budget whatever the mix of queries; a request
// that cannot have its share within wait is refused, never run into an OOM.
type memoryBudget struct {
	sem      *semaphore.Weighted
	capacity int64
	wait     time.Duration
}

// newMemoryBudget returns a budget of capacity bytes, or nil (no bound) for
// a capacity of 0.
func newMemoryBudget(capacity int64, wait time.Duration) *memoryBudget {
	if capacity <= 0 {
		return nil
	}
	return &memoryBudget{sem: semaphore.NewWeighted(capacity), capacity: capacity, wait: wait}
}

// acquire takes n bytes of the budget for one execution, waiting up to the
// budget's wait (or ctx's end), and returns the function that gives them
// back. An execution larger than the whole budget takes all of it, and so
// runs alone. A nil budget gives at once.
func (m *memoryBudget) acquire(ctx context.Context, n int64) (release func(), _ *gqlerror.Error) {
	if m == nil || n <= 0 {
		return func() {}, nil
	}
	n = min(n, m.capacity)
	if !m.sem.TryAcquire(n) {
		wait, cancel := context.WithTimeout(ctx, m.wait)
		defer cancel()
		if err := m.sem.Acquire(wait, n); err != nil {
			if ctx.Err() != nil {
				return nil, cancelled()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return nil, apierror.GraphQL(apierror.Internal, "internal server error")
			}
			return nil, apierror.GraphQL(apierror.Overloaded, fmt.Sprintf(
				"the executions running now hold the memory this one needs (%d MiB of EXECUTION_MEMORY's %d MiB); try again shortly",
				(n+1<<20-1)>>20, m.capacity>>20))
		}
	}
	return func() { m.sem.Release(n) }, nil
}
