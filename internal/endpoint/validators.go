package endpoint

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// validators are the HTTP caching of GET queries, for browsers and CDNs: an
// ETag from the configuration version (and the schema, and the response media
// type), a max-age of what is left of the configuration's TTL, and 304 to a
// matching If-None-Match without executing anything. POST answers are never
// cached.
type validators struct {
	ttl       time.Duration
	private   bool
	schemaTag string

	lastETag     atomic.Pointer[etagMemo]
	cacheControl atomic.Pointer[cacheControlMemo]
}

// etag returns the ETag of version in media, formatted once per version and
// media type: the version changes a few times a day, requests come thousands
// of times a second. header is the ETag as a header value; like every
// memoised header value here it is shared, and net/http only reads it.
func (v *validators) etag(version, media string) *etagMemo {
	kind := "j"
	if media == mediaGraphQLResponse {
		kind = "g"
	}
	if m := v.lastETag.Load(); m != nil && m.version == version && m.kind == kind {
		return m
	}
	etag := `W/"` + version + "-" + v.schemaTag + "-" + kind + `"`
	m := &etagMemo{version: version, kind: kind, etag: etag, header: []string{etag}}
	v.lastETag.Store(m)
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

func (v *validators) setHeaders(w http.ResponseWriter, etag *etagMemo, age time.Duration) {
	maxAge := max(int((v.ttl - age).Seconds()), 0)
	cc := v.cacheControl.Load()
	if cc == nil || cc.maxAge != maxAge { // changes once a second
		scope := "public, max-age="
		if v.private {
			scope = "private, max-age="
		}
		cc = &cacheControlMemo{maxAge: maxAge, header: []string{scope + strconv.Itoa(maxAge)}}
		v.cacheControl.Store(cc)
	}
	h := w.Header()
	h["Etag"] = etag.header
	h["Cache-Control"] = cc.header
	if len(h["Vary"]) == 0 && !v.private {
		h["Vary"] = varyAccept // full (len = cap): a later append copies
		return
	}
	h["Vary"] = append(h["Vary"], "Accept")
	if v.private {
		h["Vary"] = append(h["Vary"], "Authorization, X-API-Key")
	}
}

var varyAccept = []string{"Accept"}

// notModified answers 304 when the client holds the current representation.
func (v *validators) notModified(w http.ResponseWriter, r *http.Request, media, version string, age time.Duration) bool {
	inm := headerValue(r.Header, "If-None-Match")
	if r.Method != http.MethodGet || inm == "" {
		return false
	}
	etag := v.etag(version, media)
	for candidate := range strings.SplitSeq(inm, ",") {
		if candidate = strings.TrimSpace(candidate); candidate == etag.etag || candidate == "*" {
			v.setHeaders(w, etag, age)
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// mark sets the caching headers of an answer built from configuration
// version at age (version "" when it read none or a stale one): cacheable only
// for a GET that executed without errors on a fresh configuration.
func (v *validators) mark(w http.ResponseWriter, r *http.Request, failed bool, version string, age time.Duration, media string) {
	if r.Method != http.MethodGet || failed || version == "" {
		w.Header()["Cache-Control"] = noStore
		return
	}
	v.setHeaders(w, v.etag(version, media), age)
}

// noStore is the Cache-Control of every answer but a clean GET's, made once.
var noStore = []string{"no-store"}
