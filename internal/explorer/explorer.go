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

// Query is the GraphQL operation the page sends first, on load (operation
// name ExplorerPipelines); Operations lists it with the others.
//
//go:embed assets/pipeline.graphql
var Query string

//go:embed assets/index.html assets/explorer.css assets/explorer.js
//go:embed assets/moves.graphql assets/form.graphql assets/validate.graphql assets/live.graphql
var assets embed.FS

// Operation is one GraphQL operation the page sends: one document holding
// one operation, sent by POST with Name as its operationName.
type Operation struct {
	// Name is the operation's name, e.g. ExplorerMoves.
	Name string
	// Document is the GraphQL document, byte for byte as the page sends it.
	Document string
}

// Operations lists every operation the page sends, in the order a user meets
// them: ExplorerPipelines (Query) on load, ExplorerMoves when a stage is
// picked, ExplorerForm when the form opens or its stage changes,
// ExplorerValidate when the form is checked with the service, and
// ExplorerConfigChanges, the subscription the page holds open (over
// Server-Sent Events, a POST to the same endpoint) to redraw when the
// configuration changes. With trusted documents (PERSISTED_QUERIES_ONLY),
// list every Document in the manifest.
func Operations() []Operation {
	return []Operation{
		{"ExplorerPipelines", Query},
		{"ExplorerMoves", string(mustRead("assets/moves.graphql"))},
		{"ExplorerForm", string(mustRead("assets/form.graphql"))},
		{"ExplorerValidate", string(mustRead("assets/validate.graphql"))},
		{"ExplorerConfigChanges", string(mustRead("assets/live.graphql"))},
	}
}

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

// Handler serves the explorer page at Path, which POSTs its Operations to
// endpoint (e.g. "/query"), and its stylesheet and script at
// Path/explorer.css and Path/explorer.js. Mount it at both Path and
// Path + "/*".
func Handler(endpoint string) http.Handler {
	page := template.Must(template.ParseFS(assets, "assets/index.html"))
	var index bytes.Buffer
	// The page carries every document in an attribute of #app, escaped by
	// html/template, so the script needs no request (and no inline code) to
	// learn them.
	ops := Operations()
	data := struct{ Base, Endpoint, Query, Moves, Form, Validate, Live string }{
		Path, endpoint, ops[0].Document, ops[1].Document, ops[2].Document, ops[3].Document, ops[4].Document,
	}
	// The template and its data are fixed here, so executing it cannot fail
	// except through a bug, which Must-style panics surface at start-up.
	if err := page.Execute(&index, data); err != nil {
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
