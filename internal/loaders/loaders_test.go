package loaders

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// source is a fake configuration source that counts its calls.
type source struct {
	snap  *opportunity.Snapshot
	err   error
	stale bool
	calls atomic.Int64
}

func (s *source) Get(context.Context) (cache.Result[*opportunity.Snapshot], error) {
	s.calls.Add(1)
	if s.err != nil {
		return cache.Result[*opportunity.Snapshot]{}, s.err
	}
	return cache.Result[*opportunity.Snapshot]{Value: s.snap, Stale: s.stale, Age: 42 * time.Second}, nil
}

func testSnapshot() *opportunity.Snapshot {
	return opportunity.NewSnapshot([]*opportunity.Type{
		{TypeID: 1, TypeName: "one", Fields: []*opportunity.Field{{ID: 10, Name: "a"}, {ID: 11, Name: "b"}}},
		{TypeID: 2, TypeName: "two", DefaultType: true, Fields: []*opportunity.Field{{ID: 10, Name: "c"}}},
	}, "v1")
}

func TestLookupsAnswerByID(t *testing.T) {
	src := &source{snap: testSnapshot()}
	ctx := NewContext(context.Background(), New(src))

	for _, tt := range []struct {
		give int
		want string // "" for no such type
	}{{2, "two"}, {99, ""}, {1, "one"}, {2, "two"}} {
		typ, err := TypeByID(ctx, tt.give)
		if got := typeName(typ); got != tt.want || err != nil {
			t.Errorf("TypeByID(%d) = %q, %v; want %q", tt.give, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		typeID, fieldID int
		want            string // "" for no such field
	}{{2, 10, "c"}, {1, 11, "b"}, {1, 12, ""}, {3, 10, ""}, {1, 10, "a"}} {
		f, err := FieldByID(ctx, tt.typeID, tt.fieldID)
		got := ""
		if f != nil {
			got = f.Name
		}
		if got != tt.want || err != nil {
			t.Errorf("FieldByID(%d, %d) = %q, %v; want %q", tt.typeID, tt.fieldID, got, err, tt.want)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1 per request", n)
	}
	if n := For(ctx).LookupsByID(); n != 9 {
		t.Errorf("LookupsByID = %d, want 9", n)
	}
}

func typeName(t *opportunity.Type) string {
	if t == nil {
		return ""
	}
	return t.TypeName
}

func TestSourceErrorReachesEveryKey(t *testing.T) {
	boom := errors.New("upstream down")
	src := &source{err: boom}
	l := New(src)
	ctx := NewContext(context.Background(), l)
	for _, id := range []int{1, 2, 3} {
		if typ, err := TypeByID(ctx, id); !errors.Is(err, boom) || typ != nil {
			t.Errorf("TypeByID(%d) = %+v, %v; want the source's error", id, typ, err)
		}
	}
	if f, err := FieldByID(ctx, 1, 10); !errors.Is(err, boom) || f != nil {
		t.Errorf("FieldByID = %+v, %v; want the source's error", f, err)
	}
	if _, ok := l.Freshness(); ok {
		t.Error("Freshness reports a configuration after a failure")
	}
	// The failure is kept for the request: one request makes one attempt.
	if _, err := Types(ctx); !errors.Is(err, boom) {
		t.Errorf("Types: %v", err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1", n)
	}
}

// TestConcurrentLookupsShareOneSourceCall: lookups made at once (a @defer'd
// field's, or a batched request's operations) wait for the one source call.
func TestConcurrentLookupsShareOneSourceCall(t *testing.T) {
	src := &source{snap: testSnapshot()}
	ctx := NewContext(context.Background(), New(src))
	var wg sync.WaitGroup
	ids := []int{1, 2, 3, 1, 2, 3, 1, 2}
	got := make([]*opportunity.Type, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			typ, err := TypeByID(ctx, id)
			if err != nil {
				t.Error(err)
			}
			got[i] = typ
		})
	}
	wg.Wait()
	for i, id := range ids {
		if (id == 3) != (got[i] == nil) || (got[i] != nil && got[i].TypeID != id) {
			t.Errorf("TypeByID(%d) = %+v", id, got[i])
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1", n)
	}
}

func TestHelpersOutsideARequest(t *testing.T) {
	ctx := context.Background()
	if _, err := TypeByID(ctx, 1); !errors.Is(err, errNoLoaders) {
		t.Errorf("TypeByID: %v", err)
	}
	if _, err := FieldByID(ctx, 1, 1); !errors.Is(err, errNoLoaders) {
		t.Errorf("FieldByID: %v", err)
	}
	if _, err := Types(ctx); !errors.Is(err, errNoLoaders) {
		t.Errorf("Types: %v", err)
	}
	if _, err := DefaultType(ctx); !errors.Is(err, errNoLoaders) {
		t.Errorf("DefaultType: %v", err)
	}
}

func TestEachRequestHasItsOwnLoaders(t *testing.T) {
	src := &source{snap: testSnapshot(), stale: true}
	var seen []*Loaders
	for range 2 {
		l := New(src)
		ctx := NewContext(context.Background(), l)
		def, err := DefaultType(ctx)
		if err != nil || def == nil || def.TypeID != 2 {
			t.Errorf("DefaultType = %+v, %v", def, err)
		}
		if _, err := Types(ctx); err != nil {
			t.Errorf("Types: %v", err)
		}
		if res, ok := For(ctx).Freshness(); !ok || !res.Stale || res.Age != 42*time.Second {
			t.Errorf("Freshness = %+v, %v", res, ok)
		}
		seen = append(seen, For(ctx))
	}
	if len(seen) != 2 || seen[0] == nil || seen[0] == seen[1] {
		t.Fatalf("loaders shared or missing: %v", seen)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source calls = %d, want one per request", n)
	}
}
