// Package respcache keeps encoded GraphQL responses, bounded by their total
// size in bytes, least recently used first out.
//
// Written here rather than taken from a library: the LRUs at hand
// (hashicorp/golang-lru, which gqlgen already brings) bound entries by count,
// and a response can be 100 bytes or 3 MiB; this one is a map and a list.
package respcache

import (
	"cmp"
	"container/list"
	"slices"
	"sync"
	"sync/atomic"
)

// Cache is safe for concurrent use. Entries belong to one configuration
// version: storing under a new version drops everything older at once.
type Cache struct {
	maxBytes int

	mu      sync.Mutex
	version string
	bytes   int
	order   *list.List // front: most recently used
	entries map[string]*list.Element
	hits    uint64
	misses  uint64
}

type entry struct {
	key   string
	value Entry
}

// Entry is one stored answer: the encoded body and the operation it answered
// (the name is resolved by execution, so a hit can be logged and counted
// under it without parsing).
type Entry struct {
	Body []byte
	// ContentLength is Body's length as a Content-Length header value,
	// made once when the answer is stored rather than per answer; shared
	// like Body (net/http only reads header values). nil: not made.
	ContentLength []string
	Operation     string
	// Replay, when set, is how to ask for this answer again, shared by the
	// entries (normalised key, request bytes) that hold the same answer;
	// it counts their hits, so that a new version's answers can be made in
	// advance for the questions asked most.
	Replay *Replay
}

// Replay is a question to ask again on a new version: the response key and
// request bytes it was stored under, and what the caller needs to execute it.
type Replay struct {
	Key, Raw string
	Request  any // the caller's own description of the request
	hits     atomic.Uint64
}

// New returns a cache holding at most maxBytes of values.
func New(maxBytes int) *Cache {
	return &Cache{maxBytes: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the entry stored under key for version. Its Body is shared:
// callers must not modify it.
func (c *Cache) Get(version, key string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		c.misses++
		return Entry{}, false
	}
	return c.get(c.entries[key])
}

// GetBytes is Get for a key held in a byte slice (a request body), looked up
// without copying it into a string.
func (c *Cache) GetBytes(version string, key []byte) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		c.misses++
		return Entry{}, false
	}
	return c.get(c.entries[string(key)])
}

func (c *Cache) get(el *list.Element) (Entry, bool) {
	if el == nil {
		c.misses++
		return Entry{}, false
	}
	c.hits++
	c.order.MoveToFront(el)
	v := el.Value.(*entry).value
	if v.Replay != nil {
		v.Replay.hits.Add(1)
	}
	return v, true
}

// Put stores value under key for version; a body larger than the whole
// budget is not stored. The first Put of a new version drops the old
// version's entries and returns the replays of the old version's most asked
// answers (at most Hot, most hits first), for the caller to make again for
// the new version.
func (c *Cache) Put(version, key string, value Entry) (hot []*Replay) {
	if size(key, value) > c.maxBytes {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		hot = c.hottest()
		c.order.Init()
		clear(c.entries)
		c.bytes, c.version = 0, version
	}
	if el, ok := c.entries[key]; ok {
		c.bytes -= size(key, el.Value.(*entry).value)
		c.order.Remove(el)
		delete(c.entries, key)
	}
	c.entries[key] = c.order.PushFront(&entry{key: key, value: value})
	c.bytes += size(key, value)
	for c.bytes > c.maxBytes {
		last := c.order.Back()
		e := last.Value.(*entry)
		c.order.Remove(last)
		delete(c.entries, e.key)
		c.bytes -= size(e.key, e.value)
	}
	return hot
}

// Hot is how many answers a version change hands back to be made again: the
// front-ends' everyday questions are a few dozen.
const Hot = 64

// hottest returns the replays of the current entries with hits, most first.
func (c *Cache) hottest() []*Replay {
	seen := map[*Replay]bool{}
	var out []*Replay
	for _, el := range c.entries {
		r := el.Value.(*entry).value.Replay
		if r != nil && !seen[r] && r.hits.Load() > 0 {
			seen[r] = true
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Replay) int { return cmp.Compare(b.hits.Load(), a.hits.Load()) })
	if len(out) > Hot {
		out = out[:Hot]
	}
	return out
}

// Stats returns the number of entries, their bytes, hits and misses.
func (c *Cache) Stats() (entries, bytes int, hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes, c.hits, c.misses
}

// size is what an entry counts against the budget: its key too, since a key
// can be a whole request body. Keys that share one answer (a request's raw
// bytes and its normalised key) each count its body, so the budget errs on
// the safe side.
func size(key string, e Entry) int { return len(key) + len(e.Body) }
