// Package config reads the service's settings from the environment through an
// injectable lookup, so tests pass a map and a bad value names its variable.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
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

	CacheTTL        time.Duration
	CacheMaxStale   time.Duration
	CacheRetry      time.Duration
	LoaderWait      time.Duration
	ShutdownTimeout time.Duration

	// Introspection is on in demo mode and off against a real upstream unless
	// INTROSPECTION says otherwise.
	Introspection   bool
	Playground      bool
	Limits          limits.Limits
	MaxRequestBytes int64
	MaxBatch        int
	RequestTimeout  time.Duration

	// Against slow clients: see http.Server.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// Auth holds the client-authentication settings except Logger and Now,
	// which run sets.
	Auth               auth.Options
	ResponseCache      bool
	ResponseCacheBytes int
	APQCacheSize       int
	PersistedOnly      bool
	PersistedFile      string
	CORSAllowedOrigins []string
	RateLimit          int // requests per client per RateLimitWindow; 0 disables
	RateLimitWindow    time.Duration
	TrustedProxies     []netip.Prefix
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

// Variable is one environment variable the service reads, for the README table
// and for tests that check every one is documented.
type Variable struct {
	Name, Default, Help string
}

// Variables lists every setting with its default.
var Variables = []Variable{
	{"PORT", "8080", "TCP port to listen on"},
	{"LOG_FORMAT", "json", "log lines as json or text"},
	{"LOG_FLUSH_INTERVAL", "100ms", "log lines are buffered for at most this long (warnings and errors are written at once); 0 writes each line as it is made"},
	{"UPSTREAM_URL", "", "tanmarket base URL, e.g. https://open.example.com; unset runs the embedded simulator with demo data"},
	{"UPSTREAM_APP_ID", "", "application appId (required with UPSTREAM_URL)"},
	{"UPSTREAM_APP_KEY", "", "application appKey (required with UPSTREAM_URL; never logged)"},
	{"UPSTREAM_APP_SECRET", "", "application secret used to sign (required with UPSTREAM_URL; never logged)"},
	{"UPSTREAM_SIGN_ALGORITHM", "md5", "md5, sha1, sha256 or hmac-sha256 (HMAC keyed by the app secret)"},
	{"UPSTREAM_SIGN_TEMPLATE", signature.DefaultTemplate, "message to sign, over {appId} {appKey} {appSecret} {timestamp}"},
	{"UPSTREAM_TIMESTAMP_UNIT", "ms", "timestamp header in ms (milliseconds) or s (seconds)"},
	{"UPSTREAM_TIMEOUT", "3s", "bound on one upstream attempt"},
	{"UPSTREAM_BUDGET", "8s", "bound on one refresh, retries and backoff included"},
	{"UPSTREAM_RETRIES", "2", "retries after a network error, timeout, 5xx or 429 (exponential backoff, full jitter, Retry-After honoured)"},
	{"BREAKER_FAILURES", "5", "consecutive failed refreshes that open the circuit breaker"},
	{"BREAKER_COOLDOWN", "30s", "how long the open breaker fails fast before one probe"},
	{"UPSTREAM_MAX_BODY_BYTES", "16777216", "largest upstream response accepted"},
	{"CACHE_TTL", "30s", "how long a fetched configuration is fresh"},
	{"CACHE_MAX_STALE", "24h", "how long past its TTL a configuration is still served while the upstream fails"},
	{"CACHE_REFRESH_RETRY", "1s", "while a stale copy is served, the spacing of refresh attempts"},
	{"LOADER_WAIT", "1ms", "dataloader batch window"},
	{"SHUTDOWN_TIMEOUT", "10s", "how long shutdown waits for in-flight requests"},
	{"PLAYGROUND", "true", "serve the GraphiQL playground at /"},
	{"INTROSPECTION", "", "true or false; unset means on in demo mode, off with UPSTREAM_URL"},
	{"MAX_REQUEST_BYTES", "1048576", "largest request body; larger gets 413"},
	{"MAX_QUERY_BYTES", "32768", "largest query document"},
	{"MAX_TOKENS", "2000", "most parser tokens in a document"},
	{"MAX_DEPTH", "15", "deepest field nesting of an operation (introspection excepted)"},
	{"MAX_ALIASES", "30", "most aliases in an operation"},
	{"MAX_ROOT_FIELDS", "10", "most root fields in an operation"},
	{"MAX_DIRECTIVES", "10", "most directives in a document"},
	{"MAX_JSON_DEPTH", "32", "deepest JSON nesting of a request (variables, extensions)"},
	{"MAX_COMPLEXITY", "300000", "highest query cost, lists multiplying their children"},
	{"MAX_BATCH", "0", "most operations in one batched POST; 0 refuses batches"},
	{"REQUEST_TIMEOUT", "15s", "deadline of one request, upstream work included"},
	{"SERVER_READ_HEADER_TIMEOUT", "5s", "time a client has to send its request headers"},
	{"SERVER_READ_TIMEOUT", "15s", "time a client has to send its whole request"},
	{"SERVER_WRITE_TIMEOUT", "30s", "time to write a response; keep above REQUEST_TIMEOUT"},
	{"SERVER_IDLE_TIMEOUT", "2m", "how long an idle keep-alive connection stays open"},
	{"SERVER_MAX_HEADER_BYTES", "65536", "largest request header block"},
	{"RESPONSE_CACHE", "true", "keep encoded answers per configuration version and serve repeats without executing"},
	{"RESPONSE_CACHE_BYTES", "33554432", "size bound of the response cache (LRU)"},
	{"APQ_CACHE_SIZE", "1000", "automatic persisted queries kept (LRU); 0 turns APQ off"},
	{"PERSISTED_QUERIES_ONLY", "false", "true: run only the documents in PERSISTED_QUERIES_FILE (trusted documents)"},
	{"PERSISTED_QUERIES_FILE", "", "manifest of trusted documents, {\"<sha256>\": \"<document>\"} as graphql-codegen emits"},
	{"CORS_ALLOWED_ORIGINS", "", "origins allowed to call from browsers, comma-separated, e.g. https://app.example.com"},
	{"AUTH_MODE", "none", "client authentication: none, apikey or jwt"},
	{"AUTH_API_KEYS", "", "with apikey: name:key pairs, comma-separated (never logged)"},
	{"AUTH_JWT_HMAC_SECRET", "", "with jwt: HMAC secret of HS256/384/512 tokens, at least 32 bytes (never logged)"},
	{"AUTH_JWKS_URL", "", "with jwt: URL of the issuer's JWK Set, for RS/PS/ES/EdDSA tokens"},
	{"AUTH_JWT_ISSUER", "", "with jwt: required iss claim"},
	{"AUTH_JWT_AUDIENCE", "", "with jwt: required aud claim"},
	{"AUTH_JWT_LEEWAY", "30s", "with jwt: clock skew allowed on exp, nbf, iat"},
	{"RATE_LIMIT", "600", "requests per client per RATE_LIMIT_WINDOW (client: API key, JWT subject or IP); 0 disables"},
	{"RATE_LIMIT_WINDOW", "1m", "rate-limit window"},
	{"TRUSTED_PROXIES", "", "CIDRs or IPs of proxies whose X-Forwarded-For is believed, comma-separated"},
}

// Load reads every variable and returns all problems at once, each naming its
// variable. Secrets never appear in the messages.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, v := range Variables {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Errorf("%s: %q is not %s", name, value, want))
	}
	duration := func(name string) time.Duration {
		s := get(name)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad(name, s, "a positive duration such as 30s or 5m")
		}
		return d
	}

	integer := func(name string, min int) int {
		s := get(name)
		n, err := strconv.Atoi(s)
		if err != nil || n < min {
			bad(name, s, fmt.Sprintf("an integer of at least %d", min))
		}
		return n
	}

	var c Config
	if s := get("PORT"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 65535 {
			bad("PORT", s, "a port number (0-65535)")
		}
		c.Port = p
	}

	switch c.LogFormat = get("LOG_FORMAT"); c.LogFormat {
	case "json", "text":
	default:
		bad("LOG_FORMAT", c.LogFormat, "json or text")
	}
	if s := get("LOG_FLUSH_INTERVAL"); s == "0" {
		c.LogFlushInterval = 0
	} else {
		c.LogFlushInterval = duration("LOG_FLUSH_INTERVAL")
	}

	c.UpstreamURL = getenv("UPSTREAM_URL")
	c.Credentials = signature.Credentials{
		AppID:     getenv("UPSTREAM_APP_ID"),
		AppKey:    signature.NewSecret(getenv("UPSTREAM_APP_KEY")),
		AppSecret: signature.NewSecret(getenv("UPSTREAM_APP_SECRET")),
	}
	if c.UpstreamURL != "" {
		if u, err := url.Parse(c.UpstreamURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// Not echoed: a URL may carry user:password.
			errs = append(errs, errors.New("UPSTREAM_URL: want an http(s)://host[/prefix] URL"))
		}
		for _, name := range []string{"UPSTREAM_APP_ID", "UPSTREAM_APP_KEY", "UPSTREAM_APP_SECRET"} {
			if getenv(name) == "" {
				errs = append(errs, fmt.Errorf("%s: required when UPSTREAM_URL is set", name))
			}
		}
	} else {
		if c.Credentials.AppID == "" {
			c.Credentials.AppID = demoAppID
		}
		if c.Credentials.AppKey.IsZero() {
			c.Credentials.AppKey = signature.NewSecret(demoAppKey)
		}
		if c.Credentials.AppSecret.IsZero() {
			c.Credentials.AppSecret = signature.NewSecret(demoAppSecret)
		}
	}

	// Each part is checked on its own, so that every bad one is reported.
	alg := signature.Algorithm(get("UPSTREAM_SIGN_ALGORITHM"))
	unit := signature.Unit(get("UPSTREAM_TIMESTAMP_UNIT"))
	template := get("UPSTREAM_SIGN_TEMPLATE")
	for _, check := range []struct {
		name string
		err  error
	}{
		{"UPSTREAM_SIGN_ALGORITHM", alg.Validate()},
		{"UPSTREAM_TIMESTAMP_UNIT", unit.Validate()},
		{"UPSTREAM_SIGN_TEMPLATE", signature.ValidateTemplate(template)},
	} {
		if check.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", check.name, check.err))
		}
	}
	if recipe, err := signature.NewRecipe(alg, template, unit); err == nil {
		c.Recipe = recipe
	}

	c.UpstreamTimeout = duration("UPSTREAM_TIMEOUT")
	c.UpstreamBudget = duration("UPSTREAM_BUDGET")
	c.UpstreamRetries = integer("UPSTREAM_RETRIES", 0)
	c.BreakerFailures = integer("BREAKER_FAILURES", 1)
	c.BreakerCooldown = duration("BREAKER_COOLDOWN")
	if s := get("UPSTREAM_MAX_BODY_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			bad("UPSTREAM_MAX_BODY_BYTES", s, "a positive number of bytes")
		}
		c.MaxBodyBytes = n
	}
	c.CacheTTL = duration("CACHE_TTL")
	c.CacheMaxStale = duration("CACHE_MAX_STALE")
	c.CacheRetry = duration("CACHE_REFRESH_RETRY")
	c.LoaderWait = duration("LOADER_WAIT")
	c.ShutdownTimeout = duration("SHUTDOWN_TIMEOUT")

	switch s := get("PLAYGROUND"); s {
	case "true", "false":
		c.Playground = s == "true"
	default:
		bad("PLAYGROUND", s, "true or false")
	}
	switch s := getenv("INTROSPECTION"); s {
	case "":
		c.Introspection = c.Demo()
	case "true", "false":
		c.Introspection = s == "true"
	default:
		bad("INTROSPECTION", s, "true or false")
	}
	c.MaxRequestBytes = int64(integer("MAX_REQUEST_BYTES", 1))
	c.Limits = limits.Limits{
		MaxQueryBytes: integer("MAX_QUERY_BYTES", 1),
		MaxTokens:     integer("MAX_TOKENS", 1),
		MaxDepth:      integer("MAX_DEPTH", 1),
		MaxAliases:    integer("MAX_ALIASES", 0),
		MaxRootFields: integer("MAX_ROOT_FIELDS", 1),
		MaxDirectives: integer("MAX_DIRECTIVES", 0),
		MaxJSONDepth:  integer("MAX_JSON_DEPTH", 1),
		MaxComplexity: integer("MAX_COMPLEXITY", 1),
	}
	c.MaxBatch = integer("MAX_BATCH", 0)
	c.RequestTimeout = duration("REQUEST_TIMEOUT")
	c.ReadHeaderTimeout = duration("SERVER_READ_HEADER_TIMEOUT")
	c.ReadTimeout = duration("SERVER_READ_TIMEOUT")
	c.WriteTimeout = duration("SERVER_WRITE_TIMEOUT")
	c.IdleTimeout = duration("SERVER_IDLE_TIMEOUT")
	c.MaxHeaderBytes = integer("SERVER_MAX_HEADER_BYTES", 1024)
	if c.WriteTimeout > 0 && c.RequestTimeout >= c.WriteTimeout {
		errs = append(errs, fmt.Errorf("SERVER_WRITE_TIMEOUT: %s must exceed REQUEST_TIMEOUT (%s), or a slow request's answer is cut off", c.WriteTimeout, c.RequestTimeout))
	}

	mode, err := auth.ParseMode(get("AUTH_MODE"))
	if err != nil {
		errs = append(errs, fmt.Errorf("AUTH_MODE: %w", err))
	}
	c.Auth = auth.Options{
		Mode:       mode,
		HMACSecret: signature.NewSecret(getenv("AUTH_JWT_HMAC_SECRET")),
		JWKSURL:    getenv("AUTH_JWKS_URL"),
		Issuer:     getenv("AUTH_JWT_ISSUER"),
		Audience:   getenv("AUTH_JWT_AUDIENCE"),
		Leeway:     duration("AUTH_JWT_LEEWAY"),
	}
	if s := getenv("AUTH_API_KEYS"); s != "" {
		keys, err := auth.ParseAPIKeys(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUTH_API_KEYS: %w", err))
		}
		c.Auth.APIKeys = keys
	}
	switch s := get("RESPONSE_CACHE"); s {
	case "true", "false":
		c.ResponseCache = s == "true"
	default:
		bad("RESPONSE_CACHE", s, "true or false")
	}
	c.ResponseCacheBytes = integer("RESPONSE_CACHE_BYTES", 1)
	c.APQCacheSize = integer("APQ_CACHE_SIZE", 0)
	switch s := get("PERSISTED_QUERIES_ONLY"); s {
	case "true", "false":
		c.PersistedOnly = s == "true"
	default:
		bad("PERSISTED_QUERIES_ONLY", s, "true or false")
	}
	c.PersistedFile = getenv("PERSISTED_QUERIES_FILE")
	if c.PersistedOnly && c.PersistedFile == "" {
		errs = append(errs, errors.New("PERSISTED_QUERIES_FILE: required when PERSISTED_QUERIES_ONLY=true"))
	}
	for _, o := range strings.Split(getenv("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			bad("CORS_ALLOWED_ORIGINS", o, "an origin such as https://app.example.com")
			continue
		}
		c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
	}
	c.RateLimit = integer("RATE_LIMIT", 0)
	c.RateLimitWindow = duration("RATE_LIMIT_WINDOW")
	if s := getenv("TRUSTED_PROXIES"); s != "" {
		prefixes, err := ratelimit.ParsePrefixes(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = prefixes
	}

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}
