package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit/teststack"
)

// Several replicas on one real redis-server (testkit.StartRedis), each the
// whole service through real HTTP, all in front of one simulator over a
// socket: what REDIS_URL promises an operator running replicas.

// replicas starts n replicas of the service on rs with env over the stack's
// defaults.
func replicas(t *testing.T, rs *testkit.Redis, n int, env map[string]string) []*teststack.Stack {
	t.Helper()
	full := map[string]string{"REDIS_URL": rs.URL(), "REDIS_PREFIX": "replicas-test:"}
	for k, v := range env {
		full[k] = v
	}
	var out []*teststack.Stack
	for i := range n {
		o := teststack.Options{Env: full}
		if i > 0 {
			o.Beside = out[0]
		}
		out = append(out, teststack.New(t, o))
	}
	return out
}

// TestReplicasMakeOneUpstreamCall: 300 concurrent cold requests spread over
// three replicas make exactly one call to the upstream; the others read the
// copy it brought, and all serve one version.
func TestReplicasMakeOneUpstreamCall(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, nil)
	rep[0].Sim.SetLatency(100 * time.Millisecond)
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			r := rep[i%3].Query(t, `{ opportunityTypes { typeId } }`, nil)
			if len(r.Errors) > 0 || !strings.Contains(string(r.Data), "1001") {
				errs <- string(r.Body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("bad response: %s", e)
	}
	if c := rep[0].Sim.Calls(); c != 1 {
		t.Errorf("upstream calls = %d for three replicas, want 1", c)
	}
	var versions []string
	for _, r := range rep {
		held, ok := r.Service.Config.Peek()
		if !ok {
			t.Fatal("a replica holds no copy")
		}
		versions = append(versions, held.Value.Version())
		if !held.FetchedAt.Equal(mustPeek(t, rep[0]).FetchedAt) {
			t.Errorf("fetched at %s, replica 1's at %s: one copy has one fetch time", held.FetchedAt, mustPeek(t, rep[0]).FetchedAt)
		}
	}
	if versions[0] != versions[1] || versions[1] != versions[2] {
		t.Errorf("versions %v", versions)
	}
	// Past the TTL, one replica refreshes for all.
	rep[0].Clock.Advance(31 * time.Second)
	for _, r := range rep {
		if err := r.Service.Config.Revalidate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if c := rep[0].Sim.Calls(); c != 2 {
		t.Errorf("upstream calls = %d after one TTL, want 2", c)
	}
}

func mustPeek(t *testing.T, s *teststack.Stack) (res struct{ FetchedAt time.Time }) {
	t.Helper()
	held, ok := s.Service.Config.Peek()
	if !ok {
		t.Fatal("no copy held")
	}
	res.FetchedAt = held.FetchedAt
	return res
}

// apqBody is an APQ request for query, with the document or without it.
func apqBody(query string, withDocument bool) string {
	sum := sha256.Sum256([]byte(query))
	ext := fmt.Sprintf(`{"persistedQuery":{"version":1,"sha256Hash":%q}}`, hex.EncodeToString(sum[:]))
	if withDocument {
		return fmt.Sprintf(`{"query":%s,"extensions":%s}`, testkit.JSONString(query), ext)
	}
	return fmt.Sprintf(`{"extensions":%s}`, ext)
}

// TestAPQAcrossReplicas: a hash registered on replica 1 runs on replica 3.
func TestAPQAcrossReplicas(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, nil)
	const query = `query Types { opportunityTypes { typeId typeName } }`
	if resp, body := testkit.PostJSON(t, rep[2].Server.URL+"/query", apqBody(query, false), nil); !strings.Contains(body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("unregistered hash on replica 3: %d %s", resp.StatusCode, body)
	}
	if resp, body := testkit.PostJSON(t, rep[0].Server.URL+"/query", apqBody(query, true), nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "1001") {
		t.Fatalf("registering on replica 1: %d %s", resp.StatusCode, body)
	}
	resp, body := testkit.PostJSON(t, rep[2].Server.URL+"/query", apqBody(query, false), nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "1001") || strings.Contains(body, "errors") {
		t.Fatalf("the hash on replica 3: %d %s", resp.StatusCode, body)
	}
}

// TestRateLimitAcrossReplicas: a client's RATE_LIMIT is one budget: spent
// on two replicas, the third refuses it; another client is not refused.
func TestRateLimitAcrossReplicas(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, map[string]string{"RATE_LIMIT": "6", "RATE_LIMIT_WINDOW": "1m", "TRUSTED_PROXIES": "127.0.0.1/32"})
	ask := func(r *teststack.Stack, client string) int {
		resp, _ := testkit.PostJSON(t, r.Server.URL+"/query", `{"query":"{ opportunityTypes { typeId } }"}`, map[string]string{"X-Forwarded-For": client})
		return resp.StatusCode
	}
	for i := range 6 {
		if code := ask(rep[i%2], "203.0.113.7"); code != http.StatusOK {
			t.Fatalf("request %d within the limit: %d", i+1, code)
		}
	}
	// Each replica sends its counts to Redis and reads the others' every
	// 100 ms (internal/redis's counter): wait for two syncs.
	time.Sleep(300 * time.Millisecond)
	if code := ask(rep[2], "203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("the 7th request, on the third replica: %d, want 429", code)
	}
	if code := ask(rep[0], "203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("the 8th request, on the first replica: %d, want 429", code)
	}
	if code := ask(rep[2], "203.0.113.8"); code != http.StatusOK {
		t.Fatalf("another client: %d", code)
	}
}

// TestRedisOutageFailsNoRequest: Redis killed mid-run and brought back
// fails no request on any replica, while copies expire every second and the
// rate limit counts every request; afterwards the replicas share again.
func TestRedisOutageFailsNoRequest(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, map[string]string{"RATE_LIMIT": "1000000", "CACHE_TTL": "1s", "REDIS_TIMEOUT": "100ms"})
	for _, r := range rep {
		if res := r.Query(t, `{ opportunityTypes { typeId } }`, nil); len(res.Errors) > 0 {
			t.Fatalf("warm-up: %s", res.Body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			r := rep[i%3]
			for ctx.Err() == nil {
				// The injected clock moves past the TTL, so that refreshes
				// run through Redis, and without it, during the outage.
				r.Clock.Advance(200 * time.Millisecond)
				resp, body := testkit.PostJSON(t, r.Server.URL+"/query", `{"query":"{ opportunityTypes { typeId } }"}`, nil)
				if resp.StatusCode != http.StatusOK || strings.Contains(body, `"errors"`) {
					failed.Add(1)
					t.Errorf("during the outage: %d %s", resp.StatusCode, body)
					return
				}
				ok.Add(1)
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	rs.Stop()
	time.Sleep(600 * time.Millisecond)
	if _, page := testkit.Get(t, rep[0].Server.URL+"/metrics", nil); !strings.Contains(page, "\nredis_up 0\n") {
		t.Errorf("/metrics during the outage has no redis_up 0")
	}
	time.Sleep(600 * time.Millisecond)
	rs.Start()
	wg.Wait()
	if failed.Load() > 0 || ok.Load() < 30 {
		t.Fatalf("%d requests failed, %d answered", failed.Load(), ok.Load())
	}
	// Back together: each replica pings Redis again within a second.
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range rep {
		for !r.Service.Redis.Up() {
			if time.Now().After(deadline) {
				t.Fatal("a replica did not rejoin Redis")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	resp, body := testkit.Get(t, rep[1].Server.URL+"/readyz", nil)
	var ready struct {
		Redis struct{ Status string }
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || resp.StatusCode != http.StatusOK || ready.Redis.Status != "up" {
		t.Errorf("/readyz after Redis returned: %d %s", resp.StatusCode, body)
	}
	if _, page := testkit.Get(t, rep[1].Server.URL+"/metrics", nil); !strings.Contains(page, "\nredis_up 1\n") {
		t.Errorf("/metrics after the outage has no redis_up 1")
	}
	for _, r := range rep {
		if !strings.Contains(r.Logs.String(), "redis unavailable") {
			t.Errorf("a replica did not log the outage:\n%s", r.Logs)
		}
	}
	// The restarted Redis holds nothing (persistence off): the replicas
	// share again, and a change one replica fetches reaches the others
	// (their copies are due with its own: one clock; the version channel's
	// part is TestVersionsReachAReplicaWhoseClockLags).
	rep[0].Sim.SetDataset([]byte(`[{"typeName":"重启后","typeId":1}]`))
	rep[0].Clock.Advance(2 * time.Second)
	if err := rep[0].Service.Config.Revalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := mustVersion(t, rep[0])
	deadline = time.Now().Add(5 * time.Second)
	for _, r := range rep[1:] {
		for mustVersion(t, r) != want {
			if time.Now().After(deadline) {
				t.Fatalf("after Redis returned, a replica still serves %s, not the published %s", mustVersion(t, r), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// mustVersion is the version s holds.
func mustVersion(t *testing.T, s *teststack.Stack) string {
	t.Helper()
	held, ok := s.Service.Config.Peek()
	if !ok {
		t.Fatal("no copy held")
	}
	return held.Value.Version()
}

// TestChangeReachesEveryReplicasSubscribers: one replica refreshes a changed
// configuration; subscribers on all three hear of it within a second,
// although only one called the upstream.
func TestChangeReachesEveryReplicasSubscribers(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, nil)
	var streams []*sseStream
	var first change
	for _, r := range rep {
		st := openSSE(t, r.Server.URL, nil)
		first = st.nextChange(t)
		streams = append(streams, st)
	}
	calls := rep[0].Sim.Calls()
	rep[0].Sim.SetDataset([]byte(`[{"typeName":"改","typeId":1}]`))
	rep[0].Expire(t, 31*time.Second) // replica 1 refreshes, under the lease
	for i, st := range streams {
		ev, ok := st.next(t, 1500*time.Millisecond)
		if !ok || ev.name != "next" {
			t.Fatalf("replica %d's subscriber heard nothing within 1.5 s", i+1)
		}
		if strings.Contains(ev.data, first.Version) || !strings.Contains(ev.data, `"changedTypeIds":[`) {
			t.Errorf("replica %d's event %s after version %s", i+1, ev.data, first.Version)
		}
	}
	if got := rep[0].Sim.Calls() - calls; got != 1 {
		t.Errorf("%d upstream calls for the change, want 1", got)
	}
}

// TestStaleAcrossReplicas: with the upstream failing past the TTL, every
// replica serves its copy marked stale, and the failure costs one upstream
// call for all of them, not one each.
func TestStaleAcrossReplicas(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 3, map[string]string{"UPSTREAM_RETRIES": "0"})
	for _, r := range rep {
		if res := r.Query(t, `{ opportunityTypes { typeId } }`, nil); len(res.Errors) > 0 {
			t.Fatalf("warm-up: %s", res.Body)
		}
	}
	calls := rep[0].Sim.Calls()
	rep[0].Sim.SetFault(simulator.FaultServerError)
	rep[0].Clock.Advance(31 * time.Second)
	for i, r := range rep {
		_ = r.Service.Config.Revalidate(context.Background()) // fails: the copy is kept
		res := r.Query(t, `{ opportunityTypes { typeId } }`, nil)
		if len(res.Errors) > 0 || !strings.Contains(string(res.Body), `"stale":true`) || !strings.Contains(string(res.Data), "1001") {
			t.Errorf("replica %d with the upstream failing: %s", i+1, res.Body)
		}
	}
	if got := rep[0].Sim.Calls() - calls; got != 1 {
		t.Errorf("%d upstream calls for one failed refresh on three replicas, want 1", got)
	}
}

// TestNothingSecretInRedis: after requests with API keys, APQ and every
// limit counting in Redis, no credential, client key or client id is in any
// Redis key or value, and every key starts with REDIS_PREFIX.
func TestNothingSecretInRedis(t *testing.T) {
	rs := testkit.StartRedis(t)
	const apiKey = "k-secretclientkey-0123456789abcdef"
	rep := replicas(t, rs, 2, map[string]string{
		"AUTH_MODE": "apikey", "AUTH_API_KEYS": "frontend-web:" + apiKey,
		"RATE_LIMIT": "1000", "EXECUTION_RATE": "1000", "TRUSTED_PROXIES": "127.0.0.1/32",
	})
	key := map[string]string{"X-API-Key": apiKey, "X-Forwarded-For": "198.51.100.23"}
	for _, r := range rep {
		if resp, body := testkit.PostJSON(t, r.Server.URL+"/query", apqBody(`{ opportunityTypes { typeId } }`, true), key); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	rdb := rs.Client()
	ctx := context.Background()
	// Request counts and executions' spending are sent every 100 ms.
	has := func(keys []string, part string) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, part) })
	}
	var keys []string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if keys, err = rdb.Keys(ctx, "*").Result(); err != nil {
			t.Fatal(err)
		}
		if has(keys, ":config") && has(keys, ":apq:") && has(keys, ":ratelimit:") && has(keys, ":executions:") {
			break
		}
	}
	if !has(keys, ":config") || !has(keys, ":apq:") || !has(keys, ":ratelimit:") || !has(keys, ":executions:") {
		t.Fatalf("keys %q: want the copy, an APQ document, request counts and executions' spending", keys)
	}
	creds := testkit.Creds()
	secrets := []string{apiKey, "frontend-web", "198.51.100.23", creds.AppKey.Reveal(), creds.AppSecret.Reveal(), creds.AppID}
	for _, k := range keys {
		if !strings.HasPrefix(k, "replicas-test:") {
			t.Errorf("key %q does not start with REDIS_PREFIX", k)
		}
		var value string
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			value = rdb.Get(ctx, k).Val()
		case "hash":
			value = fmt.Sprint(rdb.HGetAll(ctx, k).Val())
		default:
			t.Errorf("key %q of type %s", k, typ)
		}
		for _, s := range secrets {
			if strings.Contains(k, s) || strings.Contains(value, s) {
				t.Errorf("key %q or its value holds %q", k, s)
			}
		}
	}
}

// TestVersionsReachAReplicaWhoseClockLags: a replica whose clock is behind
// its neighbours' still holds a copy it thinks fresh when another replica
// fetches a change; the published version makes it read the change at
// once, and its subscribers hear of it within a second.
func TestVersionsReachAReplicaWhoseClockLags(t *testing.T) {
	rs := testkit.StartRedis(t)
	rep := replicas(t, rs, 2, nil)
	env := map[string]string{"REDIS_URL": rs.URL(), "REDIS_PREFIX": "replicas-test:"}
	lagging := teststack.New(t, teststack.Options{Env: env, Beside: rep[0], Clock: testkit.NewClock(rep[0].Clock.Now())})
	if res := rep[0].Query(t, `{ opportunityTypes { typeId } }`, nil); len(res.Errors) > 0 {
		t.Fatal(string(res.Body))
	}
	st := openSSE(t, lagging.Server.URL, nil)
	first := st.nextChange(t)
	rep[0].Sim.SetDataset([]byte(`[{"typeName":"时钟","typeId":1}]`))
	rep[0].Expire(t, 31*time.Second) // the lagging replica's clock stays where it was
	ev, ok := st.next(t, 1500*time.Millisecond)
	if !ok || ev.name != "next" || strings.Contains(ev.data, first.Version) {
		t.Fatalf("the lagging replica's subscriber heard %+v (open %v) after version %s", ev, ok, first.Version)
	}
	if got, want := mustVersion(t, lagging), mustVersion(t, rep[0]); got != want {
		t.Errorf("the lagging replica holds %s, the others %s", got, want)
	}
}
