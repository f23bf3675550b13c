package explorer_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/oppconfig/oppconfig-graphql/graph"
	"github.com/oppconfig/oppconfig-graphql/internal/explorer"
	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
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
	for _, want := range []string{"query ExplorerPipelines", "opportunityTypes", "allowInvalidGoBack", "deleteOpportunityDate", "requiredOppTypeFields", "options { id name }", "minUnicode", "pattern", "kind"} {
		if !strings.Contains(explorer.Query, want) {
			t.Errorf("Query lacks %q", want)
		}
	}
	// Every other operation, in its own attribute.
	ops := explorer.Operations()
	for i, attr := range []string{"data-moves-query", "data-form-query", "data-validate-query", "data-live-query"} {
		m := regexp.MustCompile(`\s` + attr + `="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("no %s on #app", attr)
			continue
		}
		if got, want := html.UnescapeString(m[1]), ops[i+1].Document; got != want {
			t.Errorf("%s = %q, want the %s document %q", attr, got, ops[i+1].Name, want)
		}
	}
}

// The script reads every document the page carries and sends each
// operation by name.
func TestScriptSendsEveryOperation(t *testing.T) {
	srv := httptest.NewServer(explorer.Handler("/query"))
	defer srv.Close()
	_, js := testkit.Get(t, srv.URL+"/explorer/explorer.js", nil)
	for _, want := range []string{
		"app.dataset.query", "app.dataset.movesQuery", "app.dataset.formQuery", "app.dataset.validateQuery", "app.dataset.liveQuery",
		"'ExplorerPipelines'", "'ExplorerMoves'", "'ExplorerForm'", "'ExplorerValidate'", "'ExplorerConfigChanges'",
		"credentials: 'same-origin'",  // the way AUTH_MODE's Basic credential goes along
		"Accept: 'text/event-stream'", // the subscription, over GraphQL over SSE
		"getReader()",                 // read as it arrives, not at its end (it has none)
		"'已更新 · updated'",
		"[...", // lengths in code points, not UTF-16 units
		"new RegExp(source, 'u')",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("explorer.js lacks %q", want)
		}
	}
	// No introspection: the page is told its documents, and reads no schema.
	if strings.Contains(js, "__schema") || strings.Contains(js, "__type") {
		t.Error("explorer.js introspects")
	}
	// The length limit must stay a check, not an input attribute that
	// stops the typing before the error can show.
	if m := regexp.MustCompile(`(?i)['"]?maxlength['"]?\s*:|\.maxLength\s*=|setAttribute\(['"]maxlength`).FindString(js); m != "" {
		t.Errorf("explorer.js sets maxlength on an input: %q", m)
	}
}

// TestOperations checks every operation the page sends against the
// executable schema: one operation per document, named as the page names it.
func TestOperations(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	ops := explorer.Operations()
	tests := []struct {
		name     string
		contains []string
	}{
		{"ExplorerPipelines", []string{"opportunityTypes", "kind"}},
		{"ExplorerMoves", []string{"$typeId: Int!", "$from: Int!", "moves(from: $from)", "allowed", "refusal", "requiredFields { id name }", "customerFields { fieldId name }"}},
		{"ExplorerForm", []string{"$stageId: Int", "formSchema(stageId: $stageId)"}},
		{"ExplorerValidate", []string{"$values: [FieldValueInput!]!", "validateOpportunity(typeId: $typeId, stageId: $stageId, values: $values)", "code", "message", "field { id name }"}},
		{"ExplorerConfigChanges", []string{"subscription ExplorerConfigChanges", "opportunityConfigChanged", "version", "stale"}},
	}
	if len(ops) != len(tests) {
		t.Fatalf("%d operations, want %d", len(ops), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := ops[i]
			if op.Name != tt.name {
				t.Fatalf("operation %d is %s, want %s", i, op.Name, tt.name)
			}
			doc, errs := gqlparser.LoadQuery(schema, op.Document)
			if len(errs) > 0 {
				t.Fatalf("does not validate against the schema: %v", errs)
			}
			if len(doc.Operations) != 1 || doc.Operations[0].Name != op.Name {
				t.Fatalf("want one operation named %s", op.Name)
			}
			for _, want := range tt.contains {
				if !strings.Contains(op.Document, want) {
					t.Errorf("document lacks %q:\n%s", want, op.Document)
				}
			}
		})
	}
}

// TestOperationsAnswer runs the page's operations, as it sends them, on the
// whole service over the demo dataset with introspection off and the
// operations as the only trusted documents: the page needs neither
// introspection nor any other document, and each answer carries what the
// page reads.
func TestOperationsAnswer(t *testing.T) {
	trusted := map[string]string{}
	ops := map[string]string{}
	for _, op := range explorer.Operations() {
		trusted[persisted.Hash(op.Document)] = op.Document
		ops[op.Name] = op.Document
	}
	stack := teststack.New(t, teststack.Options{Env: map[string]string{"INTROSPECTION": "false"}, Trusted: trusted})

	tooLong := strings.Repeat("诸葛亮", 7) // 21 code points; 决策人 (106) allows 20
	tests := []struct {
		name string
		vars map[string]any
		want []string // fragments of the data, as the service writes it
	}{
		{"ExplorerPipelines", nil, []string{`"typeId":1001,`, `"id":2005,"name":"赢单","kind":"WON",`, `"id":2006,"name":"输单","kind":"LOST",`}},
		{"ExplorerMoves", map[string]any{"typeId": 1001, "from": 2002}, []string{
			`{"to":{"id":2002,"name":"需求确定"},"allowed":false,"refusal":"SAME_STAGE",`,
			`{"to":{"id":2003,"name":"方案报价"},"allowed":true,"refusal":null,"requiredFields":[{"id":102,"name":"预计成交金额"},`,
			`{"to":{"id":2004,"name":"商务谈判"},"allowed":false,"refusal":"SKIP_NOT_ALLOWED",`,
		}},
		{"ExplorerForm", map[string]any{"typeId": 1001, "stageId": 2002}, []string{
			`"106":{"maxLength":20,"title":"决策人","type":"string"}`,
			`"required":["101","102","103","104","106","107","110"],"title":"标准销售商机 / 需求确定"`,
		}},
		{"ExplorerForm", map[string]any{"typeId": 1001}, []string{`"required":["101","102","103","104"],"title":"标准销售商机"`}},
		{"ExplorerValidate", map[string]any{"typeId": 1001, "stageId": 2002, "values": []any{
			map[string]any{"fieldId": 106, "value": tooLong},
			map[string]any{"fieldId": 105, "values": []any{"10501"}},
		}}, []string{
			`"valid":false,`,
			`{"fieldId":106,"field":{"id":106,"name":"决策人"},"code":"TOO_LONG","message":"决策人 (field 106) allows at most 20 characters (Unicode code points); got 21"}`,
			`{"fieldId":107,"field":{"id":107,"name":"决策人手机"},"code":"REQUIRED",`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := stack.Query(t, ops[tt.name], tt.vars)
			if resp.Status != http.StatusOK || len(resp.Errors) > 0 || len(resp.Data) == 0 {
				t.Fatalf("HTTP %d, want data without errors: %s", resp.Status, resp.Body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(resp.Data), w) {
					t.Errorf("data lacks %s:\n%.2000s", w, resp.Data)
				}
			}
		})
	}

	// The subscription, over GraphQL over SSE as the page sends it: its
	// first event names the version served, at once.
	t.Run("ExplorerConfigChanges", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"query": ops["ExplorerConfigChanges"], "operationName": "ExplorerConfigChanges"})
		data := testkit.FirstEvent(t, stack.Server.URL+"/query", string(body))
		var got struct {
			OpportunityConfigChanged struct {
				Version        string
				FetchedAt      string
				ChangedTypeIDs []int `json:"changedTypeIds"`
				Stale          bool
			}
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("event data %s: %v", data, err)
		}
		if c := got.OpportunityConfigChanged; c.Version == "" || c.FetchedAt == "" || c.ChangedTypeIDs == nil || c.Stale {
			t.Errorf("first event = %s, want a version, its fetch time, no changed types, not stale", data)
		}
	})

	// The check above means something only if the stack does refuse what
	// the manifest does not list.
	if resp := stack.Query(t, `query Other { opportunityTypes { typeId } }`, nil); len(resp.Errors) == 0 {
		t.Errorf("an unlisted document was answered: %s", resp.Body)
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
