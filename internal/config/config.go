// Package config reads the service's settings from the environment through an
// injectable lookup, so tests pass a map and a bad value names its variable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/origin"
	"github.com/oppconfig/oppconfig-graphql/internal/ratelimit"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// Config is every setting of the service.
type Config struct {
	Port      int    // PORT; 0 picks a free port (tests)
	LogFormat string // json or text
	// LogFlushInterval bounds how long a log line may wait in the buffer; 0
	// writes every line as it is made.
	LogFlushInterval time.Duration

	// UpstreamURL is the tanmarket base URL; empty means demo mode, served by the
	// embedded simulator.
	UpstreamURL     string
	Credentials     signature.Credentials
	Recipe          signature.Recipe
	UpstreamTimeout time.Duration // one attempt
	UpstreamBudget  time.Duration // one refresh, retries included
	UpstreamRetries int
	BreakerFailures int
	BreakerCooldown time.Duration
	MaxBodyBytes    int64
	// UpstreamAllowEmpty is how long the upstream must answer an empty type
	// list, continuously, before it replaces a copy that has types; 0 (off)
	// never lets it.
	UpstreamAllowEmpty time.Duration

	CacheTTL        time.Duration
	CacheMaxStale   time.Duration
	CacheRetry      time.Duration
	ShutdownTimeout time.Duration

	// Introspection, Playground and Explorer are on in demo mode and off
	// against a real upstream unless INTROSPECTION, PLAYGROUND and EXPLORER
	// say otherwise: a newcomer's first run shows everything, a production
	// deployment shows nothing it did not ask for.
	Introspection   bool
	Playground      bool
	Explorer        bool
	Limits          limits.Limits
	MaxRequestBytes int64
	MaxBatch        int
	RequestTimeout  time.Duration
	// ExecutionMemory and ExecutionWait bound the executions running at
	// once by the memory their answers will take (graph.Options).
	ExecutionMemory int64
	ExecutionWait   time.Duration
	// GCHeapFloor is the fewest bytes of new heap between two garbage
	// collections (internal/gcfloor); 0 turns the floor off.
	GCHeapFloor int64

	// Against slow clients: see http.Server.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MetricsAddr is the host:port of a listener of its own for /metrics;
	// empty serves /metrics on the main listener (behind AUTH_MODE).
	MetricsAddr string

	// Auth holds the client-authentication settings except Logger and Now,
	// which run sets.
	Auth               auth.Options
	ResponseCache      bool
	ResponseCacheBytes int
	// FastPath executes the queries internal/fastpath covers by their
	// compiled plans; off, gqlgen executes everything.
	FastPath           bool
	APQCacheSize       int
	PersistedOnly      bool
	PersistedFile      string
	CORSAllowedOrigins []string
	RateLimit          int // requests per client per RateLimitWindow; 0 disables
	// ExecutionRate and ExecutionBurst pace each client's executions, in
	// whole configurations a minute and at once (ratelimit.Executions).
	ExecutionRate   int
	ExecutionBurst  int
	RateLimitWindow time.Duration
	TrustedProxies  []netip.Prefix
	// SubgraphMode serves Apollo Federation's _service and _entities to a
	// gateway (internal/subgraph); SubgraphSecret, when set, is the shared
	// secret that gateway sends, and SubgraphClientHeader the header in
	// which it names the client it forwards for.
	SubgraphMode         bool
	SubgraphSecret       signature.Secret
	SubgraphClientHeader string
	// MaxStreams and MaxStreamsPerClient bound the open subscription
	// streams (SSE and WebSocket), in all and per client; StreamKeepAlive
	// spaces the keep-alives of an idle stream.
	MaxStreams          int
	MaxStreamsPerClient int
	StreamKeepAlive     time.Duration

	// RedisURL, when set, shares the configuration copy, APQ registrations
	// and rate-limit counters among replicas through Redis (internal/redis);
	// it may hold a password, so it is a Secret. RedisPrefix starts every
	// key; RedisTimeout bounds one command, past which a replica falls back
	// to its own state.
	RedisURL     signature.Secret
	RedisPrefix  string
	RedisTimeout time.Duration
	// UpstreamRateLimit caps the calls to the upstream per second for this
	// appId, retries included: per replica, or for all of them with Redis;
	// 0 does not cap them.
	UpstreamRateLimit int
}

// Demo reports whether the service runs against the embedded simulator.
func (c Config) Demo() bool { return c.UpstreamURL == "" }

// Demo credentials, used with the simulator when none are configured. They are
// not secret: the simulator accepts nothing else and serves only demo data.
const (
	demoAppID     = "demo-app"
	demoAppKey    = "demo-key"
	demoAppSecret = "demo-secret"
)

// Variable is one environment variable the service reads: its name, its
// default ("" for none) and the help text `-h` prints. The README documents
// each one, and a test holds the two together.
type Variable struct {
	Name, Default, Help string
}

// Variables lists every setting with its default and help text, in the order
// `-h` prints them and the README's table documents them. Load takes its
// defaults from here and nowhere else; a package constant that repeats one of
// these values would be a second default that configuration overrides.
//
// It is a variable only because Go has no constant slices; nothing assigns to
// it. It stays a variable rather than a function returning a fresh table
// because main's usage text and the README test range over it as a value.
var Variables = []Variable{
	{"PORT", "8080", "TCP port to listen on"},
	{"LOG_FORMAT", "json", "log lines as json or text"},
	{"LOG_FLUSH_INTERVAL", "100ms", "log lines are buffered for at most this long (warnings and errors are written at once); 0 writes each line as it is made"},
	{"UPSTREAM_URL", "", "tanmarket base URL, e.g. https://open.example.com; unset runs the embedded simulator with demo data"},
	{"UPSTREAM_APP_ID", "", "application appId (required with UPSTREAM_URL)"},
	{"UPSTREAM_APP_KEY", "", "application appKey (required with UPSTREAM_URL; never logged)"},
	{"UPSTREAM_APP_SECRET", "", "application secret used to sign (required with UPSTREAM_URL; never logged)"},
	{"UPSTREAM_SIGN_ALGORITHM", string(signature.DefaultAlgorithm), "md5, sha1, sha256 or hmac-sha256 (HMAC keyed by the app secret)"},
	{"UPSTREAM_SIGN_TEMPLATE", signature.DefaultTemplate, "message to sign, over {appId} {appKey} {appSecret} {timestamp}"},
	{"UPSTREAM_TIMESTAMP_UNIT", string(signature.DefaultUnit), "timestamp header in ms (milliseconds) or s (seconds)"},
	{"UPSTREAM_TIMEOUT", "3s", "bound on one upstream attempt"},
	{"UPSTREAM_BUDGET", "8s", "bound on one refresh, retries and backoff included"},
	{"UPSTREAM_RETRIES", "2", "retries after a network error, timeout, 5xx or 429 (exponential backoff, full jitter, Retry-After honoured)"},
	{"BREAKER_FAILURES", "5", "consecutive failed refreshes that open the circuit breaker"},
	{"BREAKER_COOLDOWN", "30s", "how long the open breaker fails fast before one probe; at most 2s until the first configuration is fetched, as there is nothing to serve meanwhile"},
	{"UPSTREAM_MAX_BODY_BYTES", "16777216", "largest upstream response accepted"},
	{"UPSTREAM_ALLOW_EMPTY", "off", "off, or a duration: how long the upstream must answer an empty type list, continuously, before it replaces a configuration that has types; off never lets it (an empty list is always accepted while no configuration with types is held)"},
	{"CACHE_TTL", "30s", "how long a fetched configuration is fresh"},
	{"CACHE_MAX_STALE", "24h", "how long past its TTL a configuration is still served, at once, while it is refreshed in the background or while the upstream fails"},
	{"CACHE_REFRESH_RETRY", "1s", "after a failed refresh, the spacing of the next attempts"},
	{"SHUTDOWN_TIMEOUT", "10s", "how long shutdown waits for in-flight requests"},
	{"PLAYGROUND", "", "serve the GraphiQL playground at / (true or false); unset means on in demo mode, off with UPSTREAM_URL"},
	{"EXPLORER", "", "serve the pipeline explorer at /explorer (true or false); unset means on in demo mode, off with UPSTREAM_URL"},
	{"INTROSPECTION", "", "serve __schema, __type and /graphql/schema.graphql (true or false); unset means on in demo mode, off with UPSTREAM_URL"},
	{"MAX_REQUEST_BYTES", "1048576", "largest request body; larger gets 413"},
	{"MAX_QUERY_BYTES", "32768", "largest query document"},
	{"MAX_TOKENS", "2000", "most parser tokens in a document"},
	{"MAX_DEPTH", "15", "deepest field nesting of an operation (introspection excepted)"},
	{"MAX_ALIASES", "100", "most aliases in an operation; what an answer costs is bounded by MAX_COST_FACTOR"},
	{"MAX_ROOT_FIELDS", "100", "most root fields in an operation; what an answer costs is bounded by MAX_COST_FACTOR"},
	{"MAX_DIRECTIVES", "10", "most directives in a document"},
	{"MAX_JSON_DEPTH", "32", "deepest JSON nesting of a request (variables, extensions)"},
	{"MAX_COST_FACTOR", "4", "largest answer, counted on the configuration it will be built from before execution, as a multiple of the whole configuration served once (at least 1000 values)"},
	{"MAX_RESPONSE_BYTES", "8388608", "largest answer in bytes, counted before execution (the large dataset's full query is 1.9 MB)"},
	{"EXECUTION_MEMORY", "134217728", "memory the executions running at once may hold, each weighed by the answer it will build; over it a request waits EXECUTION_WAIT, then gets 503"},
	{"EXECUTION_WAIT", "1s", "longest a request waits for EXECUTION_MEMORY before it gets 503 with Retry-After"},
	{"GC_HEAP_FLOOR", "33554432", "fewest bytes of garbage between two collections: GOGC is raised for a small live heap so that collections are rarer, never lowered (0 leaves Go's GOGC alone; so does GOGC set)"},
	{"MAX_BATCH", "0", "most operations in one batched POST; 0 refuses batches"},
	{"REQUEST_TIMEOUT", "15s", "deadline of one request, upstream work included"},
	{"SERVER_READ_HEADER_TIMEOUT", "5s", "time a client has to send its request headers"},
	{"SERVER_READ_TIMEOUT", "15s", "time a client has to send its whole request"},
	{"SERVER_WRITE_TIMEOUT", "30s", "time to write a response; keep above REQUEST_TIMEOUT"},
	{"SERVER_IDLE_TIMEOUT", "2m", "how long an idle keep-alive connection stays open"},
	{"SERVER_MAX_HEADER_BYTES", "65536", "largest request header block"},
	{"METRICS_ADDR", "", "host:port of a listener of its own for /metrics, e.g. 127.0.0.1:9090 (no authentication: keep it off the public network); unset serves /metrics on PORT, behind AUTH_MODE"},
	{"RESPONSE_CACHE", "true", "keep encoded answers per configuration version and serve repeats without executing"},
	{"RESPONSE_CACHE_BYTES", "33554432", "size bound of the response cache (LRU)"},
	{"FAST_PATH", "true", "execute queries by their compiled plans (byte-identical to gqlgen, which runs what they do not cover); false runs every operation on gqlgen"},
	{"APQ_CACHE_SIZE", "1000", "automatic persisted queries kept (LRU); 0 turns APQ off"},
	{"PERSISTED_QUERIES_ONLY", "false", "true: run only the documents in PERSISTED_QUERIES_FILE (trusted documents)"},
	{"PERSISTED_QUERIES_FILE", "", "manifest of trusted documents, {\"<sha256>\": \"<document>\"} as graphql-codegen emits"},
	{"CORS_ALLOWED_ORIGINS", "", "origins allowed to call from browsers, comma-separated, e.g. https://app.example.com; https://*.example.com allows every subdomain"},
	{"AUTH_MODE", "none", "client authentication: none, apikey or jwt"},
	{"AUTH_API_KEYS", "", "with apikey: name:key pairs, comma-separated (never logged)"},
	{"AUTH_JWT_HMAC_SECRET", "", "with jwt: HMAC secret of HS256/384/512 tokens, at least 32 bytes (never logged)"},
	{"AUTH_JWKS_URL", "", "with jwt: URL of the issuer's JWK Set, for RS/PS/ES/EdDSA tokens"},
	{"AUTH_JWT_ISSUER", "", "with jwt: required iss claim"},
	{"AUTH_JWT_AUDIENCE", "", "with jwt: required aud claim"},
	{"AUTH_JWT_LEEWAY", "30s", "with jwt: clock skew allowed on exp, nbf, iat"},
	{"RATE_LIMIT", "6000", "requests per client per RATE_LIMIT_WINDOW, stored answers included (client: API key, JWT subject or IP); 0 disables"},
	{"RATE_LIMIT_WINDOW", "1m", "rate-limit window"},
	{"EXECUTION_RATE", "120", "executions per client per minute, each weighed by its counted answer in whole configurations (stored answers are not counted); 0 disables"},
	{"EXECUTION_BURST", "8", "whole configurations' worth of executions a client may make at once"},
	{"TRUSTED_PROXIES", "", "CIDRs or IPs of proxies whose X-Forwarded-For is believed, comma-separated"},
	{"SUBGRAPH_MODE", "false", "serve Apollo Federation v2's _service and _entities to a gateway (true or false); false refuses them with FEDERATION_DISABLED"},
	{"SUBGRAPH_SECRET", "", "with SUBGRAPH_MODE: shared secret, at least 16 characters, the gateway sends as X-Subgraph-Secret; set, only requests with it may use _service and _entities, and it authenticates them in place of AUTH_MODE's credential (never logged)"},
	{"SUBGRAPH_CLIENT_HEADER", "", "with SUBGRAPH_MODE: header in which the gateway names the client it forwards for, e.g. X-Client-Id; believed only with a valid X-Subgraph-Secret or from a TRUSTED_PROXIES peer, and then the client the rate limits count"},
	{"MAX_STREAMS", "10000", "most subscription streams (SSE and WebSocket) open at once; over it a new one gets 503 OVERLOADED"},
	{"MAX_STREAMS_PER_CLIENT", "20", "most subscription streams one client (API key, JWT subject or IP) holds open; over it 429 RATE_LIMITED"},
	{"STREAM_KEEPALIVE", "15s", "keep-alive interval of an idle stream (SSE comment, WebSocket ping), so that proxies keep it open"},
	{"UPSTREAM_RATE_LIMIT", "5", "most calls per second to the upstream for this appId, retries included, for all replicas sharing REDIS_URL (else per replica); 0 does not cap them"},
	{"REDIS_URL", "", "redis:// or rediss:// URL of the Redis the replicas share (configuration copy, APQ, rate limits, change events), e.g. redis://:password@10.0.0.5:6379/0 (never logged); unset runs alone"},
	{"REDIS_PREFIX", "oppconfig:", "start of every Redis key and channel this service uses"},
	{"REDIS_TIMEOUT", "250ms", "bound on one Redis command; past it, or with Redis down, each replica uses its own state until Redis answers again"},
}

// Load reads every variable and returns all problems at once, each naming its
// variable. Secrets never appear in the messages. A variable left unset (or
// empty) takes its default from Variables, the only place defaults live.
func Load(getenv func(string) string) (Config, error) {
	r := &reader{getenv: getenv, defaults: make(map[string]string, len(Variables))}
	for _, v := range Variables {
		r.defaults[v.Name] = v.Default
	}
	var c Config
	// One function per section. readUpstream comes before readGraphQL, whose
	// INTROSPECTION default depends on demo mode.
	for _, read := range []func(*reader, *Config){
		readHTTPServer,
		readLogging,
		readUpstream,
		readSigning,
		readResilience,
		readCaching,
		readGraphQL,
		readLimits,
		readAuth,
		readCORS,
		readRateLimit,
		readSubgraph,
		readPersisted,
		readStreams,
		readRedis,
	} {
		read(r, &c)
	}
	if len(r.problems) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(r.problems...))
	}
	return c, nil
}

// Defaults returns the configuration of an empty environment: every default
// in Variables, in demo mode. It is for tests and tools that need the
// documented values without an environment; an error means the table itself
// is wrong.
func Defaults() (Config, error) {
	return Load(func(string) string { return "" })
}

// readHTTPServer reads the listener and the http.Server bounds against slow
// clients, and checks that a request's deadline fits in its write timeout.
func readHTTPServer(r *reader, c *Config) {
	c.Port = r.port("PORT")
	c.RequestTimeout = r.duration("REQUEST_TIMEOUT")
	c.ReadHeaderTimeout = r.duration("SERVER_READ_HEADER_TIMEOUT")
	c.ReadTimeout = r.duration("SERVER_READ_TIMEOUT")
	c.WriteTimeout = r.duration("SERVER_WRITE_TIMEOUT")
	c.IdleTimeout = r.duration("SERVER_IDLE_TIMEOUT")
	c.MaxHeaderBytes = r.integer("SERVER_MAX_HEADER_BYTES", 1024)
	c.ShutdownTimeout = r.duration("SHUTDOWN_TIMEOUT")
	c.MetricsAddr = r.get("METRICS_ADDR")
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || !validPort(port) {
			r.invalid("METRICS_ADDR", c.MetricsAddr, "a host:port such as 127.0.0.1:9090 or :9090")
		}
	}
	// Skipped when SERVER_WRITE_TIMEOUT is itself invalid (read as 0): that is
	// reported already, and comparing with it would add a false second problem.
	if c.WriteTimeout > 0 && c.RequestTimeout >= c.WriteTimeout {
		r.fail("SERVER_WRITE_TIMEOUT", "%s must exceed REQUEST_TIMEOUT (%s), or a slow request's answer is cut off", c.WriteTimeout, c.RequestTimeout)
	}
}

// readLogging reads the log format and how long a line may wait in the buffer.
func readLogging(r *reader, c *Config) {
	switch c.LogFormat = r.get("LOG_FORMAT"); c.LogFormat {
	case "json", "text":
	default:
		r.invalid("LOG_FORMAT", c.LogFormat, "json or text")
	}
	// "0" turns buffering off; any other value is a positive duration.
	if r.get("LOG_FLUSH_INTERVAL") != "0" {
		c.LogFlushInterval = r.duration("LOG_FLUSH_INTERVAL")
	}
}

// readUpstream reads the tanmarket URL and credentials. Neither the URL nor a
// credential is ever quoted in a message: a URL may carry user:password.
func readUpstream(r *reader, c *Config) {
	c.UpstreamURL = r.get("UPSTREAM_URL")
	c.Credentials = signature.Credentials{
		AppID:     r.get("UPSTREAM_APP_ID"),
		AppKey:    signature.NewSecret(r.get("UPSTREAM_APP_KEY")),
		AppSecret: signature.NewSecret(r.get("UPSTREAM_APP_SECRET")),
	}
	if c.Demo() {
		// The embedded simulator is given these same credentials, so a given
		// one is kept (to rehearse a real pair against it) and only a missing
		// one takes its demo value.
		if c.Credentials.AppID == "" {
			c.Credentials.AppID = demoAppID
		}
		if c.Credentials.AppKey.IsZero() {
			c.Credentials.AppKey = signature.NewSecret(demoAppKey)
		}
		if c.Credentials.AppSecret.IsZero() {
			c.Credentials.AppSecret = signature.NewSecret(demoAppSecret)
		}
		return
	}
	if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail("UPSTREAM_URL", "want an http(s)://host[/prefix] URL")
	}
	for _, name := range []string{"UPSTREAM_APP_ID", "UPSTREAM_APP_KEY", "UPSTREAM_APP_SECRET"} {
		if r.get(name) == "" {
			r.fail(name, "required when UPSTREAM_URL is set")
		}
	}
}

// readSigning reads the signing recipe. Each part is checked on its own, so
// that every bad one is reported, not only the first NewRecipe would meet.
func readSigning(r *reader, c *Config) {
	alg := signature.Algorithm(r.get("UPSTREAM_SIGN_ALGORITHM"))
	unit := signature.Unit(r.get("UPSTREAM_TIMESTAMP_UNIT"))
	template := r.get("UPSTREAM_SIGN_TEMPLATE")
	for _, check := range []struct {
		name string
		err  error
	}{
		{"UPSTREAM_SIGN_ALGORITHM", alg.Validate()},
		{"UPSTREAM_TIMESTAMP_UNIT", unit.Validate()},
		{"UPSTREAM_SIGN_TEMPLATE", signature.ValidateTemplate(template)},
	} {
		if check.err != nil {
			r.fail(check.name, "%w", check.err)
		}
	}
	// Its error is one of those just reported.
	if recipe, err := signature.NewRecipe(alg, template, unit); err == nil {
		c.Recipe = recipe
	}
}

// readResilience reads how the upstream client bounds, retries and breaks.
func readResilience(r *reader, c *Config) {
	c.UpstreamTimeout = r.duration("UPSTREAM_TIMEOUT")
	c.UpstreamBudget = r.duration("UPSTREAM_BUDGET")
	c.UpstreamRetries = r.integer("UPSTREAM_RETRIES", 0)
	c.BreakerFailures = r.integer("BREAKER_FAILURES", 1)
	c.BreakerCooldown = r.duration("BREAKER_COOLDOWN")
	c.MaxBodyBytes = r.bytes("UPSTREAM_MAX_BODY_BYTES")
	// "off" is the default rather than 0, which would read as "at once".
	if s := r.get("UPSTREAM_ALLOW_EMPTY"); s != "off" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			r.invalid("UPSTREAM_ALLOW_EMPTY", s, "off or a positive duration such as 10m")
		}
		c.UpstreamAllowEmpty = d
	}
}

// readCaching reads the configuration cache's lifetimes and the response
// cache.
func readCaching(r *reader, c *Config) {
	c.CacheTTL = r.duration("CACHE_TTL")
	c.CacheMaxStale = r.duration("CACHE_MAX_STALE")
	c.CacheRetry = r.duration("CACHE_REFRESH_RETRY")
	c.ResponseCache = r.boolean("RESPONSE_CACHE")
	c.ResponseCacheBytes = r.integer("RESPONSE_CACHE_BYTES", 1)
}

// readGraphQL reads what the GraphQL endpoint serves and how it executes.
func readGraphQL(r *reader, c *Config) {
	c.Playground = r.demoDefault("PLAYGROUND", c.Demo())
	c.Explorer = r.demoDefault("EXPLORER", c.Demo())
	c.Introspection = r.demoDefault("INTROSPECTION", c.Demo())
	c.FastPath = r.boolean("FAST_PATH")
}

// readLimits reads the bounds on one request. MAX_ALIASES, MAX_DIRECTIVES
// and MAX_BATCH may be 0: for the first two that turns the bound off (a zero
// limits.Limits field disables it), for MAX_BATCH it refuses batches.
func readLimits(r *reader, c *Config) {
	c.MaxRequestBytes = int64(r.integer("MAX_REQUEST_BYTES", 1))
	c.Limits = limits.Limits{
		MaxQueryBytes:    r.integer("MAX_QUERY_BYTES", 1),
		MaxTokens:        r.integer("MAX_TOKENS", 1),
		MaxDepth:         r.integer("MAX_DEPTH", 1),
		MaxAliases:       r.integer("MAX_ALIASES", 0),
		MaxRootFields:    r.integer("MAX_ROOT_FIELDS", 1),
		MaxDirectives:    r.integer("MAX_DIRECTIVES", 0),
		MaxJSONDepth:     r.integer("MAX_JSON_DEPTH", 1),
		MaxCostFactor:    r.integer("MAX_COST_FACTOR", 1),
		MaxResponseBytes: int(r.bytes("MAX_RESPONSE_BYTES")),
	}
	c.ExecutionMemory = r.bytes("EXECUTION_MEMORY")
	c.ExecutionWait = r.duration("EXECUTION_WAIT")
	// "0" turns the floor off; any other value is a positive byte count.
	if r.get("GC_HEAP_FLOOR") != "0" {
		c.GCHeapFloor = r.bytes("GC_HEAP_FLOOR")
	}
	c.MaxBatch = r.integer("MAX_BATCH", 0)
}

// readAuth reads client authentication. The keys and the HMAC secret are
// never quoted; auth.New checks what depends on the mode (a secret's length,
// keys present with apikey).
func readAuth(r *reader, c *Config) {
	mode, err := auth.ParseMode(r.get("AUTH_MODE"))
	if err != nil {
		r.fail("AUTH_MODE", "%w", err)
	}
	c.Auth = auth.Options{
		Mode:       mode,
		HMACSecret: signature.NewSecret(r.get("AUTH_JWT_HMAC_SECRET")),
		JWKSURL:    r.get("AUTH_JWKS_URL"),
		Issuer:     r.get("AUTH_JWT_ISSUER"),
		Audience:   r.get("AUTH_JWT_AUDIENCE"),
		Leeway:     r.duration("AUTH_JWT_LEEWAY"),
	}
	if s := r.get("AUTH_API_KEYS"); s != "" {
		keys, err := auth.ParseAPIKeys(s) // its errors name entries and key names, never a key
		if err != nil {
			r.fail("AUTH_API_KEYS", "%w", err)
		}
		c.Auth.APIKeys = keys
	}
}

// readCORS reads the browser origins allowed to call, exact or wildcard
// (https://*.example.com), as internal/origin matches them; each bad one is
// reported.
func readCORS(r *reader, c *Config) {
	for _, o := range strings.Split(r.get("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if _, err := origin.Parse(o); err != nil {
			r.fail("CORS_ALLOWED_ORIGINS", "%w", err)
			continue
		}
		c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
	}
}

// readRateLimit reads the per-client request and execution limits and the
// proxies whose X-Forwarded-For names the client they count.
func readRateLimit(r *reader, c *Config) {
	c.RateLimit = r.integer("RATE_LIMIT", 0)
	c.RateLimitWindow = r.duration("RATE_LIMIT_WINDOW")
	c.ExecutionRate = r.integer("EXECUTION_RATE", 0)
	c.ExecutionBurst = r.integer("EXECUTION_BURST", 1)
	if s := r.get("TRUSTED_PROXIES"); s != "" {
		prefixes, err := ratelimit.ParsePrefixes(s)
		if err != nil {
			r.fail("TRUSTED_PROXIES", "%w", err)
		}
		c.TrustedProxies = prefixes
	}
}

// minSubgraphSecret is the shortest SUBGRAPH_SECRET accepted: a shared
// secret short enough to guess would let anyone act as the gateway.
const minSubgraphSecret = 16

// readSubgraph reads the federation subgraph settings. The secret is never
// quoted; it and the client header mean nothing without SUBGRAPH_MODE, so
// either one set without it is a mistake worth stopping for.
func readSubgraph(r *reader, c *Config) {
	c.SubgraphMode = r.boolean("SUBGRAPH_MODE")
	secret := r.get("SUBGRAPH_SECRET")
	c.SubgraphSecret = signature.NewSecret(secret)
	switch {
	case secret == "":
	case !c.SubgraphMode:
		r.fail("SUBGRAPH_SECRET", "set without SUBGRAPH_MODE=true")
	case len(secret) < minSubgraphSecret || strings.IndexFunc(secret, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0:
		r.fail("SUBGRAPH_SECRET", "want at least %d printable ASCII characters without spaces (it travels in a header)", minSubgraphSecret)
	}
	c.SubgraphClientHeader = r.get("SUBGRAPH_CLIENT_HEADER")
	switch h := c.SubgraphClientHeader; {
	case h == "":
	case !c.SubgraphMode:
		r.fail("SUBGRAPH_CLIENT_HEADER", "set without SUBGRAPH_MODE=true")
	case !validHeaderName(h):
		r.invalid("SUBGRAPH_CLIENT_HEADER", h, "an HTTP header name such as X-Client-Id")
	}
}

// validHeaderName reports whether s is an RFC 9110 field name (a token).
func validHeaderName(s string) bool {
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return s != ""
}

// readStreams reads the bounds of subscription streams.
func readStreams(r *reader, c *Config) {
	c.MaxStreams = r.integer("MAX_STREAMS", 1)
	c.MaxStreamsPerClient = r.integer("MAX_STREAMS_PER_CLIENT", 1)
	c.StreamKeepAlive = r.duration("STREAM_KEEPALIVE") // positive: idle streams need keep-alives
}

// readRedis reads the Redis the replicas share and the upstream's call
// budget, which Redis makes one for all of them.
func readRedis(r *reader, c *Config) {
	c.UpstreamRateLimit = r.integer("UPSTREAM_RATE_LIMIT", 0)
	c.RedisURL = signature.NewSecret(r.get("REDIS_URL"))
	if u := c.RedisURL.Reveal(); u != "" {
		// The value is never quoted: it may hold a password.
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "redis" && parsed.Scheme != "rediss") || parsed.Host == "" {
			r.fail("REDIS_URL", "want redis://[user:password@]host:port[/db] or rediss://…")
		}
	}
	c.RedisPrefix = r.get("REDIS_PREFIX")
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " \t\r\n{}*?[]") {
		r.fail("REDIS_PREFIX", "want a non-empty prefix without spaces, braces or glob characters")
	}
	c.RedisTimeout = r.duration("REDIS_TIMEOUT")
}

// readPersisted reads automatic persisted queries and trusted documents.
func readPersisted(r *reader, c *Config) {
	c.APQCacheSize = r.integer("APQ_CACHE_SIZE", 0)
	c.PersistedOnly = r.boolean("PERSISTED_QUERIES_ONLY")
	c.PersistedFile = r.get("PERSISTED_QUERIES_FILE")
	if c.PersistedOnly && c.PersistedFile == "" {
		r.fail("PERSISTED_QUERIES_FILE", "required when PERSISTED_QUERIES_ONLY=true")
	}
}

// reader looks variables up, falling back on their defaults, and collects
// every problem so that Load can report them all at once. Each problem starts
// with the name of its variable.
type reader struct {
	getenv   func(string) string
	defaults map[string]string // from Variables
	problems []error
}

// get returns the variable's value, or its default when unset or empty.
func (r *reader) get(name string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return r.defaults[name]
}

// fail records a problem with the named variable.
func (r *reader) fail(name, format string, args ...any) {
	r.problems = append(r.problems, fmt.Errorf("%s: %w", name, fmt.Errorf(format, args...)))
}

// invalid records a value that is not what the variable wants, quoting it.
// Never call it with a secret's value: those get a message of their own.
func (r *reader) invalid(name, value, want string) {
	r.fail(name, "%q is not %s", value, want)
}

// duration reads a positive duration.
func (r *reader) duration(name string) time.Duration {
	s := r.get(name)
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		r.invalid(name, s, "a positive duration such as 30s or 5m")
	}
	return d
}

// integer reads an int of at least min.
func (r *reader) integer(name string, min int) int {
	s := r.get(name)
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		r.invalid(name, s, fmt.Sprintf("an integer of at least %d", min))
	}
	return n
}

// bytes reads a positive byte count that may exceed an int on 32-bit systems.
func (r *reader) bytes(name string) int64 {
	s := r.get(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		r.invalid(name, s, "a positive number of bytes")
	}
	return n
}

// port reads a TCP port; 0 asks the system for a free one.
func (r *reader) port(name string) int {
	s := r.get(name)
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		r.invalid(name, s, "a port number (0-65535)")
	}
	return p
}

// demoDefault reads a boolean whose default is demo: on in demo mode, off
// against a real upstream, for what shows the service to whoever can reach it.
func (r *reader) demoDefault(name string, demo bool) bool {
	if r.get(name) == "" {
		return demo
	}
	return r.boolean(name)
}

// validPort reports whether s is a TCP port number, 0 (any free port)
// included.
func validPort(s string) bool {
	p, err := strconv.Atoi(s)
	return err == nil && p >= 0 && p <= 65535
}

// boolean reads exactly true or false, so that a typo such as "ture" or "1"
// is reported rather than read as one of them.
func (r *reader) boolean(name string) bool {
	switch s := r.get(name); s {
	case "true", "false":
		return s == "true"
	default:
		r.invalid(name, s, "true or false")
		return false
	}
}
