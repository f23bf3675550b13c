package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
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
}

// schemaTag changes whenever the schema does, so a deploy with a new schema
// does not match ETags of the old one.
var schemaTag = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(SDL()))
	return hex.EncodeToString(sum[:4])
})

func (c *HTTPCache) etag(version, media string) string {
	kind := "j"
	if media == mediaGraphQLResponse {
		kind = "g"
	}
	return fmt.Sprintf(`W/"%s-%s-%s"`, version, schemaTag(), kind)
}

func (c *HTTPCache) setHeaders(w http.ResponseWriter, etag string, age time.Duration) {
	scope := "public"
	if c.Private {
		scope = "private"
	}
	maxAge := max(int((c.TTL - age).Seconds()), 0)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", fmt.Sprintf("%s, max-age=%d", scope, maxAge))
	w.Header().Add("Vary", "Accept")
	if c.Private {
		w.Header().Add("Vary", "Authorization, X-API-Key")
	}
}

// notModified answers 304 when the client holds the current representation.
func (c *HTTPCache) notModified(w http.ResponseWriter, r *http.Request, media string, current currentFunc) bool {
	inm := r.Header.Get("If-None-Match")
	if c == nil || r.Method != http.MethodGet || inm == "" {
		return false
	}
	version, age, ok := current()
	if !ok {
		return false
	}
	etag := c.etag(version, media)
	for _, candidate := range strings.Split(inm, ",") {
		if candidate = strings.TrimSpace(candidate); candidate == etag || candidate == "*" {
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
		w.Header().Set("Cache-Control", "no-store")
		return
	}
	c.setHeaders(w, c.etag(version, media), age)
}

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
