package respcache_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/respcache"
)

func TestLRUByBytes(t *testing.T) {
	c := respcache.New(10)
	c.Put("v1", "a", respcache.Entry{Body: []byte("aaaa")})
	c.Put("v1", "b", respcache.Entry{Body: []byte("bbbb")})
	if _, ok := c.Get("v1", "a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	// Each entry counts its key and body: 5 bytes. c makes 15 > 10, so b, the
	// least recently used, goes.
	c.Put("v1", "c", respcache.Entry{Body: []byte("cccc")})
	tests := []struct {
		key  string
		want bool
	}{{"a", true}, {"b", false}, {"c", true}}
	for _, tt := range tests {
		if _, ok := c.Get("v1", tt.key); ok != tt.want {
			t.Errorf("Get(%s) present = %v, want %v", tt.key, ok, tt.want)
		}
	}
	if n, b, _, _ := c.Stats(); n != 2 || b != 10 {
		t.Errorf("Stats = %d entries, %d bytes; want 2, 10", n, b)
	}
	c.Put("v1", "huge", respcache.Entry{Body: make([]byte, 11)})
	if _, ok := c.Get("v1", "huge"); ok {
		t.Error("a value over the budget was stored")
	}
	c.Put("v1", "a", respcache.Entry{Body: []byte("A")}) // replacing adjusts the byte count
	if _, b, _, _ := c.Stats(); b != 7 {
		t.Errorf("bytes after replace = %d, want 7", b)
	}
}

func TestNewVersionDropsOldEntries(t *testing.T) {
	c := respcache.New(100)
	c.Put("v1", "a", respcache.Entry{Body: []byte("old")})
	if _, ok := c.Get("v2", "a"); ok {
		t.Fatal("served an entry of another version")
	}
	c.Put("v2", "b", respcache.Entry{Body: []byte("new")})
	if _, ok := c.Get("v1", "a"); ok {
		t.Error("old version still served")
	}
	if n, b, _, _ := c.Stats(); n != 1 || b != 4 {
		t.Errorf("Stats = %d, %d; want 1 entry of 4 bytes (key and body)", n, b)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := respcache.New(1 << 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprint(i % 50)
				c.Put(fmt.Sprint("v", i/500), k, respcache.Entry{Body: []byte(k)})
				c.Get(fmt.Sprint("v", (i+g)/500), k)
			}
		})
	}
	wg.Wait()
	if _, b, _, _ := c.Stats(); b > 1<<10 {
		t.Errorf("bytes %d over budget", b)
	}
}

// TestKeysCount: a key is often a whole request body, so it counts against
// the budget, and GetBytes finds what Put stored under the same bytes.
func TestKeysCount(t *testing.T) {
	c := respcache.New(10)
	body := []byte(`{"query":"{ a }"}`) // 17 bytes: over the budget as a key alone
	c.Put("v1", string(body), respcache.Entry{Body: []byte("x")})
	if n, _, _, _ := c.Stats(); n != 0 {
		t.Fatalf("an entry whose key exceeds the budget was stored")
	}
	c.Put("v1", "Pj{}", respcache.Entry{Body: []byte("answer"), Operation: "Op"})
	e, ok := c.GetBytes("v1", []byte("Pj{}"))
	if !ok || string(e.Body) != "answer" || e.Operation != "Op" {
		t.Errorf("GetBytes = %+v, %v", e, ok)
	}
	if _, ok := c.GetBytes("v2", []byte("Pj{}")); ok {
		t.Error("GetBytes served another version's entry")
	}
}
