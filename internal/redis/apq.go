package redis

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// apqTTL is how long a registration stays in Redis after it was last made.
// The protocol heals a lost one (the client sends the document again on
// PersistedQueryNotFound), so this bounds what Redis keeps of documents no
// client uses any more, not what clients may do.
const apqTTL = 24 * time.Hour

// APQ holds automatic persisted queries for every replica: a document
// registered on one runs on all. It is gqlgen's graphql.Cache[string]; the
// replica's own LRU (APQ_CACHE_SIZE) answers first, so a hash in use costs
// Redis nothing, and alone serves while Redis is down.
type APQ struct {
	c     *Client
	local *lru.Cache[string, string]
}

// NewAPQ returns the shared APQ cache with a local LRU of size documents.
func (c *Client) NewAPQ(size int) (*APQ, error) {
	local, err := lru.New[string, string](size)
	if err != nil {
		return nil, err
	}
	return &APQ{c: c, local: local}, nil
}

// Get returns the document registered under hash.
func (a *APQ) Get(ctx context.Context, hash string) (string, bool) {
	if doc, ok := a.local.Get(hash); ok {
		return doc, true
	}
	if !a.c.Up() {
		return "", false
	}
	doc, err := a.c.rdb.Get(ctx, a.c.key("apq", hash)).Result()
	if err != nil {
		a.c.failed(ctx, "apq", err)
		return "", false
	}
	a.local.Add(hash, doc)
	return doc, true
}

// Add registers doc under hash, here and for every replica.
func (a *APQ) Add(ctx context.Context, hash, doc string) {
	a.local.Add(hash, doc)
	if !a.c.Up() {
		return
	}
	if err := a.c.rdb.Set(ctx, a.c.key("apq", hash), doc, apqTTL).Err(); err != nil {
		a.c.failed(ctx, "apq", err)
	}
}
