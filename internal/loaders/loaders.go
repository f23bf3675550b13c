// Package loaders is one GraphQL request's view of the configuration: one
// consistent snapshot, so that every resolver of a request reads the same
// version, fetched (or taken from the cache) once. internal/endpoint makes
// one per executed request; resolvers reach it with For(ctx) through the
// lookups below.
//
// Lookups by id go through per-request dataloaders (graph-gophers/dataloader,
// the project's stack), each key answered from the request's snapshot and
// kept for the rest of the request, with batches of one and so no batch
// window: the request asks its source once, for the whole snapshot, whose
// indexes answer a lookup in a map read, and gqlgen's executor resolves one
// field after another (graph/sequential.go), so a window would find one key
// in every batch and make each nested lookup wait for it in turn (1 ms each
// with the former LOADER_WAIT).
package loaders

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"

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
	batches atomic.Int64 // dataloader batches: one per distinct key

	// The dataloaders, made on first use (most requests never look
	// anything up by id, and making them per request would cost every
	// request their allocations).
	typesOnce, fieldsOnce sync.Once
	types                 *dataloader.Loader[int, *opportunity.Type]
	fields                *dataloader.Loader[fieldKey, *opportunity.Field]
}

// fieldKey is a field of a type.
type fieldKey struct{ typeID, fieldID int }

// New returns the loaders of one request, which ask src on first use.
func New(src Source) *Loaders {
	return &Loaders{src: src}
}

// typeLoader returns the request's dataloader of types, made on first use:
// batches of one key, so no window, and an input channel of one, not the
// default thousand, since no batch holds more.
func (l *Loaders) typeLoader() *dataloader.Loader[int, *opportunity.Type] {
	l.typesOnce.Do(func() {
		l.types = dataloader.NewBatchedLoader(l.loadTypes, dataloader.WithBatchCapacity[int, *opportunity.Type](1), dataloader.WithInputCapacity[int, *opportunity.Type](1))
	})
	return l.types
}

// fieldLoader is typeLoader for fields.
func (l *Loaders) fieldLoader() *dataloader.Loader[fieldKey, *opportunity.Field] {
	l.fieldsOnce.Do(func() {
		l.fields = dataloader.NewBatchedLoader(l.loadFields, dataloader.WithBatchCapacity[fieldKey, *opportunity.Field](1), dataloader.WithInputCapacity[fieldKey, *opportunity.Field](1))
	})
	return l.fields
}

// loadTypes answers each id from the snapshot, in key order.
func (l *Loaders) loadTypes(ctx context.Context, ids []int) []*dataloader.Result[*opportunity.Type] {
	l.batches.Add(1)
	snap, err := l.Snapshot(ctx)
	out := make([]*dataloader.Result[*opportunity.Type], len(ids))
	for i, id := range ids {
		if err != nil {
			out[i] = &dataloader.Result[*opportunity.Type]{Error: err}
			continue
		}
		out[i] = &dataloader.Result[*opportunity.Type]{Data: snap.Type(id)}
	}
	return out
}

// loadFields answers each key from the snapshot, in key order.
func (l *Loaders) loadFields(ctx context.Context, keys []fieldKey) []*dataloader.Result[*opportunity.Field] {
	l.batches.Add(1)
	snap, err := l.Snapshot(ctx)
	out := make([]*dataloader.Result[*opportunity.Field], len(keys))
	for i, k := range keys {
		if err != nil {
			out[i] = &dataloader.Result[*opportunity.Field]{Error: err}
			continue
		}
		out[i] = &dataloader.Result[*opportunity.Field]{Data: snap.Field(k.typeID, k.fieldID)}
	}
	return out
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

// Batches returns how many dataloader batches the request has run: one per
// distinct key looked up, each on a goroutine of the dataloader's.
func (l *Loaders) Batches() int64 { return l.batches.Load() }

// Freshness returns how fresh the request's configuration was, and false when
// the request never read it.
func (l *Loaders) Freshness() (cache.Result[*opportunity.Snapshot], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res, l.loaded && l.err == nil
}

// FreshnessExtension is the key under a response's extensions that tells a
// client it was served a stale configuration.
const FreshnessExtension = "opportunityConfig"

// StaleExtension is the response extension that marks an answer built from
// configuration version when it was a stale copy of age (kept because the
// upstream is failing, RFC 5861 stale-if-error): what graph's executor adds
// to an answer it builds, and what internal/endpoint adds to a stored one.
func StaleExtension(version string, age time.Duration) map[string]any {
	return map[string]any{FreshnessExtension: map[string]any{
		"stale":      true,
		"ageSeconds": int64(math.Floor(age.Seconds())),
		"version":    version,
	}}
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
	return l.typeLoader().Load(ctx, id)()
}

// TypesByID returns the type of each id, in key order, nil where there is
// none: a federation gateway's batch of OpportunityType entities
// (Query._entities). It reads the request's snapshot once for the whole
// batch, a map read per id, rather than one dataloader batch per key: a batch
// holds up to as many keys as the request could carry.
func TypesByID(ctx context.Context, ids []int) ([]*opportunity.Type, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	l.lookups.Add(int64(len(ids)))
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*opportunity.Type, len(ids))
	for i, id := range ids {
		out[i] = snap.Type(id)
	}
	return out, nil
}

// FieldByID returns field fieldID of type typeID, or nil when there is none.
func FieldByID(ctx context.Context, typeID, fieldID int) (*opportunity.Field, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	l.lookups.Add(1)
	return l.fieldLoader().Load(ctx, fieldKey{typeID, fieldID})()
}

// FormSchema returns type typeID's form schema to enter stage stageID (to
// save, when nil), built once per snapshot (opportunity.Snapshot.Rules).
func FormSchema(ctx context.Context, typeID int, stageID *int) (*opportunity.Form, error) {
	rules, err := rulesFor(ctx)
	if err != nil {
		return nil, err
	}
	return rules.Form(typeID, stageID)
}

// ValidateOpportunity checks values against type typeID's fields and, when
// stageID is not nil, that stage's required fields. Nil entries (which
// GraphQL's non-null list elements rule out) are skipped.
func ValidateOpportunity(ctx context.Context, typeID int, stageID *int, values []*opportunity.FieldValue) (*opportunity.Validation, error) {
	rules, err := rulesFor(ctx)
	if err != nil {
		return nil, err
	}
	in := make([]opportunity.FieldValue, 0, len(values))
	for _, v := range values {
		if v != nil {
			in = append(in, *v)
		}
	}
	return rules.Validate(typeID, stageID, in)
}

// rulesFor returns the request's snapshot's rules.
func rulesFor(ctx context.Context) (*opportunity.Validator, error) {
	l := For(ctx)
	if l == nil {
		return nil, errNoLoaders
	}
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	rules, _ := snap.Rules()
	return rules, nil
}
