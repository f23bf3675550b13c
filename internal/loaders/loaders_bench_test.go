package loaders_test

import (
	"context"
	"fmt"
	"testing"

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

// BenchmarkTypeByID is one request's N type lookups, as gqlgen resolves N
// aliased opportunityType fields: fresh loaders (per request), one source
// call, then N lookups one after another, as gqlgen's sequential executor
// makes them, through dataloaders with batches of one key. No batch window:
// with the former 1ms window (LOADER_WAIT, gone) a request with one lookup
// took 1.2ms, and each lookup made in turn would have waited the window again.
func BenchmarkTypeByID(b *testing.B) {
	src := staticSource{benchSnapshot(100)}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx := loaders.NewContext(context.Background(), loaders.New(src))
				for i := range n {
					if t, err := loaders.TypeByID(ctx, 1001+i); err != nil || t == nil {
						b.Fatalf("TypeByID(%d) = %v, %v", 1001+i, t, err)
					}
				}
			}
		})
	}
}
