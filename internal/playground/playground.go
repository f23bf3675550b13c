// Package playground serves the GraphiQL playground: a page, and the GraphiQL,
// React and ReactDOM browser bundles it loads, embedded in the binary so that
// the page works where public CDNs are blocked.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// assetsFS holds the page's scripts and styles: init.js and playground.css,
// and vendor/, which scripts/update-graphiql.sh writes from npm. A package
// variable because go:embed needs one; it is read-only.
//
//go:embed assets
var assetsFS embed.FS

//go:embed page.html
var pageHTML string

// AssetsPath is where Handler serves the page's assets, under a version
// segment that changes with their content: AssetsPath+"<version>/init.js".
// Mount Handler on AssetsPath+"*" as well as on the page's path.
const AssetsPath = "/playground/assets/"

// Options configures the page.
type Options struct {
	Title    string // page title; "" means "GraphiQL"
	Endpoint string // GraphQL endpoint path, e.g. /query; "" means /query
	Tabs     []Tab  // operations opened on a first visit; nil means DefaultTabs()
}

// Handler serves the playground page at any path outside AssetsPath, and the
// page's assets under AssetsPath, for GET and HEAD.
//
// The page is sent with a strict Content-Security-Policy (same-origin scripts
// only, no inline script) and "Cache-Control: no-cache"; the assets with
// "Cache-Control: public, max-age=31536000, immutable", since their URLs
// change with their content, and gzipped when the client accepts it.
func Handler(opts Options) http.Handler {
	h, err := newHandler(opts)
	if err != nil {
		// Only the embedded files can fail here, and they are fixed at build
		// time and checked by the tests; an error is a build defect.
		panic(fmt.Sprintf("playground: %v", err))
	}
	return h
}

type handler struct {
	page   *template.Template
	config pageConfig
	title  string
	prefix string // AssetsPath + version + "/"
	assets map[string]*asset
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string        // strong: a prefix of the body's sha256
	gzipped     func() []byte // nil: not worth compressing; computed on first use
}

// pageConfig reaches init.js as JSON in a <script type="application/json">.
type pageConfig struct {
	Endpoint   string `json:"endpoint"`
	Tabs       []Tab  `json:"tabs"`
	StyleNonce string `json:"styleNonce"`
}

func newHandler(opts Options) (*handler, error) {
	if opts.Title == "" {
		opts.Title = "GraphiQL"
	}
	if opts.Endpoint == "" {
		opts.Endpoint = "/query"
	}
	if opts.Tabs == nil {
		opts.Tabs = DefaultTabs()
	}
	page, err := template.New("page.html").Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("parse page.html: %w", err)
	}
	assets, version, err := loadAssets(assetsFS)
	if err != nil {
		return nil, err
	}
	return &handler{
		page:   page,
		config: pageConfig{Endpoint: opts.Endpoint, Tabs: opts.Tabs},
		title:  opts.Title,
		prefix: AssetsPath + version + "/",
		assets: assets,
	}, nil
}

// loadAssets indexes every file under assets/ by its path below it, and
// derives the version segment of their URLs from all their contents.
func loadAssets(fsys fs.FS) (map[string]*asset, string, error) {
	assets := make(map[string]*asset)
	version := sha256.New()
	err := fs.WalkDir(fsys, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		rel := strings.TrimPrefix(name, "assets/")
		fmt.Fprintf(version, "%s\x00%x\x00", rel, sum) // WalkDir goes in lexical order
		a := &asset{body: body, contentType: contentType(rel), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if compressible(rel) {
			a.gzipped = sync.OnceValue(func() []byte { return gzipBytes(body) })
		}
		assets[rel] = a
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read embedded assets: %w", err)
	}
	return assets, hex.EncodeToString(version.Sum(nil))[:16], nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, AssetsPath); ok {
		h.serveAsset(w, r, rest)
		return
	}
	h.servePage(w, r)
}

// csp is the page's policy. Scripts and styles come from this origin only;
// the one exception is style elements carrying the request's nonce, which
// GraphiQL's dialogs inject (see init.js). Fonts and icons in GraphiQL's CSS
// are data: URLs. The policy names no CDN: nothing leaves the origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-%s'; connect-src 'self'; " +
	"img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text() // base32: valid in a CSP nonce and in JSON as is
	cfg := h.config
	cfg.StyleNonce = nonce
	var buf bytes.Buffer
	err := h.page.Execute(&buf, struct {
		Title  string
		Assets string
		Config pageConfig
	}{h.title, h.prefix, cfg})
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", fmt.Sprintf(csp, nonce))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	version, name, _ := strings.Cut(rest, "/")
	a, ok := h.assets[name]
	if !ok || AssetsPath+version+"/" != h.prefix {
		// A URL of an older build's assets is a 404 rather than today's file
		// under an immutable name that promises yesterday's.
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.body, a.etag
	if a.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			hdr.Set("Content-Encoding", "gzip")
			body, etag = a.gzipped(), strings.TrimSuffix(etag, `"`)+`-gz"`
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // LICENSE, VERSIONS
		return "text/plain; charset=utf-8"
	}
}

// compressible reports whether name is worth gzipping: the bundles shrink to
// about a quarter; licences are too small to bother.
func compressible(name string) bool {
	switch path.Ext(name) {
	case ".js", ".css":
		return true
	}
	return false
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // only fails for a bad level
	_, _ = zw.Write(b)                                       // a bytes.Buffer does not fail
	_ = zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip with a
// non-zero quality. (Browsers list gzip by name; "*" is not worth the rules.)
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSpace(params), "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
}
