package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/loaders"
)

// HTTPCache makes GET queries cacheable by browsers and CDNs: an ETag from the
// configuration version (and the schema, and the response media type), a
// max-age of what is left of the configuration's TTL, and 304 to a matching
// If-None-Match without executing anything. POST answers are never cached.
type HTTPCache struct {
	TTL time.Duration
	// Private marks answers private (no shared caches): set it when clients
	// authenticate, or a CDN would serve one client's answer to anyone.
	Private bool

	lastETag     atomic.Pointer[etagMemo]
	cacheControl atomic.Pointer[cacheControlMemo]
}

// schemaTag changes whenever the schema does, so a deploy with a new schema
// does not match ETags of the old one.
var schemaTag = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(SDL()))
	return hex.EncodeToString(sum[:4])
})

// etagMemo returns the ETag of version in media, formatted once per version
// and media type: the version changes a few times a day, requests come
// thousands of times a second. header is the ETag as a header value; like
// every memoised header value here it is shared, and net/http only reads it.
func (c *HTTPCache) etagMemo(version, media string) *etagMemo {
	kind := "j"
	if media == mediaGraphQLResponse {
		kind = "g"
	}
	if m := c.lastETag.Load(); m != nil && m.version == version && m.kind == kind {
		return m
	}
	etag := `W/"` + version + "-" + schemaTag() + "-" + kind + `"`
	m := &etagMemo{version: version, kind: kind, etag: etag, header: []string{etag}}
	c.lastETag.Store(m)
	return m
}

type etagMemo struct {
	version, kind, etag string
	header              []string
}

type cacheControlMemo struct {
	maxAge int
	header []string
}

func (c *HTTPCache) setHeaders(w http.ResponseWriter, etag *etagMemo, age time.Duration) {
	maxAge := max(int((c.TTL - age).Seconds()), 0)
	cc := c.cacheControl.Load()
	if cc == nil || cc.maxAge != maxAge { // changes once a second
		scope := "public, max-age="
		if c.Private {
			scope = "private, max-age="
		}
		cc = &cacheControlMemo{maxAge: maxAge, header: []string{scope + strconv.Itoa(maxAge)}}
		c.cacheControl.Store(cc)
	}
	h := w.Header()
	h["Etag"] = etag.header
	h["Cache-Control"] = cc.header
	if len(h["Vary"]) == 0 && !c.Private {
		h["Vary"] = varyAccept // full (len = cap): a later append copies
		return
	}
	h["Vary"] = append(h["Vary"], "Accept")
	if c.Private {
		h["Vary"] = append(h["Vary"], "Authorization, X-API-Key")
	}
}

var varyAccept = []string{"Accept"}

// notModified answers 304 when the client holds the current representation.
func (c *HTTPCache) notModified(w http.ResponseWriter, r *http.Request, media, version string, age time.Duration) bool {
	inm := r.Header.Get("If-None-Match")
	if c == nil || r.Method != http.MethodGet || inm == "" {
		return false
	}
	etag := c.etagMemo(version, media)
	for candidate := range strings.SplitSeq(inm, ",") {
		if candidate = strings.TrimSpace(candidate); candidate == etag.etag || candidate == "*" {
			c.setHeaders(w, etag, age)
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// mark sets the caching headers of an answer built from configuration
// version at age (version "" when it read none or a stale one): cacheable only
// for a GET that executed without errors on a fresh configuration.
func (c *HTTPCache) mark(w http.ResponseWriter, r *http.Request, failed bool, version string, age time.Duration, media string) {
	if c == nil || r.Method != http.MethodGet || failed || version == "" {
		w.Header()["Cache-Control"] = noStore
		return
	}
	c.setHeaders(w, c.etagMemo(version, media), age)
}

// noStore is the Cache-Control of every answer but a clean GET's, made once.
var noStore = []string{"no-store"}

// currentFunc reports the cached configuration's version and age while it is
// fresh, without fetching.
type currentFunc func() (version string, age time.Duration, ok bool)

// builtFrom returns the fresh configuration version a request's answer was
// built from, or "" when it read none or a stale one.
func builtFrom(r *http.Request) (string, time.Duration) {
	l := loaders.For(r.Context())
	if l == nil {
		return "", 0
	}
	res, ok := l.Freshness()
	if !ok || res.Stale {
		return "", 0
	}
	return res.Value.Version(), res.Age
}
