package tanmarket_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
)

// TestLimiterPacesCalls: with Options.Limiter (UPSTREAM_RATE_LIMIT), a call
// past the budget waits for it; one the budget cannot wait for is
// KindUnavailable and sends nothing. Fetch's body decodes, by Decode, to the
// snapshot it came with.
//
// The refill itself is x/time/rate's, on the wall clock; the shared
// limiter's is tested in internal/redis.
func TestLimiterPacesCalls(t *testing.T) {
	body := readTestdata(t, "full.json")
	srv := httptest.NewServer(serveJSON(body))
	t.Cleanup(srv.Close)
	lim := rate.NewLimiter(rate.Every(300*time.Millisecond), 1)
	c := newClient(t, srv.URL, signature.Default(), tanmarket.Options{Limiter: lim, Budget: 200 * time.Millisecond, MaxRetries: new(0)})

	answer, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if !bytes.Equal(answer.Body, body) {
		t.Errorf("Fetch's body is not the upstream's")
	}
	again, err := tanmarket.Decode(answer.Body)
	if err != nil || again.Version() != answer.Snapshot.Version() || len(again.Types()) != len(answer.Snapshot.Types()) {
		t.Fatalf("Decode(body) = %v, %v; want the fetched snapshot", again, err)
	}
	// The bucket refills in 300 ms; the 200 ms budget cannot wait for it.
	_, err = c.Fetch(context.Background())
	if !errors.Is(err, tanmarket.ErrUnavailable) {
		t.Fatalf("a call the budget cannot wait for: %v, want unavailable", err)
	}
	if got := c.Attempts(); got != 1 {
		t.Fatalf("%d requests sent, want 1: the held-back call must not go", got)
	}
}
