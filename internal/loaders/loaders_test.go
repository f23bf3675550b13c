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

// testOptions is LOADER_WAIT's default.
var testOptions = Options{Wait: time.Millisecond}

func testSnapshot() *opportunity.Snapshot {
	return opportunity.NewSnapshot([]*opportunity.Type{
		{TypeID: 1, TypeName: "one", Fields: []*opportunity.Field{{ID: 10, Name: "a"}, {ID: 11, Name: "b"}}},
		{TypeID: 2, TypeName: "two", DefaultType: true, Fields: []*opportunity.Field{{ID: 10, Name: "c"}}},
	}, "v1")
}

func TestBatchFunctionsAnswerInKeyOrder(t *testing.T) {
	src := &source{snap: testSnapshot()}
	l := New(src, testOptions)
	ctx := context.Background()

	types := l.loadTypes(ctx, []int{2, 99, 1, 2})
	wantTypes := []string{"two", "", "one", "two"}
	if len(types) != len(wantTypes) {
		t.Fatalf("got %d results for 4 keys", len(types))
	}
	for i, want := range wantTypes {
		got := ""
		if types[i].Data != nil {
			got = types[i].Data.TypeName
		}
		if got != want || types[i].Error != nil {
			t.Errorf("key %d: got %q (err %v), want %q", i, got, types[i].Error, want)
		}
	}

	fields := l.loadFields(ctx, []FieldKey{{2, 10}, {1, 11}, {1, 12}, {3, 10}, {1, 10}})
	wantFields := []string{"c", "b", "", "", "a"}
	for i, want := range wantFields {
		got := ""
		if fields[i].Data != nil {
			got = fields[i].Data.Name
		}
		if got != want || fields[i].Error != nil {
			t.Errorf("field key %d: got %q (err %v), want %q", i, got, fields[i].Error, want)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1 per request", n)
	}
}

func TestSourceErrorReachesEveryKey(t *testing.T) {
	boom := errors.New("upstream down")
	src := &source{err: boom}
	l := New(src, testOptions)
	for i, r := range l.loadTypes(context.Background(), []int{1, 2, 3}) {
		if !errors.Is(r.Error, boom) || r.Data != nil {
			t.Errorf("key %d: got %+v, want the source's error", i, r)
		}
	}
	if _, ok := l.Freshness(); ok {
		t.Error("Freshness reports a configuration after a failure")
	}
	// The failure is kept for the request: one request makes one attempt.
	if _, err := Types(NewContext(context.Background(), l)); !errors.Is(err, boom) {
		t.Errorf("Types: %v", err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1", n)
	}
}

func TestConcurrentLoadsShareOneBatch(t *testing.T) {
	src := &source{snap: testSnapshot()}
	ctx := NewContext(context.Background(), New(src, Options{Wait: 5 * time.Millisecond}))
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
		l := New(src, testOptions)
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
