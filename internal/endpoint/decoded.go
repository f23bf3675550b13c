package endpoint

import (
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// decodedBodies remembers what the POST bodies seen lately decoded to, by
// their bytes: a front-end sends the same few bodies again and again, and
// decoding one (decodeCommon) was a twentieth of an executed dropdown
// request's CPU time under load (2 of 36 µs, a CPU profile of the service
// with its response cache off). Only a body without variables or extensions
// is kept: its RawParams is two strings (and empty maps made afresh),
// copied out to each request, so no request can change what another reads
// (variables and extensions are maps, and the persisted-query extensions
// rewrite a request's Query).
//
// A map under a read-write lock, not an LRU library: a lookup by
// m[string(body)] does not copy the body, where a generic cache's Get(key
// string) would allocate one per request. When a new body would pass either
// bound, the map starts over: a client sending distinct bodies costs the
// others their next decodings, nothing more.
type decodedBodies struct {
	mu    sync.RWMutex
	m     map[string]decodedBody
	bytes int // of the keys and queries held
}

// decodedBody is what a body decoded to: its two strings, and whether it
// gave variables or extensions as an empty object, which decodes to an
// empty map, not nil (FuzzDecodeCommon holds the two decodings equal).
type decodedBody struct {
	query, operationName            string
	emptyVariables, emptyExtensions bool
}

// Bounds of decodedBodies: as many bodies as gqlgen's query cache keeps
// documents (graph's queryCacheSize), within 1 MiB of keys and queries,
// room for a thousand bodies of half a KiB (the benchmark's queries send
// 0.1 to 0.7 KiB); a body over 16 KiB (maxRawKey, the largest the response
// cache keys by its bytes) is decoded every time.
const (
	maxDecodedBodies = 1000
	maxDecodedBytes  = 1 << 20
)

// get returns what body decoded to, as a request's own RawParams.
func (d *decodedBodies) get(body []byte) (*graphql.RawParams, bool) {
	d.mu.RLock()
	b, ok := d.m[string(body)]
	d.mu.RUnlock()
	if !ok {
		return nil, false
	}
	p := &graphql.RawParams{Query: b.query, OperationName: b.operationName}
	if b.emptyVariables {
		p.Variables = map[string]any{}
	}
	if b.emptyExtensions {
		p.Extensions = map[string]any{}
	}
	return p, true
}

// put remembers what body decoded to, if it may be kept.
func (d *decodedBodies) put(body []byte, p *graphql.RawParams) {
	size := len(body) + len(p.Query) + len(p.OperationName)
	if len(p.Variables) > 0 || len(p.Extensions) > 0 || len(body) > maxRawKey {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.m[string(body)]; ok {
		return
	}
	if d.m == nil || len(d.m) >= maxDecodedBodies || d.bytes+size > maxDecodedBytes {
		d.m, d.bytes = make(map[string]decodedBody), 0
	}
	d.m[string(body)] = decodedBody{query: p.Query, operationName: p.OperationName,
		emptyVariables: p.Variables != nil, emptyExtensions: p.Extensions != nil}
	d.bytes += size
}
