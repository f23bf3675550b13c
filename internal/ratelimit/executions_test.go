package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// TestExecutions: each client has its own bucket of EXECUTION_BURST whole
// configurations, refilled at EXECUTION_RATE a minute; an execution that
// does not fit is refused with when it would, and takes nothing.
func TestExecutions(t *testing.T) {
	const whole = limits.WholeUnits
	type step struct {
		client  string
		weight  int
		advance time.Duration // before the step
		ok      bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"the burst, then refused", []step{{"a", 4 * whole, 0, true}, {"a", 4 * whole, 0, true}, {"a", 1, 0, false}}},
		{"clients apart", []step{{"a", 8 * whole, 0, true}, {"b", 8 * whole, 0, true}, {"a", 1, 0, false}}},
		{"refilled at the rate", []step{{"a", 8 * whole, 0, true}, {"a", whole, 0, false}, {"a", whole, 500 * time.Millisecond, true}}},
		{"a refusal takes nothing", []step{{"a", 7 * whole, 0, true}, {"a", 2 * whole, 0, false}, {"a", whole, 0, true}}},
		{"heavier than the burst, when full", []step{{"a", 100 * whole, 0, true}, {"a", 1, 0, false}}},
		{"no client named", []step{{"", 100 * whole, 0, true}, {"", 100 * whole, 0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			x, err := NewExecutions(120, 8, func() time.Time { return now }, nil) // 2 wholes a second
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				now = now.Add(s.advance)
				ctx := context.Background()
				if s.client != "" {
					ctx = context.WithValue(ctx, clientKey{}, s.client)
				}
				wait, ok := x.Admit(ctx, s.weight)
				if ok != s.ok {
					t.Fatalf("step %d: admitted %v, want %v", i, ok, s.ok)
				}
				if !ok && (wait <= 0 || wait > 5*time.Second) {
					t.Fatalf("step %d: retry after %s", i, wait)
				}
			}
		})
	}
}

func TestNewExecutions(t *testing.T) {
	tests := []struct {
		rate, burst int
		wantNil     bool
		wantErr     bool
	}{
		{120, 8, false, false},
		{0, 8, true, false},
		{0, 0, true, false},
		{120, 0, false, true},
		{-1, 8, false, true},
	}
	for _, tt := range tests {
		x, err := NewExecutions(tt.rate, tt.burst, nil, nil)
		if (err != nil) != tt.wantErr || (err == nil && (x == nil) != tt.wantNil) {
			t.Errorf("NewExecutions(%d, %d) = %v, %v", tt.rate, tt.burst, x, err)
		}
	}
	var disabled *Executions
	if _, ok := disabled.Admit(context.WithValue(context.Background(), clientKey{}, "a"), 1<<30); !ok {
		t.Error("a disabled limiter refused")
	}
}

// ledger is a SharedBudget that records what is spent and lets the test
// play the other replicas.
type ledger struct {
	spent map[string]int
	debit func(client string, units int)
}

func (l *ledger) Spend(client string, units int)                { l.spent[client] += units }
func (l *ledger) OnOthers(debit func(client string, units int)) { l.debit = debit }

// TestExecutionsShared: what an execution takes is reported to the shared
// budget, refusals are not, and what the other replicas spent is debited
// from the client's bucket here, below empty when it must.
func TestExecutionsShared(t *testing.T) {
	const whole = limits.WholeUnits
	tests := []struct {
		name         string
		others       int // wholes the other replicas spent, debited first
		weights      []int
		wantAdmitted []bool
		wantSpent    int
	}{
		{"nothing elsewhere: the whole burst here", 0, []int{4, 4, 1}, []bool{true, true, false}, 8 * whole},
		{"half the burst spent elsewhere", 4, []int{4, 1}, []bool{true, false}, 4 * whole},
		{"more than the burst elsewhere: below empty", 20, []int{1}, []bool{false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			l := &ledger{spent: map[string]int{}}
			x, err := NewExecutions(120, 8, func() time.Time { return now }, l)
			if err != nil {
				t.Fatal(err)
			}
			if l.debit == nil {
				t.Fatal("NewExecutions did not ask for the others' spending")
			}
			l.debit("a", tt.others*whole)
			ctx := context.WithValue(context.Background(), clientKey{}, "a")
			for i, w := range tt.weights {
				if _, ok := x.Admit(ctx, w*whole); ok != tt.wantAdmitted[i] {
					t.Fatalf("execution %d (%d wholes): admitted %v, want %v", i+1, w, ok, tt.wantAdmitted[i])
				}
			}
			if l.spent["a"] != tt.wantSpent {
				t.Errorf("reported %d units spent, want %d", l.spent["a"], tt.wantSpent)
			}
			if tt.others > 8 {
				// 20 wholes debited from a bucket of 8: 12 below empty, then
				// 1 more for the execution, at 2 a second.
				now = now.Add(6 * time.Second)
				if _, ok := x.Admit(ctx, whole); ok {
					t.Error("admitted before the refill paid for the others' spending")
				}
				now = now.Add(500 * time.Millisecond)
				if _, ok := x.Admit(ctx, whole); !ok {
					t.Error("refused after the refill paid for it")
				}
			}
		})
	}
}
