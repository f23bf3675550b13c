package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// CallLimiter is UPSTREAM_RATE_LIMIT for every replica at once: a GCRA
// budget in Redis (redis_rate) per tenant, and this replica's own token
// bucket while Redis is down. It is a tanmarket.CallLimiter.
type CallLimiter struct {
	c     *Client
	gcra  *redis_rate.Limiter
	key   string
	limit redis_rate.Limit
	local *rate.Limiter
}

// NewCallLimiter returns a limit of perSecond calls to the upstream of
// tenant (ConfigOptions.Tenant), in bursts of at most perSecond.
func (c *Client) NewCallLimiter(tenant string, perSecond int) *CallLimiter {
	return &CallLimiter{
		c: c, gcra: redis_rate.NewLimiter(prefixed{c.rdb, c.prefix}),
		key: tenant + ":upstream", limit: redis_rate.PerSecond(perSecond),
		local: rate.NewLimiter(rate.Limit(perSecond), perSecond),
	}
}

// Wait returns when a call may go, or an error when none may before ctx
// ends.
func (l *CallLimiter) Wait(ctx context.Context) error {
	for {
		if !l.c.Up() {
			return l.local.Wait(ctx)
		}
		res, err := l.gcra.Allow(ctx, l.key, l.limit)
		if err != nil {
			l.c.failed(ctx, "upstream_limit", err)
			return l.local.Wait(ctx)
		}
		if res.Allowed > 0 {
			return nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < res.RetryAfter {
			return fmt.Errorf("the next call is allowed in %s, after the deadline", res.RetryAfter.Round(time.Millisecond))
		}
		t := time.NewTimer(res.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// prefixed hands redis_rate the client with REDIS_PREFIX put before its
// keys, which it names "rate:…" itself: every key this service makes then
// starts with the prefix, as one ACL pattern (~prefix*) can cover. These
// are the commands redis_rate sends.
type prefixed struct {
	*goredis.Client
	prefix string
}

func (p prefixed) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.prefix + k
	}
	return out
}

func (p prefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return p.Client.Eval(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return p.Client.EvalSha(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return p.Client.EvalRO(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return p.Client.EvalShaRO(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *goredis.IntCmd {
	return p.Client.Del(ctx, p.keys(keys)...)
}
