package redis

import (
	"context"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ledgerWindow is the span of one entry of the ledger: what each client's
// replicas spent is summed per minute, EXECUTION_RATE's unit.
const ledgerWindow = time.Minute

// Ledger is EXECUTION_RATE for every replica at once: each replica's
// executions take their weight from its own buckets (ratelimit.Executions),
// and every counterSync the ledger sends what this replica spent to Redis,
// reads what every replica spent, and debits this replica's buckets by what
// the others spent meanwhile. A client's buckets then drain by its
// executions on every replica, as one budget, at most counterSync late.
//
// Written here rather than as a GCRA budget in Redis (redis_rate, which
// UPSTREAM_RATE_LIMIT uses): that is a round trip inside every execution,
// which BenchmarkLimitsShared measured at 150 µs of CPU an uncached
// dropdown query here (loopback's syscalls), against 20 µs for the query.
// It is a ratelimit.SharedBudget.
type Ledger struct {
	c      *Client
	prefix string

	mu    sync.Mutex
	debit func(client string, units int)
	// Per client, in the current window: units spent here and not yet
	// sent, units spent here and sent, and what the other replicas had
	// spent at the last sync.
	window  int64
	pending map[string]int64
	sent    map[string]int64
	others  map[string]int64
}

// NewLedger returns the shared execution ledger; its sync runs until the
// client closes.
func (c *Client) NewLedger() *Ledger {
	l := &Ledger{c: c, prefix: c.key("executions"), pending: map[string]int64{}, sent: map[string]int64{}, others: map[string]int64{}}
	c.every(counterSync, l.flush)
	return l
}

// OnOthers sets what is called with the units other replicas spent for a
// client since the last sync (ratelimit.Executions debits its bucket).
func (l *Ledger) OnOthers(debit func(client string, units int)) {
	l.mu.Lock()
	l.debit = debit
	l.mu.Unlock()
}

// Spend records units this replica's executions took for client. With
// Redis down it records nothing: each replica's buckets are then its own.
func (l *Ledger) Spend(client string, units int) {
	if !l.c.Up() || units <= 0 {
		return
	}
	l.mu.Lock()
	l.roll(time.Now())
	l.pending[client] += int64(units)
	l.mu.Unlock()
}

// roll starts a new window when the minute has turned: the sums in Redis
// are per window, so what was spent before is not counted twice. Called
// with mu held.
func (l *Ledger) roll(now time.Time) {
	w := now.Unix() / int64(ledgerWindow/time.Second)
	if w == l.window {
		return
	}
	l.window = w
	clear(l.pending) // spent in the last window; the buckets have it already
	clear(l.sent)
	clear(l.others)
}

func (l *Ledger) key(client string, window int64) string {
	return l.prefix + ":" + Hash(client) + ":" + strconv.FormatInt(window, 10)
}

// flush is one sync, every counterSync: INCRBY of this replica's spending per client, which
// returns the client's sum over every replica, in one pipeline; the sum
// less what this replica sent is what the others spent.
func (l *Ledger) flush() {
	l.mu.Lock()
	l.roll(time.Now())
	window := l.window
	clients := make([]string, 0, len(l.sent)+len(l.pending))
	amounts := make([]int64, 0, cap(clients))
	for client := range l.sent {
		clients = append(clients, client)
		amounts = append(amounts, l.pending[client])
	}
	for client, n := range l.pending {
		if _, ok := l.sent[client]; !ok {
			clients = append(clients, client)
			amounts = append(amounts, n)
		}
	}
	clear(l.pending)
	l.mu.Unlock()
	if len(clients) == 0 {
		return
	}

	ctx, cancel := context.WithTimeout(l.c.stopped, l.c.timeout)
	defer cancel()
	sums := make([]*goredis.IntCmd, len(clients))
	_, err := l.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, client := range clients {
			k := l.key(client, window)
			sums[i] = p.IncrBy(ctx, k, amounts[i]) // 0 reads the sum
			p.Expire(ctx, k, 2*ledgerWindow)
		}
		return nil
	})
	if err != nil {
		l.c.failed(ctx, "execution_limit", err)
		return // this replica's spending is in its own buckets; the others' unseen
	}
	type owed struct {
		client string
		units  int64
	}
	var debits []owed
	l.mu.Lock()
	if l.window == window {
		for i, client := range clients {
			l.sent[client] += amounts[i]
			others := sums[i].Val() - l.sent[client]
			if d := others - l.others[client]; d > 0 {
				debits = append(debits, owed{client, d})
			}
			l.others[client] = max(l.others[client], others)
		}
	}
	debit := l.debit
	l.mu.Unlock()
	if debit == nil {
		return
	}
	for _, d := range debits {
		debit(d.client, int(d.units))
	}
}
