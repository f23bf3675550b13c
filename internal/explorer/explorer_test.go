package explorer_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(explorer.Handler("/query"))
	defer srv.Close()

	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantType    string
		wantContain string
	}{
		{"page", http.MethodGet, "/explorer", 200, "text/html; charset=utf-8", `data-endpoint="/query"`},
		{"page with slash", http.MethodGet, "/explorer/", 200, "text/html; charset=utf-8", `<main id="app"`},
		{"stylesheet", http.MethodGet, "/explorer/explorer.css", 200, "text/css; charset=utf-8", ".pipeline"},
		{"script", http.MethodGet, "/explorer/explorer.js", 200, "text/javascript; charset=utf-8", "textContent"},
		{"head", http.MethodHead, "/explorer", 200, "text/html; charset=utf-8", ""},
		{"unknown asset", http.MethodGet, "/explorer/nope.js", 404, "text/plain; charset=utf-8", "not found"},
		{"no directory listing", http.MethodGet, "/explorer/assets/", 404, "text/plain; charset=utf-8", "not found"},
		{"post", http.MethodPost, "/explorer", 405, "text/plain; charset=utf-8", "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := testkit.Do(t, tt.method, srv.URL+tt.path, "", nil, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != explorer.CSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, explorer.CSP)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if !strings.Contains(body, tt.wantContain) {
				t.Errorf("body does not contain %q:\n%.300s", tt.wantContain, body)
			}
			if tt.method == http.MethodPost && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
		})
	}
}

func TestCSP(t *testing.T) {
	want := "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if explorer.CSP != want {
		t.Errorf("CSP = %q, want %q", explorer.CSP, want)
	}
}

// The page must work under the CSP: no inline script, event handler or
// style, and every script and stylesheet it links is served.
func TestPageNeedsNoInlineCode(t *testing.T) {
	srv := httptest.NewServer(explorer.Handler("/query"))
	defer srv.Close()
	_, page := testkit.Get(t, srv.URL+"/explorer", nil)

	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Fatal("page has no script")
	}
	var linked []string
	for _, s := range scripts {
		src := regexp.MustCompile(`\bsrc="([^"]+)"`).FindStringSubmatch(s[1])
		if src == nil || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
			continue
		}
		linked = append(linked, src[1])
	}
	for _, m := range regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		linked = append(linked, m[1])
	}
	if len(linked) != 2 {
		t.Errorf("linked assets = %q, want one script and one stylesheet", linked)
	}
	for _, path := range linked {
		if res, _ := testkit.Get(t, srv.URL+path, nil); res.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, res.StatusCode)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style\b`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)javascript:`),
		regexp.MustCompile(`(?i)https?://`), // nothing from another origin, no CDN
	} {
		if loc := bad.FindStringIndex(page); loc != nil {
			t.Errorf("page matches %s at %q", bad, page[loc[0]:min(loc[1]+40, len(page))])
		}
	}

	// The script builds the DOM from text only.
	_, js := testkit.Get(t, srv.URL+"/explorer/explorer.js", nil)
	for _, bad := range []string{".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "http://", "https://"} {
		if strings.Contains(js, bad) {
			t.Errorf("explorer.js uses %s", bad)
		}
	}
}

// The endpoint and query reach the script through escaped attributes.
func TestPageCarriesEndpointAndQuery(t *testing.T) {
	srv := httptest.NewServer(explorer.Handler(`/q"><script>alert(1)</script>`))
	defer srv.Close()
	_, page := testkit.Get(t, srv.URL+"/explorer", nil)
	if strings.Contains(page, "<script>alert") {
		t.Fatal("endpoint not escaped")
	}
	m := regexp.MustCompile(`data-endpoint="([^"]*)" data-query="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data-endpoint/data-query on #app")
	}
	if got := html.UnescapeString(m[1]); got != `/q"><script>alert(1)</script>` {
		t.Errorf("endpoint = %q", got)
	}
	if got := html.UnescapeString(m[2]); got != explorer.Query {
		t.Errorf("query = %q, want explorer.Query", got)
	}
	for _, want := range []string{"query ExplorerPipelines", "opportunityTypes", "allowInvalidGoBack", "deleteOpportunityDate", "requiredOppTypeFields", "options { id name }", "minUnicode", "pattern"} {
		if !strings.Contains(explorer.Query, want) {
			t.Errorf("Query lacks %q", want)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	srv := httptest.NewServer(explorer.Handler("/query"))
	defer srv.Close()
	res, _ := testkit.Get(t, srv.URL+"/explorer/explorer.js", nil)
	etag := res.Header.Get("ETag")
	if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag = %q, Cache-Control = %q", etag, res.Header.Get("Cache-Control"))
	}
	res, body := testkit.Get(t, srv.URL+"/explorer/explorer.js", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidation: status %d, %d bytes; want 304, none", res.StatusCode, len(body))
	}
}
