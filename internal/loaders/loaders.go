// Package loaders is one GraphQL request's view of the configuration: its
// dataloaders over one consistent snapshot, so that every resolver of a
// request reads the same version, fetched (or taken from the cache) once.
// internal/endpoint makes one per executed request; resolvers reach it with
// For(ctx) through the lookups below.
package loaders

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// Source gives the current configuration; *cache.Cache[*opportunity.Snapshot] is one.
type Source interface {
	Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error)
}

// FieldKey names a field by its type and its id; field ids are per type.
type FieldKey struct {
	TypeID, FieldID int
}

// Loaders is one request's view of the configuration.
type Loaders struct {
	src Source

	// mu is held across the first Get, so concurrent resolvers wait for it
	// rather than each asking the source.
	mu     sync.Mutex
	loaded bool
	res    cache.Result[*opportunity.Snapshot]
	err    error

	types   func() *dataloader.Loader[int, *opportunity.Type]
	fields  func() *dataloader.Loader[FieldKey, *opportunity.Field]
	onBatch func(loader string, size int)
}

// Options tunes the loaders.
type Options struct {
	// Wait is the batch window (LOADER_WAIT): 1ms by default, not the
	// library's 16ms, since a batch reads an in-memory snapshot.
	Wait    time.Duration
	OnBatch func(loader string, size int) // observes each batch ("type" or "field"); may be nil
}

// New returns the loaders of one request. opts.Wait must be positive; the
// endpoint checks it once, at construction.
func New(src Source, opts Options) *Loaders {
	// The dataloaders are made on first use: many requests (cache hits,
	// dropdowns, refusals) never look anything up by id.
	l := &Loaders{src: src, onBatch: opts.OnBatch}
	l.types = sync.OnceValue(func() *dataloader.Loader[int, *opportunity.Type] {
		return dataloader.NewBatchedLoader(l.loadTypes, dataloader.WithWait[int, *opportunity.Type](opts.Wait))
	})
	l.fields = sync.OnceValue(func() *dataloader.Loader[FieldKey, *opportunity.Field] {
		return dataloader.NewBatchedLoader(l.loadFields, dataloader.WithWait[FieldKey, *opportunity.Field](opts.Wait))
	})
	return l
}

type ctxKey struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the request's loaders, or nil outside a request the endpoint executes.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

var errNoLoaders = errors.New("loaders: the context has no request loaders (only internal/endpoint's requests do)")

// Snapshot returns the request's configuration, asking the source on first use
// only. A failure is kept for the rest of the request too, so one request makes
// at most one attempt, whatever its shape.
func (l *Loaders) Snapshot(ctx context.Context) (*opportunity.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		l.res, l.err = l.src.Get(ctx)
		l.loaded = true
	}
	return l.res.Value, l.err
}

// Freshness returns how fresh the request's configuration was, and false when
// the request never read it.
func (l *Loaders) Freshness() (cache.Result[*opportunity.Snapshot], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res, l.loaded && l.err == nil
}

func (l *Loaders) loadTypes(ctx context.Context, ids []int) []*dataloader.Result[*opportunity.Type] {
	if l.onBatch != nil {
		l.onBatch("type", len(ids))
	}
	out := make([]*dataloader.Result[*opportunity.Type], len(ids))
	snap, err := l.Snapshot(ctx)
	for i, id := range ids {
		if err != nil {
			out[i] = &dataloader.Result[*opportunity.Type]{Error: err}
			continue
		}
		out[i] = &dataloader.Result[*opportunity.Type]{Data: snap.Type(id)}
	}
	return out
}

func (l *Loaders) loadFields(ctx context.Context, keys []FieldKey) []*dataloader.Result[*opportunity.Field] {
	if l.onBatch != nil {
		l.onBatch("field", len(keys))
	}
	out := make([]*dataloader.Result[*opportunity.Field], len(keys))
	snap, err := l.Snapshot(ctx)
	for i, k := range keys {
		if err != nil {
			out[i] = &dataloader.Result[*opportunity.Field]{Error: err}
			continue
		}
		out[i] = &dataloader.Result[*opportunity.Field]{Data: snap.Field(k.TypeID, k.FieldID)}
	}
	return out
}

// Types returns every type, in upstream order.
func Types(ctx context.Context) ([]*opportunity.Type, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Types(), nil
}

// DefaultType returns the default type, or nil when none is marked.
func DefaultType(ctx context.Context) (*opportunity.Type, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Default(), nil
}

// TypeByID returns the type with id, or nil when there is none; lookups made
// together by one request are answered in one batch.
func TypeByID(ctx context.Context, id int) (*opportunity.Type, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	return l.types().Load(ctx, id)()
}

// FieldByID returns field fieldID of type typeID, or nil when there is none.
func FieldByID(ctx context.Context, typeID, fieldID int) (*opportunity.Field, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	return l.fields().Load(ctx, FieldKey{TypeID: typeID, FieldID: fieldID})()
}
