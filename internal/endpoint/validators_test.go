package endpoint

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestCacheHeaders: the caching headers of a clean GET answer, public and
// private, after a Vary set earlier (by CORS); the memoised values are shared
// between responses, so a later Add on one must not reach the next.
func TestCacheHeaders(t *testing.T) {
	tests := []struct {
		name      string
		private   bool
		varyFirst []string
		age       time.Duration
		wantCC    string
		wantVary  []string
	}{
		{"public", false, nil, 10 * time.Second, "public, max-age=20", []string{"Accept"}},
		{"public after CORS", false, []string{"Origin"}, 0, "public, max-age=30", []string{"Origin", "Accept"}},
		{"private", true, nil, 0, "private, max-age=30", []string{"Accept", "Authorization, X-API-Key"}},
		{"expired", false, nil, time.Minute, "public, max-age=0", []string{"Accept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &validators{ttl: 30 * time.Second, private: tt.private, schemaTag: "s1"}
			r := httptest.NewRequest(http.MethodGet, "/query?query=%7B__typename%7D", nil)
			var recs []*httptest.ResponseRecorder
			for range 2 {
				w := httptest.NewRecorder()
				for _, v := range tt.varyFirst {
					w.Header().Add("Vary", v)
				}
				c.mark(w, r, false, "v1", tt.age, mediaJSON)
				recs = append(recs, w)
			}
			// Later additions to each answer's Vary stay in that answer.
			recs[0].Header().Add("Vary", "X-First")
			recs[1].Header().Add("Vary", "X-Second")
			for i, add := range []string{"X-First", "X-Second"} {
				if got, want := recs[i].Header().Values("Vary"), append(slices.Clone(tt.wantVary), add); !slices.Equal(got, want) {
					t.Errorf("answer %d: Vary %q, want %q", i, got, want)
				}
			}
			w := recs[1]
			if got := w.Header().Get("Cache-Control"); got != tt.wantCC {
				t.Errorf("Cache-Control %q, want %q", got, tt.wantCC)
			}
			if got, want := w.Header().Get("ETag"), `W/"v1-s1-j"`; got != want {
				t.Errorf("ETag %q, want %q", got, want)
			}
		})
	}
}

// TestContentLength: the value made for a length, again for the same length,
// and the right one for lengths that share a slot.
func TestContentLength(t *testing.T) {
	e := &Endpoint{}
	for _, n := range []int{0, 293, 293, 293 + 64, 293, 24550, 1 << 20, 64, 0} {
		if got := e.contentLength(n); len(got) != 1 || got[0] != strconv.Itoa(n) {
			t.Errorf("contentLength(%d) = %q", n, got)
		}
	}
	if a, b := e.contentLength(958), e.contentLength(958); &a[0] != &b[0] {
		t.Error("the value for one length is made again")
	}
}
