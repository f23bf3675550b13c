package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

func benchmarkQueries(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/queries/*.graphql")
	if err != nil || len(files) != 4 {
		t.Fatalf("benchmark queries: %v %v", files, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".graphql")] = string(b)
	}
	return out
}

func rawPost(t *testing.T, url, query string) []byte {
	t.Helper()
	resp, err := http.Post(url+"/query", "application/json", strings.NewReader(gqlBody(query, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return b
}

// TestResponseCacheIsByteIdentical: every benchmark query answers the same
// bytes from the response cache as from execution, and repeats do not execute.
func TestResponseCacheIsByteIdentical(t *testing.T) {
	cache := respcache.New(1 << 20)
	cached := newStack(t, stackOptions{responses: cache})
	plain := newStack(t, stackOptions{})
	for name, q := range benchmarkQueries(t) {
		t.Run(name, func(t *testing.T) {
			want := rawPost(t, plain.server.URL, q)
			if bytes.Contains(want, []byte(`"errors"`)) {
				t.Fatalf("benchmark query fails: %s", want)
			}
			first := rawPost(t, cached.server.URL, q)
			_, _, hitsBefore, _ := cache.Stats()
			second := rawPost(t, cached.server.URL, q)
			_, _, hitsAfter, _ := cache.Stats()
			if !bytes.Equal(first, want) || !bytes.Equal(second, want) {
				t.Errorf("cached answer differs:\nexecuted %s\ncached   %s", want, second)
			}
			if hitsAfter != hitsBefore+1 {
				t.Errorf("the repeat was not served from the cache (hits %d → %d)", hitsBefore, hitsAfter)
			}
		})
	}
}

func TestResponseCacheBypassAndInvalidation(t *testing.T) {
	cache := respcache.New(1 << 20)
	s := newStack(t, stackOptions{responses: cache, dataset: []byte(`[{"typeName":"旧","typeId":1}]`)})
	const q = `{ opportunityType(typeId: 1) { typeName } }`
	rawPost(t, s.server.URL, q)
	if n, _, _, _ := cache.Stats(); n != 1 {
		t.Fatalf("entries = %d, want 1", n)
	}
	// Errors and introspection are not kept.
	rawPost(t, s.server.URL, `{ opportunityType(typeId: 1) { nope } }`)
	rawPost(t, s.server.URL, `{ __schema { queryType { name } } }`)
	rawPost(t, s.server.URL, `{ __type(name: "Stage") { name } }`)
	if n, _, _, _ := cache.Stats(); n != 1 {
		t.Errorf("entries = %d after errors and introspection, want 1", n)
	}
	// A new configuration version is never answered from the old one's entries.
	s.sim.SetDataset([]byte(`[{"typeName":"新","typeId":1}]`))
	s.clock.Advance(31 * time.Second)
	if b := rawPost(t, s.server.URL, q); !bytes.Contains(b, []byte("新")) {
		t.Errorf("after a config change: %s", b)
	}
	// Variables are part of the key.
	const vq = `query($id: Int!) { opportunityType(typeId: $id) { typeName } }`
	for _, id := range []string{"1", "2"} {
		resp, err := http.Post(s.server.URL+"/query", "application/json", strings.NewReader(`{"query":"`+vq+`","variables":{"id":`+id+`}}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := bytes.Contains(b, []byte("新")); got != (id == "1") {
			t.Errorf("id %s answered %s", id, b)
		}
	}
}
