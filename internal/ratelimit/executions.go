package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// maxClients bounds the per-client buckets kept; the least recently seen
// client's bucket is dropped first (it then starts again with a full
// burst, which only ever favours a client idle for that long).
const maxClients = 10000

// Executions limits each client's executions by their weight, with one
// token bucket (golang.org/x/time/rate) per client: answers from stored
// bytes never reach it, so a client may ask for cached answers as often as
// the request limit allows, while the executions it makes, which are what
// cost CPU and memory, are paced by what they build.
type Executions struct {
	limit  rate.Limit
	burst  int
	now    func() time.Time
	shared SharedBudget

	mu      sync.Mutex
	clients *lru.Cache[string, *rate.Limiter]
}

// SharedBudget shares each client's spending with the other replicas
// (internal/redis.Ledger): Spend records what this replica's executions
// took, and the function given to OnOthers is called with what the others
// took, which Executions debits from the client's bucket here. A client's
// buckets on every replica then drain by all of its executions.
type SharedBudget interface {
	Spend(client string, units int)
	OnOthers(debit func(client string, units int))
}

// NewExecutions returns a limiter allowing each client perMinute whole
// configurations' worth of executions a minute, burst at once; perMinute 0
// disables it (nil). now is the clock (nil: time.Now). shared, when set,
// shares the spending with the other replicas.
func NewExecutions(perMinute, burst int, now func() time.Time, shared SharedBudget) (*Executions, error) {
	if perMinute < 0 || burst < 0 || (perMinute > 0 && burst == 0) {
		return nil, fmt.Errorf("execution rate %d a minute with a burst of %d: both must be positive, or the rate 0", perMinute, burst)
	}
	if perMinute == 0 {
		return nil, nil
	}
	if now == nil {
		now = time.Now
	}
	clients, _ := lru.New[string, *rate.Limiter](maxClients) // fails only for a size ≤ 0
	x := &Executions{
		limit:   rate.Limit(float64(perMinute*limits.WholeUnits) / 60),
		burst:   burst * limits.WholeUnits,
		now:     now,
		shared:  shared,
		clients: clients,
	}
	if shared != nil {
		shared.OnOthers(x.debit)
	}
	return x, nil
}

// Admit takes weight units (limits.WholeUnits) from the bucket of the
// request's client (named in ctx by Limiter.NameClient) and reports whether
// the execution may run; when not, retryAfter is when it could. An execution heavier than the
// whole burst is admitted when the bucket is full, and empties it. A nil
// limiter, or a context without a client, admits everything.
func (x *Executions) Admit(ctx context.Context, weight int) (retryAfter time.Duration, ok bool) {
	if x == nil || weight <= 0 {
		return 0, true // before ctx.Value, which walks the request's whole context chain
	}
	key, _ := ctx.Value(clientKey{}).(string)
	if key == "" {
		return 0, true
	}
	weight = min(weight, x.burst)
	b := x.bucket(key)
	now := x.now()
	r := b.ReserveN(now, weight)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // not taken: the execution is refused
		return d, false
	}
	if x.shared != nil {
		x.shared.Spend(key, weight)
	}
	return 0, true
}

// bucket is client's bucket, made full on first use.
func (x *Executions) bucket(client string) *rate.Limiter {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, found := x.clients.Get(client)
	if !found {
		b = rate.NewLimiter(x.limit, x.burst)
		x.clients.Add(client, b)
	}
	return b
}

// debit takes from client's bucket what its executions on other replicas
// took (SharedBudget), in reservations no larger than the burst, never
// cancelled: the bucket may go below empty, and this replica then refuses
// the client until the refill has paid for them.
func (x *Executions) debit(client string, units int) {
	b := x.bucket(client)
	now := x.now()
	for units > 0 {
		n := min(units, x.burst)
		b.ReserveN(now, n)
		units -= n
	}
}

// clientKey is the context key of the request's client, put there by
// Limiter.NameClient.
type clientKey struct{}
