package loaders_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// staticSource is a warm cache: the same snapshot, fresh, every time.
type staticSource struct{ snap *opportunity.Snapshot }

func (s staticSource) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	return cache.Result[*opportunity.Snapshot]{Value: s.snap}, nil
}

func benchSnapshot(types int) *opportunity.Snapshot {
	ts := make([]*opportunity.Type, types)
	for i := range ts {
		ts[i] = &opportunity.Type{TypeID: 1001 + i, TypeName: fmt.Sprint("type ", i)}
	}
	return opportunity.NewSnapshot(ts, "v")
}

// BenchmarkTypeByIDBatch is one request's N concurrent type lookups, as gqlgen
// resolves N aliased opportunityType fields: fresh loaders (per request), N
// goroutines, one batch. The time is the batch window (LOADER_WAIT, 1ms)
// plus the work; batches/op shows that N lookups cost one batch.
func BenchmarkTypeByIDBatch(b *testing.B) {
	src := staticSource{benchSnapshot(100)}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var batches atomic.Int64
			opts := loaders.Options{Wait: time.Millisecond, OnBatch: func(string, int) { batches.Add(1) }}
			b.ReportAllocs()
			for b.Loop() {
				ctx := loaders.NewContext(context.Background(), loaders.New(src, opts))
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						if t, err := loaders.TypeByID(ctx, 1001+i); err != nil || t == nil {
							b.Errorf("TypeByID(%d) = %v, %v", 1001+i, t, err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(batches.Load())/float64(b.N), "batches/op")
		})
	}
}

// BenchmarkSingleLookupWait is the latency a request with one type lookup
// pays for the batch window: the loader waits the whole window for more keys
// before it reads the snapshot. 1ms is this service's default; 16ms is the
// dataloader library's, which would add 15ms to every such request.
func BenchmarkSingleLookupWait(b *testing.B) {
	src := staticSource{benchSnapshot(4)}
	for _, wait := range []time.Duration{time.Millisecond, 16 * time.Millisecond} {
		b.Run("wait="+wait.String(), func(b *testing.B) {
			opts := loaders.Options{Wait: wait}
			for b.Loop() {
				ctx := loaders.NewContext(context.Background(), loaders.New(src, opts))
				if t, err := loaders.TypeByID(ctx, 1001); err != nil || t == nil {
					b.Fatalf("TypeByID = %v, %v", t, err)
				}
			}
		})
	}
}
