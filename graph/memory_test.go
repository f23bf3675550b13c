package graph

import (
	"context"
	"testing"
	"time"
)

// TestMemoryBudget: executions take their share and give it back; one that
// cannot have its share within the wait is refused OVERLOADED, one whose
// request ends while it waits REQUEST_CANCELLED; one larger than the whole
// budget runs alone; no budget never waits.
func TestMemoryBudget(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		held     int64 // taken before the request
		cancel   bool  // the request's context is already done
		n        int64
		want     string // "" is granted
	}{
		{"fits", 100, 50, false, 50, ""},
		{"does not fit", 100, 60, false, 50, "OVERLOADED"},
		{"request gone while waiting", 100, 60, true, 50, "REQUEST_CANCELLED"},
		{"larger than the budget, alone", 100, 0, false, 1000, ""},
		{"larger than the budget, beside another", 100, 1, false, 1000, "OVERLOADED"},
		{"no budget", 0, 0, false, 1 << 40, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemoryBudget(tt.capacity, 5*time.Millisecond)
			if tt.held > 0 {
				release, err := m.acquire(t.Context(), tt.held)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			release, err := m.acquire(ctx, tt.n)
			got := ""
			if err != nil {
				got, _ = err.Extensions["code"].(string)
			}
			if got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
			if err != nil {
				return
			}
			release()
			if m != nil && !m.sem.TryAcquire(m.capacity-tt.held) {
				t.Error("the share was not given back")
			}
		})
	}
}
