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
	c.Put("v1", "c", respcache.Entry{Body: []byte("cccc")}) // 12 bytes > 10: b, the least recently used, goes
	tests := []struct {
		key  string
		want bool
	}{{"a", true}, {"b", false}, {"c", true}}
	for _, tt := range tests {
		if _, ok := c.Get("v1", tt.key); ok != tt.want {
			t.Errorf("Get(%s) present = %v, want %v", tt.key, ok, tt.want)
		}
	}
	if n, b, _, _ := c.Stats(); n != 2 || b != 8 {
		t.Errorf("Stats = %d entries, %d bytes; want 2, 8", n, b)
	}
	c.Put("v1", "huge", respcache.Entry{Body: make([]byte, 11)})
	if _, ok := c.Get("v1", "huge"); ok {
		t.Error("a value over the budget was stored")
	}
	c.Put("v1", "a", respcache.Entry{Body: []byte("A")}) // replacing adjusts the byte count
	if _, b, _, _ := c.Stats(); b != 5 {
		t.Errorf("bytes after replace = %d, want 5", b)
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
	if n, b, _, _ := c.Stats(); n != 1 || b != 3 {
		t.Errorf("Stats = %d, %d; want 1 entry of 3 bytes", n, b)
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
