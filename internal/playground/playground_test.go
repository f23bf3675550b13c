package playground_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/playground"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// newServer mounts the handler the way internal/server does: the page at /
// and the assets under playground.AssetsPath.
func newServer(t *testing.T, opts playground.Options) *httptest.Server {
	t.Helper()
	h := playground.Handler(opts)
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/", h)
	r.Method(http.MethodGet, playground.AssetsPath+"*", h)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path without the transport's transparent gzip, so that tests
// see exactly what the server sent.
func get(t *testing.T, srv *httptest.Server, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, body := testkit.Send(t, client, req)
	return resp, []byte(body)
}

var (
	scriptRE = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	urlRE    = regexp.MustCompile(`(?i)\b(?:src|href)="([^"]*)"`)
	configRE = regexp.MustCompile(`(?s)<script type="application/json" id="playground-config">(.*?)</script>`)
)

type pageConfig struct {
	Endpoint   string           `json:"endpoint"`
	Tabs       []playground.Tab `json:"tabs"`
	StyleNonce string           `json:"styleNonce"`
}

func parseConfig(t *testing.T, page []byte) pageConfig {
	t.Helper()
	m := configRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no playground-config block in the page:\n%s", page)
	}
	var cfg pageConfig
	if err := json.Unmarshal(m[1], &cfg); err != nil {
		t.Fatalf("playground-config is not JSON: %v\n%s", err, m[1])
	}
	return cfg
}

// assetURLs returns the same-origin URLs the page loads.
func assetURLs(page []byte) []string {
	var urls []string
	for _, m := range urlRE.FindAllSubmatch(page, -1) {
		if u := html.UnescapeString(string(m[1])); !strings.HasPrefix(u, "data:") {
			urls = append(urls, u)
		}
	}
	return urls
}

func TestPageHeaders(t *testing.T) {
	srv := newServer(t, playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
	resp, page := get(t, srv, "/", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}
	cspRE := regexp.MustCompile(`^default-src 'none'; script-src 'self'; style-src 'self' 'nonce-([A-Za-z0-9+/=_-]{16,})'; ` +
		`connect-src 'self'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$`)
	tests := []struct {
		header string
		want   *regexp.Regexp
	}{
		{"Content-Type", regexp.MustCompile(`^text/html; charset=utf-8$`)},
		{"Content-Security-Policy", cspRE},
		{"X-Content-Type-Options", regexp.MustCompile(`^nosniff$`)},
		{"Referrer-Policy", regexp.MustCompile(`^no-referrer$`)},
		{"Cache-Control", regexp.MustCompile(`^no-cache$`)},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := resp.Header.Get(tt.header); !tt.want.MatchString(got) {
				t.Errorf("%s = %q, want match for %s", tt.header, got, tt.want)
			}
		})
	}

	t.Run("style nonce reaches init.js and changes per request", func(t *testing.T) {
		m := cspRE.FindStringSubmatch(resp.Header.Get("Content-Security-Policy"))
		if m == nil {
			t.Fatal("no nonce in the CSP")
		}
		if got := parseConfig(t, page).StyleNonce; got != m[1] {
			t.Errorf("styleNonce = %q, want the CSP's %q", got, m[1])
		}
		resp2, _ := get(t, srv, "/", nil)
		if resp2.Header.Get("Content-Security-Policy") == resp.Header.Get("Content-Security-Policy") {
			t.Error("two requests got the same nonce")
		}
	})
}

func TestPageHasNoInlineCode(t *testing.T) {
	srv := newServer(t, playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
	_, page := get(t, srv, "/", nil)

	scripts := scriptRE.FindAllSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Fatal("no <script> elements")
	}
	for _, s := range scripts {
		attrs, body := string(s[1]), strings.TrimSpace(string(s[2]))
		switch {
		case strings.Contains(attrs, `type="application/json"`):
			if !json.Valid([]byte(body)) {
				t.Errorf("JSON block is not JSON: %s", body)
			}
		case strings.Contains(attrs, "src="):
			if body != "" {
				t.Errorf("<script%s> has inline code %q", attrs, body)
			}
		default:
			t.Errorf("inline script: <script%s>%s</script>", attrs, body)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if loc := bad.FindIndex(page); loc != nil {
			t.Errorf("page has inline code or style %q", page[loc[0]:min(loc[1]+40, len(page))])
		}
	}
	for _, u := range assetURLs(page) {
		if !strings.HasPrefix(u, playground.AssetsPath) {
			t.Errorf("page loads %q, not from %s", u, playground.AssetsPath)
		}
	}
}

func TestPageAssets(t *testing.T) {
	srv := newServer(t, playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
	_, page := get(t, srv, "/", nil)
	urls := assetURLs(page)
	for _, want := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js", "init.js"} {
		if !slices.ContainsFunc(urls, func(u string) bool { return path.Base(u) == want }) {
			t.Errorf("page does not load %s; loads %q", want, urls)
		}
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

	for _, u := range urls {
		t.Run(path.Base(u), func(t *testing.T) {
			resp, body := get(t, srv, u, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", u, resp.StatusCode)
			}
			headers := []struct{ name, want string }{
				{"Content-Type", wantType[path.Ext(u)]},
				{"Cache-Control", "public, max-age=31536000, immutable"},
				{"X-Content-Type-Options", "nosniff"},
				{"Content-Encoding", ""},
			}
			for _, h := range headers {
				if got := resp.Header.Get(h.name); got != h.want {
					t.Errorf("%s = %q, want %q", h.name, got, h.want)
				}
			}
			if len(body) == 0 {
				t.Fatal("empty body")
			}

			zresp, zbody := get(t, srv, u, http.Header{"Accept-Encoding": {"gzip, deflate, br"}})
			if got := zresp.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("with Accept-Encoding: gzip, Content-Encoding = %q", got)
			}
			zr, err := gzip.NewReader(bytes.NewReader(zbody))
			if err != nil {
				t.Fatal(err)
			}
			if unzipped, err := io.ReadAll(zr); err != nil || !bytes.Equal(unzipped, body) {
				t.Errorf("gzipped body differs from the plain one (err %v)", err)
			}
			if zresp.Header.Get("ETag") == resp.Header.Get("ETag") {
				t.Error("gzipped and plain bodies share an ETag")
			}

			cresp, _ := get(t, srv, u, http.Header{"If-None-Match": {resp.Header.Get("ETag")}})
			if cresp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: ETag = %d, want 304", cresp.StatusCode)
			}
		})
	}
}

// TestVendoredFiles checks what scripts/update-graphiql.sh wrote: each
// package's LICENSE, and every file matching the sha256 in VERSIONS.
func TestVendoredFiles(t *testing.T) {
	srv := newServer(t, playground.Options{})
	_, page := get(t, srv, "/", nil)
	base := strings.TrimSuffix(assetURLs(page)[0], "vendor/graphiql/graphiql.min.css")
	if !strings.HasPrefix(base, playground.AssetsPath) || !strings.HasSuffix(base, "/") {
		t.Fatalf("unexpected first asset %q", assetURLs(page)[0])
	}

	resp, versions := get(t, srv, base+"vendor/VERSIONS", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("VERSIONS = %d", resp.StatusCode)
	}
	packages := map[string]string{} // name → package@version
	sc := bufio.NewScanner(bytes.NewReader(versions))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("VERSIONS line %q: want package@version path sha256", line)
		}
		pkg, file, sum := f[0], f[1], f[2]
		name, _, _ := strings.Cut(strings.TrimPrefix(pkg, "@"), "@")
		packages[name] = pkg
		t.Run(file, func(t *testing.T) {
			resp, body := get(t, srv, base+"vendor/"+file, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d", file, resp.StatusCode)
			}
			if got := sha256.Sum256(body); hex.EncodeToString(got[:]) != sum {
				t.Errorf("sha256 = %x, VERSIONS says %s: run scripts/update-graphiql.sh", got, sum)
			}
			if path.Base(file) == "LICENSE" {
				if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("LICENSE Content-Type = %q", ct)
				}
				if !bytes.HasPrefix(body, []byte("MIT License")) {
					t.Errorf("LICENSE of %s is not the MIT licence: %.40q", pkg, body)
				}
			}
		})
	}
	for _, name := range []string{"graphiql", "react", "react-dom"} {
		if packages[name] == "" {
			t.Errorf("VERSIONS lists no %s", name)
			continue
		}
		if !strings.Contains(string(versions), packages[name]+"  "+name+"/LICENSE ") {
			t.Errorf("VERSIONS lists no LICENSE for %s", packages[name])
		}
	}
	if r, d := packages["react"][len("react@"):], packages["react-dom"][len("react-dom@"):]; r != d {
		t.Errorf("react@%s and react-dom@%s differ", r, d)
	}
}

// TestSubscriptionFetcher checks what lets GraphiQL run a subscription tab:
// init.js gives createFetcher a subscriptionUrl on the page's own origin
// (ws: or wss:, as the page's scheme), and the vendored bundle carries the
// graphql-ws client that URL needs (graphql-transport-ws, the protocol the
// service's WebSocket speaks); a bundle without it would fail only when a
// subscription runs. The Chromium test runs one.
func TestSubscriptionFetcher(t *testing.T) {
	srv := newServer(t, playground.Options{})
	_, page := get(t, srv, "/", nil)
	urls := assetURLs(page)
	base := strings.TrimSuffix(urls[len(urls)-1], "init.js")
	_, initJS := get(t, srv, base+"init.js", nil)
	for _, want := range []string{"subscriptionUrl: ws.href", `"wss:" : "ws:"`, "new URL(config.endpoint, window.location.href)"} {
		if !bytes.Contains(initJS, []byte(want)) {
			t.Errorf("init.js lacks %q", want)
		}
	}
	_, bundle := get(t, srv, base+"vendor/graphiql/graphiql.min.js", nil)
	for _, want := range []string{"subscriptionUrl", "graphql-transport-ws", "connection_init"} {
		if !bytes.Contains(bundle, []byte(want)) {
			t.Errorf("graphiql.min.js lacks %q: the bundle no longer carries graphql-ws; give createFetcher a wsClient or an SSE fetcher", want)
		}
	}
}

func TestDefaultTabs(t *testing.T) {
	srv := newServer(t, playground.Options{Title: "Opportunity configuration", Endpoint: "/query"})
	_, page := get(t, srv, "/", nil)
	cfg := parseConfig(t, page)
	if !slices.Equal(cfg.Tabs, playground.DefaultTabs()) {
		t.Fatalf("page tabs = %+v, want DefaultTabs()", cfg.Tabs)
	}

	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	tests := []struct {
		name      string
		operation string
		contains  []string
		variables map[string]any
	}{
		{"list types", "OpportunityTypes", []string{"opportunityTypes", "typeId", "typeName", "defaultType"}, nil},
		{"pipeline", "Pipeline", []string{"$typeId: Int! = 1001", "allStages", "depth", "possibility", "path", "children"}, map[string]any{"typeId": 1001.0}},
		{"field lookup", "FieldLookup", []string{"opportunityType(typeId: 1001)", "field(id: 104)", "options"}, nil},
		{"default type's fields", "DefaultTypeFields", []string{"defaultOpportunityType", "fields"}, nil},
		{"moves", "Moves", []string{"$typeId: Int! = 1001", "$from: Int! = 2002", "moves(from: $from)", "kind", "allowed", "refusal", "requiredFields", "customerFields"},
			map[string]any{"typeId": 1001.0, "from": 2002.0}},
		{"form schema", "FormSchema", []string{"save: formSchema\n", "enter: formSchema(stageId: 2003)"}, map[string]any{"typeId": 1001.0}},
		{"validate opportunity", "ValidateOpportunity", []string{"validateOpportunity(typeId: $typeId, stageId: $stageId, values: $values)", "valid", "errors", "code", "message"},
			map[string]any{"typeId": 1001.0, "stageId": 2003.0, "values": []any{
				map[string]any{"fieldId": 101.0, "value": "签"},
				map[string]any{"fieldId": 102.0, "value": "12.345"},
				map[string]any{"fieldId": 104.0, "value": "10401"},
			}}},
		{"config changes", "ConfigChanges", []string{"subscription ConfigChanges", "opportunityConfigChanged", "version", "fetchedAt", "changedTypeIds", "stale"}, nil},
	}
	if len(tests) != len(cfg.Tabs) {
		t.Errorf("%d tabs, want %d", len(cfg.Tabs), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if i >= len(cfg.Tabs) {
				t.Fatal("missing")
			}
			tab := cfg.Tabs[i]
			for _, s := range tt.contains {
				if !strings.Contains(tab.Query, s) {
					t.Errorf("query lacks %q:\n%s", s, tab.Query)
				}
			}
			doc, errs := gqlparser.LoadQuery(schema, tab.Query)
			if len(errs) > 0 {
				t.Fatalf("query does not validate against the schema: %v", errs)
			}
			if len(doc.Operations) != 1 || doc.Operations[0].Name != tt.operation {
				t.Fatalf("want one operation named %s (it titles the tab)", tt.operation)
			}
			var vars map[string]any
			if tab.Variables != "" {
				if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
					t.Fatalf("variables are not JSON: %v", err)
				}
			}
			if tt.variables != nil && !equalJSON(vars, tt.variables) {
				t.Errorf("variables = %v, want %v", vars, tt.variables)
			}
			if _, err := validator.VariableValues(schema, doc.Operations[0], vars); err != nil {
				t.Errorf("variables do not fit the operation: %v", err)
			}
			// The page carries the query in JSON, so it must appear there as is.
			quoted, _ := json.Marshal(tab.Query)
			if !bytes.Contains(page, bytes.Trim(quoted, `"`)[:40]) {
				t.Error("query not found in the page")
			}
		})
	}
}

// TestDefaultTabsAnswer runs every tab, with its variables, on the whole
// service over the demo dataset: a tab must answer data without errors, and
// the rules tabs the answers their comments describe. A subscription tab is
// run over GraphQL over SSE, and its first event is its answer.
func TestDefaultTabsAnswer(t *testing.T) {
	stack := teststack.New(t, teststack.Options{})
	// want are fragments of the data's JSON, as the service writes it
	// (fields in selection order).
	want := map[string][]string{
		"Moves": {
			`{"to":{"id":2002,"name":"需求确定","kind":"OPEN"},"allowed":false,"refusal":"SAME_STAGE",`,
			`{"to":{"id":2003,"name":"方案报价","kind":"OPEN"},"allowed":true,"refusal":null,` +
				`"requiredFields":[{"id":102,"name":"预计成交金额"},{"id":103,"name":"预计成交日期"},{"id":105,"name":"意向产品"}]`,
			`{"to":{"id":2004,"name":"商务谈判","kind":"OPEN"},"allowed":false,"refusal":"SKIP_NOT_ALLOWED",`,
			`{"to":{"id":2005,"name":"赢单","kind":"WON"},`,
			`{"to":{"id":2006,"name":"输单","kind":"LOST"},`,
		},
		"FormSchema": {
			`"save":{"$schema":"https://json-schema.org/draft/2020-12/schema",`,
			`"required":["101","102","103","104"],`,
			`"required":["101","102","103","104","105"],"title":"标准销售商机 / 方案报价","type":"object"}`,
		},
		"ValidateOpportunity": {
			`"valid":false,`,
			`{"fieldId":101,"code":"TOO_SHORT",`,
			`{"fieldId":102,"code":"SCALE_EXCEEDED",`,
			`{"fieldId":103,"code":"REQUIRED",`,
			`{"fieldId":105,"code":"REQUIRED",`,
		},
		// The first event: the version served, no change before it.
		"ConfigChanges": {`{"opportunityConfigChanged":{"version":"`, `"changedTypeIds":[],"stale":false}}`},
	}
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	for _, tab := range playground.DefaultTabs() {
		doc, errs := gqlparser.LoadQuery(schema, tab.Query)
		if len(errs) > 0 || len(doc.Operations) != 1 {
			t.Fatalf("tab does not validate (TestDefaultTabs says why):\n%s", tab.Query)
		}
		name := doc.Operations[0].Name
		subscription := doc.Operations[0].Operation == ast.Subscription
		t.Run(name, func(t *testing.T) {
			var vars map[string]any
			if tab.Variables != "" {
				if err := json.Unmarshal([]byte(tab.Variables), &vars); err != nil {
					t.Fatalf("variables are not JSON: %v", err)
				}
			}
			var data string
			if subscription {
				data = string(testkit.FirstEvent(t, stack.Server.URL+"/query", testkit.QueryBody(tab.Query, vars)))
			} else {
				resp := stack.Query(t, tab.Query, vars)
				if resp.Status != http.StatusOK || len(resp.Errors) > 0 || len(resp.Data) == 0 || string(resp.Data) == "null" {
					t.Fatalf("HTTP %d, want data without errors: %s", resp.Status, resp.Body)
				}
				data = string(resp.Data)
			}
			if strings.Contains(data, `"opportunityType":null`) {
				t.Errorf("a type the tab names is not in the demo data: %s", data)
			}
			for _, w := range want[name] {
				if !strings.Contains(data, w) {
					t.Errorf("data lacks %s:\n%s", w, data)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name         string
		give         playground.Options
		wantTitle    string
		wantEndpoint string
		wantTabs     int
	}{
		{"defaults", playground.Options{}, "<title>GraphiQL</title>", "/query", len(playground.DefaultTabs())},
		{"escaped title", playground.Options{Title: `</title><script>alert(1)</script>`, Endpoint: "/graphql"},
			"<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>", "/graphql", len(playground.DefaultTabs())},
		{"own tabs", playground.Options{Title: "T", Tabs: []playground.Tab{{Query: "{ x }"}}}, "<title>T</title>", "/query", 1},
		{"endpoint cannot break out of JSON", playground.Options{Title: "T", Endpoint: "/q</script><script>alert(1)</script>"},
			"<title>T</title>", "/q</script><script>alert(1)</script>", len(playground.DefaultTabs())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.give)
			_, page := get(t, srv, "/", nil)
			if !bytes.Contains(page, []byte(tt.wantTitle)) {
				t.Errorf("page lacks %q", tt.wantTitle)
			}
			cfg := parseConfig(t, page)
			if cfg.Endpoint != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", cfg.Endpoint, tt.wantEndpoint)
			}
			if len(cfg.Tabs) != tt.wantTabs {
				t.Errorf("%d tabs, want %d", len(cfg.Tabs), tt.wantTabs)
			}
			if n := len(scriptRE.FindAll(page, -1)); n != 5 {
				t.Errorf("%d <script> elements, want 5 (JSON, React, ReactDOM, GraphiQL, init.js)", n)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t, playground.Options{})
	_, page := get(t, srv, "/", nil)
	initJS := assetURLs(page)[len(assetURLs(page))-1]
	base := strings.TrimSuffix(initJS, "init.js")
	version := strings.Trim(strings.TrimPrefix(base, playground.AssetsPath), "/")

	tests := []struct{ name, path string }{
		{"unknown file", base + "nope.js"},
		{"unknown vendor file", base + "vendor/graphiql/graphiql.js"},
		{"directory", base + "vendor/"},
		{"directory without slash", base + "vendor/graphiql"},
		{"other version", playground.AssetsPath + "0000000000000000/init.js"},
		{"no version", playground.AssetsPath + "init.js"},
		{"version only", base},
		{"prefix only", playground.AssetsPath},
		{"dot dot", base + "../" + version + "/init.js"},
		{"escaped dot dot", base + "vendor/%2e%2e/init.js"},
		{"source file", base + "../../playground.go"},
		{"page template", base + "page.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, srv, tt.path, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s = %d %s, want 404", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestMethods(t *testing.T) {
	h := playground.Handler(playground.Options{})
	tests := []struct {
		method   string
		want     int
		wantBody bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, true},
		{http.MethodPut, http.StatusMethodNotAllowed, true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
			if rec.Code != tt.want {
				t.Errorf("%s / = %d, want %d", tt.method, rec.Code, tt.want)
			}
			if got := rec.Body.Len() > 0; got != tt.wantBody {
				t.Errorf("body sent = %v, want %v", got, tt.wantBody)
			}
			if tt.want == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}
