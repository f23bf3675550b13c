// Package explorer serves a small page that draws each opportunity type's
// pipeline from the GraphQL endpoint, as a front-end would.
package explorer

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"time"
)

// Path is where the page is served; its assets are under Path + "/".
const Path = "/explorer"

// CSP is the Content-Security-Policy of every response: scripts and styles
// from this origin only (no inline code), requests to this origin only, no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Query is the one GraphQL operation the page sends (operation name
// ExplorerPipelines). With trusted documents, list it in the manifest.
//
//go:embed assets/pipeline.graphql
var Query string

//go:embed assets/index.html assets/explorer.css assets/explorer.js
var assets embed.FS

// asset is one response body, prepared once.
type asset struct {
	contentType string
	body        []byte
	etag        string
}

func newAsset(contentType string, body []byte) asset {
	sum := sha256.Sum256(body)
	return asset{contentType: contentType, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// Handler serves the explorer page at Path, which POSTs Query to endpoint
// (e.g. "/query"), and its stylesheet and script at Path/explorer.css and
// Path/explorer.js. Mount it at both Path and Path + "/*".
func Handler(endpoint string) http.Handler {
	page := template.Must(template.ParseFS(assets, "assets/index.html"))
	var index bytes.Buffer
	// The template and its data are fixed here, so executing it cannot fail
	// except through a bug, which Must-style panics surface at start-up.
	if err := page.Execute(&index, struct{ Base, Endpoint, Query string }{Path, endpoint, Query}); err != nil {
		panic("explorer: render index.html: " + err.Error())
	}
	files := map[string]asset{
		Path:                   newAsset("text/html; charset=utf-8", index.Bytes()),
		Path + "/":             newAsset("text/html; charset=utf-8", index.Bytes()),
		Path + "/explorer.css": newAsset("text/css; charset=utf-8", mustRead("assets/explorer.css")),
		Path + "/explorer.js":  newAsset("text/javascript; charset=utf-8", mustRead("assets/explorer.js")),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", a.contentType)
		// no-cache, not a max-age: a browser revalidates by ETag, so a new
		// deployment shows at once and an unchanged one costs a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		// The names are embedded above; a missing one is a build bug.
		panic("explorer: " + err.Error())
	}
	return b
}
