package endpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// TestWriteDocumentNormalises: spellings of one document share a response
// cache key; different documents do not.
func TestWriteDocumentNormalises(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"white space", `{ a { b } }`, "{a{b}}", true},
		{"commas and comments", "query Q($x: Int) { a(x: $x) }", "# list\nquery Q($x: Int,) {a(x: $x),}", true},
		{"block and quoted string", `{ a(s: "v") }`, `{ a(s: """v""") }`, true},
		{"another field", `{ a }`, `{ b }`, false},
		{"a string is not a number", `{ a(x: "1") }`, `{ a(x: 1) }`, false},
		{"two names are not one", `{ a b }`, `{ ab }`, false},
		{"string contents count", `{ a(s: "x y") }`, `{ a(s: "x  y") }`, false},
		{"does not lex: kept as is", `{ a(s: "open }`, `{ a(s: "open  }`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b bytes.Buffer
			writeDocument(&a, tt.a, 100)
			writeDocument(&b, tt.b, 100)
			if got := bytes.Equal(a.Bytes(), b.Bytes()); got != tt.same {
				t.Errorf("same key = %v, want %v (%q, %q)", got, tt.same, a.Bytes(), b.Bytes())
			}
		})
	}
	// Past the token limit the document is not lexed further but kept whole.
	var buf bytes.Buffer
	writeDocument(&buf, `{ a b c d }`, 2)
	if !strings.HasSuffix(buf.String(), `{ a b c d }`) {
		t.Errorf("over the token limit: %q", buf.String())
	}
}

// TestResponseKeyHasNoCollisions: a string value or a document that does not
// lex can hold any bytes, including ones that spell the encoding of other
// tokens; the key must still tell the requests apart, or one request could
// store its answer under another's key.
func TestResponseKeyHasNoCollisions(t *testing.T) {
	// The tokens after "x" in a, spelled inside one string value in b.
	inner := "x\x00" + string(rune(lexer.Name)) + "t\x00" + string(rune(lexer.Colon)) + "\x00" + string(rune(lexer.Name)) + "y"
	var quoted strings.Builder
	for _, c := range []byte(inner) {
		if c < 0x20 {
			fmt.Fprintf(&quoted, `\u%04x`, c)
		} else {
			quoted.WriteByte(c)
		}
	}
	tests := []struct {
		name string
		a, b graphql.RawParams
	}{
		{"tokens spelled in a string",
			graphql.RawParams{Query: `{ f(s: "x", t: y) }`},
			graphql.RawParams{Query: `{ f(s: "` + quoted.String() + `") }`}},
		{"a document that does not lex, spelling one that does",
			graphql.RawParams{Query: `{ f }`},
			graphql.RawParams{Query: tokens(t, `{ f }`)}},
	}
	tr := &Endpoint{opts: Options{Limits: limits.Limits{MaxTokens: 2000}}} // MAX_TOKENS' default
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tr.responseKey(&tt.a) == tr.responseKey(&tt.b) {
				t.Errorf("the same key for %q and %q", tt.a.Query, tt.b.Query)
			}
		})
	}
}

// tokens is what writeDocument writes for a document that lexes.
func tokens(t *testing.T, query string) string {
	t.Helper()
	var b bytes.Buffer
	writeDocument(&b, query, 100)
	return b.String()
}

// TestMarshalMatchesEncodingJSON: the direct writing of a clean answer gives
// the bytes json.Marshal gives, including where it escapes.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for _, data := range []string{
		`{"a":"plain"}`,
		`{"a":"中文，带标点…“引号”"}`,
		`{"a":"<b>&"}`,
		"{\"a\":\"line\u2028sep\u2029\"}",
		`{"a":[1,2,{"b":null}]}`,
	} {
		resp := &graphql.Response{Data: json.RawMessage(data)}
		want, err := json.Marshal(response{Data: resp.Data})
		if err != nil {
			t.Fatal(err)
		}
		if got := marshal(resp); !bytes.Equal(got, want) {
			t.Errorf("marshal(%s) = %s, want %s", data, got, want)
		}
	}
}

// TestEncodedIsMarshal: an executed answer is written as the bytes marshal
// makes, whether in pieces (a clean answer) or whole (escaping, errors,
// extensions), with their length as its Content-Length.
func TestEncodedIsMarshal(t *testing.T) {
	tests := []struct {
		name   string
		resp   *graphql.Response
		pieces int
	}{
		{"clean", &graphql.Response{Data: json.RawMessage(`{"a":"plain"}`)}, 3},
		{"null data", &graphql.Response{Data: json.RawMessage(`null`)}, 3},
		{"to escape", &graphql.Response{Data: json.RawMessage(`{"a":"<b>&"}`)}, 1},
		{"line separator", &graphql.Response{Data: json.RawMessage("{\"a\":\"x\u2028\"}")}, 1},
		{"stale marker", &graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"opportunityConfig": map[string]any{"stale": true}}}, 1},
		{"errors", &graphql.Response{Errors: gqlerror.List{{Message: "no"}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pieces := encoded(tt.resp)
			n := 0
			for _, p := range pieces {
				if len(p) > 0 {
					n++
				}
			}
			if n != tt.pieces {
				t.Errorf("%d pieces, want %d", n, tt.pieces)
			}
			want := marshal(tt.resp)
			w := httptest.NewRecorder()
			e := &Endpoint{validators: &validators{}}
			q := &request{r: httptest.NewRequest(http.MethodPost, "/query", nil), media: mediaJSON}
			e.writeExecuted(w, q, http.StatusOK, len(tt.resp.Errors) > 0, "", 0, pieces[:]...)
			if got := w.Body.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("wrote %s, marshal makes %s", got, want)
			}
			if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(want)) {
				t.Errorf("Content-Length %s, want %d", got, len(want))
			}
		})
	}
}

func TestResponseMediaType(t *testing.T) {
	tests := []struct {
		accept, want string
	}{
		{"", mediaJSON},
		{"*/*", mediaJSON},
		{"application/json", mediaJSON},
		{"application/graphql-response+json", mediaGraphQLResponse},
		{"application/graphql-response+json, application/json;q=0.9", mediaGraphQLResponse},
		{"application/json, Application/GraphQL-Response+JSON ; charset=utf-8", mediaGraphQLResponse},
		{"application/graphql-response+json;q=0", mediaJSON},
		{"application/graphql-response+json; q=0.0, application/json", mediaJSON},
		{"application/graphql-response+json;Q=0.000, application/json", mediaJSON},
		{"application/graphql-response+json;q=0.5", mediaGraphQLResponse},
		{"application/graphql-response+jsonx", mediaJSON},
	}
	for _, tt := range tests {
		if got := responseMediaType(tt.accept); got != tt.want {
			t.Errorf("responseMediaType(%q) = %s, want %s", tt.accept, got, tt.want)
		}
	}
}

// TestNeedsEscaping: exactly the answers json.Marshal would change.
func TestNeedsEscaping(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{`{"a":"plain 中文 😀"}`, false},
		{`{"a":"<b>"}`, true},
		{`{"a":"x>y"}`, true},
		{`{"a":"a&b"}`, true},
		{"{\"a\":\"line\u2028sep\"}", true},
		{"{\"a\":\"para\u2029sep\"}", true},
		{"{\"a\":\"\u2027 \u202a\"}", false}, // E2 80 A7, E2 80 AA: neighbours, not escaped
		{"\xe2", false},
		{"\xe2\x80", false},
		{"x\xe2\x80\xa8", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := needsEscaping([]byte(tt.give)); got != tt.want {
			t.Errorf("needsEscaping(%q) = %v, want %v", tt.give, got, tt.want)
		}
		m, err := json.Marshal(json.RawMessage(`"` + strings.ReplaceAll(tt.give, `"`, ``) + `"`))
		if err == nil && tt.give != "" && (string(m) != `"`+strings.ReplaceAll(tt.give, `"`, ``)+`"`) != tt.want {
			t.Errorf("%q: json.Marshal disagrees", tt.give)
		}
	}
}
