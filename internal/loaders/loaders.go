// Package loaders is one GraphQL request's view of the configuration: one
// consistent snapshot, so that every resolver of a request reads the same
// version, fetched (or taken from the cache) once. internal/endpoint makes
// one per executed request; resolvers reach it with For(ctx) through the
// lookups below.
//
// There are no dataloaders, and so no batch window: a dataloader batches
// lookups to save calls to a slow source, and here the request asks its
// source once, for the whole snapshot, whose indexes answer a lookup by id
// in a map read. gqlgen's executor now resolves one field after another
// (graph/sequential.go), so a window would find one key in every batch and
// make each nested lookup wait for it in turn.
package loaders

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/oppconfig/oppconfig-graphql/internal/cache"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
)

// Source gives the current configuration; *cache.Cache[*opportunity.Snapshot] is one.
type Source interface {
	Get(ctx context.Context) (cache.Result[*opportunity.Snapshot], error)
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

	lookups atomic.Int64 // TypeByID and FieldByID calls
}

// New returns the loaders of one request, which ask src on first use.
func New(src Source) *Loaders {
	return &Loaders{src: src}
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

// LookupsByID returns how many lookups by id (TypeByID, FieldByID) the
// request has made: gqlgen's resolvers make them, the fast path reads the
// snapshot itself, so a test can tell which executor answered.
func (l *Loaders) LookupsByID() int64 { return l.lookups.Load() }

// Freshness returns how fresh the request's configuration was, and false when
// the request never read it.
func (l *Loaders) Freshness() (cache.Result[*opportunity.Snapshot], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res, l.loaded && l.err == nil
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

// TypeByID returns the type with id, or nil when there is none.
func TypeByID(ctx context.Context, id int) (*opportunity.Type, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	l.lookups.Add(1)
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Type(id), nil
}

// FieldByID returns field fieldID of type typeID, or nil when there is none.
func FieldByID(ctx context.Context, typeID, fieldID int) (*opportunity.Field, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	l.lookups.Add(1)
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Field(typeID, fieldID), nil
}
