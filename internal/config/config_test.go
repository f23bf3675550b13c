package config_test

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/auth"
	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// env is a map-backed getenv; a missing name reads as "".
type env map[string]string

func (e env) get(name string) string { return e[name] }

// with returns a copy of e with the given name=value pairs set.
func (e env) with(kv ...string) env {
	out := maps.Clone(e)
	if out == nil {
		out = env{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Distinctive credential values: any occurrence in an error text is a leak.
const (
	testAppKey    = "appkey-Zq8vLx"
	testAppSecret = "appsecret-P4nW7r"
	testPassword  = "hunter2"
)

// realEnv is a complete, valid configuration against a real upstream, with every
// variable set away from its default.
const (
	testAPIKey    = "apikey-Zq81mXv0Lr5tYw2c"
	testJWTSecret = "jwtsecret-0123456789abcdefghijklmnopqrstuv"
)

var realEnv = env{
	"SUBGRAPH_MODE":              "true",
	"SUBGRAPH_SECRET":            testSubgraphSecret,
	"SUBGRAPH_CLIENT_HEADER":     "X-Client-Id",
	"PORT":                       "9090",
	"UPSTREAM_URL":               "https://open.example.com/api",
	"UPSTREAM_APP_ID":            "app-42",
	"UPSTREAM_APP_KEY":           testAppKey,
	"UPSTREAM_APP_SECRET":        testAppSecret,
	"UPSTREAM_SIGN_ALGORITHM":    "hmac-sha256",
	"UPSTREAM_SIGN_TEMPLATE":     "appId={appId}&timestamp={timestamp}&key={appSecret}",
	"UPSTREAM_TIMESTAMP_UNIT":    "s",
	"UPSTREAM_TIMEOUT":           "2s",
	"UPSTREAM_MAX_BODY_BYTES":    "1048576",
	"CACHE_TTL":                  "1m",
	"CACHE_MAX_STALE":            "2h",
	"SHUTDOWN_TIMEOUT":           "3s",
	"INTROSPECTION":              "true",
	"MAX_REQUEST_BYTES":          "65536",
	"MAX_QUERY_BYTES":            "4096",
	"MAX_TOKENS":                 "500",
	"MAX_DEPTH":                  "8",
	"MAX_ALIASES":                "5",
	"MAX_ROOT_FIELDS":            "3",
	"MAX_DIRECTIVES":             "2",
	"MAX_JSON_DEPTH":             "8",
	"MAX_COST_FACTOR":            "2",
	"MAX_RESPONSE_BYTES":         "1048576",
	"EXECUTION_MEMORY":           "67108864",
	"EXECUTION_WAIT":             "2s",
	"EXECUTION_RATE":             "60",
	"EXECUTION_BURST":            "4",
	"MAX_STREAMS":                "500",
	"MAX_STREAMS_PER_CLIENT":     "5",
	"STREAM_KEEPALIVE":           "20s",
	"MAX_BATCH":                  "4",
	"UPSTREAM_BUDGET":            "20s",
	"UPSTREAM_RETRIES":           "0",
	"BREAKER_FAILURES":           "3",
	"BREAKER_COOLDOWN":           "1m",
	"UPSTREAM_ALLOW_EMPTY":       "10m",
	"REQUEST_TIMEOUT":            "20s",
	"AUTH_MODE":                  "jwt",
	"AUTH_API_KEYS":              "web:" + testAPIKey,
	"AUTH_JWT_HMAC_SECRET":       testJWTSecret,
	"AUTH_JWKS_URL":              "https://issuer.example.com/.well-known/jwks.json",
	"AUTH_JWT_ISSUER":            "https://issuer.example.com",
	"AUTH_JWT_AUDIENCE":          "oppconfig",
	"AUTH_JWT_LEEWAY":            "10s",
	"RATE_LIMIT":                 "50",
	"RATE_LIMIT_WINDOW":          "10s",
	"TRUSTED_PROXIES":            "10.0.0.0/8",
	"SERVER_READ_HEADER_TIMEOUT": "2s",
	"SERVER_READ_TIMEOUT":        "10s",
	"SERVER_WRITE_TIMEOUT":       "40s",
	"SERVER_IDLE_TIMEOUT":        "1m",
	"SERVER_MAX_HEADER_BYTES":    "32768",
	"PLAYGROUND":                 "true",
	"EXPLORER":                   "true",
	"METRICS_ADDR":               "127.0.0.1:9091",
	"CACHE_REFRESH_RETRY":        "5s",
	"LOG_FORMAT":                 "text",
	"LOG_FLUSH_INTERVAL":         "0",
	"GC_HEAP_FLOOR":              "0",
	"APQ_CACHE_SIZE":             "10",
	"RESPONSE_CACHE":             "false",
	"FAST_PATH":                  "false",
	"RESPONSE_CACHE_BYTES":       "1048576",
	"PERSISTED_QUERIES_ONLY":     "true",
	"PERSISTED_QUERIES_FILE":     "testdata/persisted.json",
	"CORS_ALLOWED_ORIGINS":       "https://app.example.com",
	"UPSTREAM_RATE_LIMIT":        "2",
	"REDIS_URL":                  "redis://:" + testPassword + "@10.0.0.9:6379/1",
	"REDIS_PREFIX":               "opp-test:",
	"REDIS_TIMEOUT":              "100ms",
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env{}.get)
	if err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Port", c.Port, 8080},
		{"LogFlushInterval", c.LogFlushInterval, 100 * time.Millisecond},
		{"UpstreamURL", c.UpstreamURL, ""},
		{"Demo", c.Demo(), true},
		{"AppID", c.Credentials.AppID, "demo-app"},
		{"AppKey", c.Credentials.AppKey.Reveal(), "demo-key"},
		{"AppSecret", c.Credentials.AppSecret.Reveal(), "demo-secret"},
		{"Algorithm", c.Recipe.Algorithm(), signature.MD5},
		{"Unit", c.Recipe.Unit(), signature.Milliseconds},
		{"Template", c.Recipe.Template(), "{appId}{appKey}{timestamp}{appSecret}"},
		{"UpstreamTimeout", c.UpstreamTimeout, 3 * time.Second},
		{"UpstreamBudget", c.UpstreamBudget, 8 * time.Second},
		{"UpstreamRetries", c.UpstreamRetries, 2},
		{"BreakerFailures", c.BreakerFailures, 5},
		{"BreakerCooldown", c.BreakerCooldown, 30 * time.Second},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(16 << 20)},
		{"UpstreamAllowEmpty off", c.UpstreamAllowEmpty, time.Duration(0)},
		{"Introspection in demo", c.Introspection, true},
		{"MaxRequestBytes", c.MaxRequestBytes, int64(1 << 20)},
		{"MaxDepth", c.Limits.MaxDepth, 15},
		{"MaxAliases", c.Limits.MaxAliases, 100},
		{"MaxRootFields", c.Limits.MaxRootFields, 100},
		{"MaxCostFactor", c.Limits.MaxCostFactor, 4},
		{"MaxResponseBytes", c.Limits.MaxResponseBytes, 8 << 20},
		{"ExecutionMemory", c.ExecutionMemory, int64(128 << 20)},
		{"ExecutionWait", c.ExecutionWait, time.Second},
		{"GCHeapFloor", c.GCHeapFloor, int64(32 << 20)},
		{"MaxTokens", c.Limits.MaxTokens, 2000},
		{"MaxDirectives", c.Limits.MaxDirectives, 10},
		{"MaxBatch", c.MaxBatch, 0},
		{"RequestTimeout", c.RequestTimeout, 15 * time.Second},
		{"AuthMode", c.Auth.Mode, auth.ModeNone},
		{"RateLimit", c.RateLimit, 6000},
		{"ExecutionRate", c.ExecutionRate, 120},
		{"ExecutionBurst", c.ExecutionBurst, 8},
		{"RateLimitWindow", c.RateLimitWindow, time.Minute},
		{"CacheTTL", c.CacheTTL, 30 * time.Second},
		{"CacheMaxStale", c.CacheMaxStale, 24 * time.Hour},
		{"FastPath", c.FastPath, true},
		{"ShutdownTimeout", c.ShutdownTimeout, 10 * time.Second},
		{"MaxStreams", c.MaxStreams, 10000},
		{"MaxStreamsPerClient", c.MaxStreamsPerClient, 20},
		{"StreamKeepAlive", c.StreamKeepAlive, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
}

// TestWhatShowsTheServiceDefaultsToDemo: the playground, the explorer and
// introspection are on in demo mode and off against a real upstream, unless
// their variable says otherwise.
func TestWhatShowsTheServiceDefaultsToDemo(t *testing.T) {
	upstream := env{"UPSTREAM_URL": "https://open.example.com", "UPSTREAM_APP_ID": "a", "UPSTREAM_APP_KEY": "k", "UPSTREAM_APP_SECRET": "s"}
	type shown struct{ playground, explorer, introspection bool }
	tests := []struct {
		name string
		give env
		want shown
	}{
		{"demo", env{}, shown{true, true, true}},
		{"upstream", upstream, shown{false, false, false}},
		{"upstream, playground asked for", upstream.with("PLAYGROUND", "true", "INTROSPECTION", "true"), shown{true, false, true}},
		{"upstream, explorer asked for", upstream.with("EXPLORER", "true"), shown{false, true, false}},
		{"demo, all turned off", env{"PLAYGROUND": "false", "EXPLORER": "false", "INTROSPECTION": "false"}, shown{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.give.get)
			if err != nil {
				t.Fatal(err)
			}
			if got := (shown{c.Playground, c.Explorer, c.Introspection}); got != tt.want {
				t.Errorf("playground, explorer, introspection = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadDemoKeepsGivenCredentials(t *testing.T) {
	tests := []struct {
		name string
		give env
		want [3]string // app id, key, secret
	}{
		{"none", env{}, [3]string{"demo-app", "demo-key", "demo-secret"}},
		{"id only", env{"UPSTREAM_APP_ID": "mine"}, [3]string{"mine", "demo-key", "demo-secret"}},
		{"all", env{"UPSTREAM_APP_ID": "i", "UPSTREAM_APP_KEY": "k", "UPSTREAM_APP_SECRET": "s"}, [3]string{"i", "k", "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.give.get)
			if err != nil {
				t.Fatal(err)
			}
			got := [3]string{c.Credentials.AppID, c.Credentials.AppKey.Reveal(), c.Credentials.AppSecret.Reveal()}
			if got != tt.want || !c.Demo() {
				t.Errorf("credentials = %q (demo %v), want %q in demo mode", got, c.Demo(), tt.want)
			}
		})
	}
}

func TestLoadRealUpstream(t *testing.T) {
	c, err := config.Load(realEnv.get)
	if err != nil {
		t.Fatalf("Load(realEnv) = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Port", c.Port, 9090},
		{"UpstreamURL", c.UpstreamURL, "https://open.example.com/api"},
		{"Demo", c.Demo(), false},
		{"AppID", c.Credentials.AppID, "app-42"},
		{"AppKey", c.Credentials.AppKey.Reveal(), testAppKey},
		{"AppSecret", c.Credentials.AppSecret.Reveal(), testAppSecret},
		{"Algorithm", c.Recipe.Algorithm(), signature.HMACSHA256},
		{"Unit", c.Recipe.Unit(), signature.Seconds},
		{"Template", c.Recipe.Template(), "appId={appId}&timestamp={timestamp}&key={appSecret}"},
		{"UpstreamTimeout", c.UpstreamTimeout, 2 * time.Second},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(1048576)},
		{"CacheTTL", c.CacheTTL, time.Minute},
		{"CacheMaxStale", c.CacheMaxStale, 2 * time.Hour},
		{"FastPath", c.FastPath, false},
		{"GCHeapFloor off", c.GCHeapFloor, int64(0)},
		{"ShutdownTimeout", c.ShutdownTimeout, 3 * time.Second},
		{"UpstreamRateLimit", c.UpstreamRateLimit, 2},
		{"RedisURL", c.RedisURL.Reveal(), "redis://:" + testPassword + "@10.0.0.9:6379/1"},
		{"RedisPrefix", c.RedisPrefix, "opp-test:"},
		{"RedisTimeout", c.RedisTimeout, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestLoadAcceptedEdgeValues(t *testing.T) {
	tests := []struct {
		name  string
		give  env
		check func(config.Config) bool
	}{
		{"port 0 picks a free port", env{"PORT": "0"}, func(c config.Config) bool { return c.Port == 0 }},
		{"port 65535", env{"PORT": "65535"}, func(c config.Config) bool { return c.Port == 65535 }},
		{"plain http with user info", realEnv.with("UPSTREAM_URL", "http://user:"+testPassword+"@10.0.0.1:8080"),
			func(c config.Config) bool { return c.UpstreamURL == "http://user:"+testPassword+"@10.0.0.1:8080" }},
		{"sha1", env{"UPSTREAM_SIGN_ALGORITHM": "sha1"}, func(c config.Config) bool { return c.Recipe.Algorithm() == signature.SHA1 }},
		{"sha256", env{"UPSTREAM_SIGN_ALGORITHM": "sha256"}, func(c config.Config) bool { return c.Recipe.Algorithm() == signature.SHA256 }},
		{"max body 1", env{"UPSTREAM_MAX_BODY_BYTES": "1"}, func(c config.Config) bool { return c.MaxBodyBytes == 1 }},
		{"duration 1ns", env{"SHUTDOWN_TIMEOUT": "1ns"}, func(c config.Config) bool { return c.ShutdownTimeout == time.Nanosecond }},
		{"empty lists allowed after 10m", env{"UPSTREAM_ALLOW_EMPTY": "10m"}, func(c config.Config) bool { return c.UpstreamAllowEmpty == 10*time.Minute }},
		{"metrics on every interface", env{"METRICS_ADDR": ":9090"}, func(c config.Config) bool { return c.MetricsAddr == ":9090" }},
		{"metrics on a free loopback port", env{"METRICS_ADDR": "127.0.0.1:0"}, func(c config.Config) bool { return c.MetricsAddr == "127.0.0.1:0" }},
		{"metrics on IPv6 loopback", env{"METRICS_ADDR": "[::1]:9090"}, func(c config.Config) bool { return c.MetricsAddr == "[::1]:9090" }},
		{"wildcard origin", env{"CORS_ALLOWED_ORIGINS": "https://app.example.com, https://*.example.org, http://*.localhost:3000"},
			func(c config.Config) bool {
				return slices.Equal(c.CORSAllowedOrigins, []string{"https://app.example.com", "https://*.example.org", "http://*.localhost:3000"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.give.get)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

// badValues are the rejected values per variable, each on top of realEnv so
// that it is the only problem.
func badValues() []struct {
	name string
	give env
	want string // the variable the error must name
} {
	type tc = struct {
		name string
		give env
		want string
	}
	var tests []tc
	add := func(variable string, values ...string) {
		for _, v := range values {
			tests = append(tests, tc{variable + "=" + v, realEnv.with(variable, v), variable})
		}
	}
	add("PORT", "http", "-1", "65536", "80.5", "8080x", " 8080")
	for _, d := range []string{"UPSTREAM_TIMEOUT", "CACHE_TTL", "CACHE_MAX_STALE", "SHUTDOWN_TIMEOUT"} {
		add(d, "-1s", "0", "0s", "garbage", "5", "-5m")
	}
	add("UPSTREAM_MAX_BODY_BYTES", "0", "-1", "lots", "1.5", "1e6", "99999999999999999999")
	add("UPSTREAM_ALLOW_EMPTY", "0", "0s", "-1m", "5", "never", "OFF", "false")
	add("UPSTREAM_SIGN_ALGORITHM", "sha512", "MD5", "hmac")
	add("UPSTREAM_TIMESTAMP_UNIT", "us", "MS", "seconds")
	add("UPSTREAM_SIGN_TEMPLATE", "{foo}", "{appId", "appId}", "{}")
	add("UPSTREAM_URL", "ftp://open.example.com", "open.example.com", "https://", "http:///path", "://x", "mailto:a@b.c")
	for _, name := range []string{"UPSTREAM_APP_ID", "UPSTREAM_APP_KEY", "UPSTREAM_APP_SECRET"} {
		e := maps.Clone(realEnv)
		delete(e, name)
		tests = append(tests, tc{"without " + name, e, name})
	}
	return tests
}

func TestLoadRejects(t *testing.T) {
	for _, tt := range badValues() {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error naming %s", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if !reflect.DeepEqual(c, config.Config{}) {
				t.Errorf("Load returned a partial config with its error: %+v", c)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		give env
		want []string
	}{
		{
			name: "everything at once",
			give: env{
				"PORT":                    "http",
				"UPSTREAM_URL":            "ftp://x",
				"UPSTREAM_SIGN_ALGORITHM": "sha512",
				"UPSTREAM_TIMESTAMP_UNIT": "us",
				"UPSTREAM_TIMEOUT":        "0",
				"UPSTREAM_MAX_BODY_BYTES": "-1",
				"CACHE_TTL":               "-1s",
				"CACHE_MAX_STALE":         "x",
				"SHUTDOWN_TIMEOUT":        "never",
			},
			want: []string{
				"PORT", "UPSTREAM_URL", "UPSTREAM_APP_ID", "UPSTREAM_APP_KEY", "UPSTREAM_APP_SECRET",
				"UPSTREAM_SIGN_ALGORITHM", "UPSTREAM_TIMESTAMP_UNIT", "UPSTREAM_TIMEOUT",
				"UPSTREAM_MAX_BODY_BYTES", "CACHE_TTL", "CACHE_MAX_STALE", "SHUTDOWN_TIMEOUT",
			},
		},
		{
			name: "template with durations",
			give: env{"UPSTREAM_SIGN_TEMPLATE": "{nope}", "CACHE_TTL": "0", "SHUTDOWN_TIMEOUT": "-1ms"},
			want: []string{"UPSTREAM_SIGN_TEMPLATE", "CACHE_TTL", "SHUTDOWN_TIMEOUT"},
		},
		{
			name: "missing credentials",
			give: env{"UPSTREAM_URL": "https://open.example.com"},
			want: []string{"UPSTREAM_APP_ID", "UPSTREAM_APP_KEY", "UPSTREAM_APP_SECRET"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name+":") {
					t.Errorf("error does not report %s:\n%v", name, err)
				}
			}
		})
	}
}

// TestLoadReportsTemplateWithBadAlgorithm: Load promises every problem at once,
// but it only checks the template when algorithm and unit are valid.
func TestLoadReportsTemplateWithBadAlgorithm(t *testing.T) {
	tests := []struct {
		name string
		give env
		want []string
	}{
		{"bad algorithm", env{"UPSTREAM_SIGN_ALGORITHM": "sha512", "UPSTREAM_SIGN_TEMPLATE": "{foo}"},
			[]string{"UPSTREAM_SIGN_ALGORITHM", "UPSTREAM_SIGN_TEMPLATE"}},
		{"bad unit", env{"UPSTREAM_TIMESTAMP_UNIT": "us", "UPSTREAM_SIGN_TEMPLATE": "{appId"},
			[]string{"UPSTREAM_TIMESTAMP_UNIT", "UPSTREAM_SIGN_TEMPLATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name+":") {
					t.Errorf("error does not report %s:\n%v", name, err)
				}
			}
		})
	}
}

func TestLoadErrorsNeverShowSecrets(t *testing.T) {
	tests := []struct {
		name string
		give env
	}{
		{"password in non-http URL", realEnv.with("UPSTREAM_URL", "ftp://user:"+testPassword+"@open.example.com")},
		{"password in URL without host", realEnv.with("UPSTREAM_URL", "https://user:"+testPassword+"@")},
		{"password in unparsable URL", realEnv.with("UPSTREAM_URL", "https://user:"+testPassword+"@host:port/")},
		{"password in URL with control char", realEnv.with("UPSTREAM_URL", "https://user:"+testPassword+"@host/\x7f")},
		{"password in URL, key missing", realEnv.with("UPSTREAM_URL", "https://user:"+testPassword+"@host", "UPSTREAM_APP_KEY", "")},
		{"credentials set, other values bad", realEnv.with("PORT", "x", "CACHE_TTL", "0", "UPSTREAM_SIGN_ALGORITHM", "nope")},
		{"credentials set, template bad", realEnv.with("UPSTREAM_SIGN_TEMPLATE", "{appSecret}{x}")},
		{"credentials set, URL bad", realEnv.with("UPSTREAM_URL", "open.example.com")},
		{"credentials set, id missing", realEnv.with("UPSTREAM_APP_ID", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, secret := range []string{testAppKey, testAppSecret, testPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows %q: %v", secret, err)
				}
			}
		})
	}
}

func TestEveryVariableIsRead(t *testing.T) {
	base, err := config.Load(realEnv.get)
	if err != nil {
		t.Fatal(err)
	}
	// Every variable is set in realEnv, so each one's default is exercised elsewhere.
	for _, v := range config.Variables {
		if _, ok := realEnv[v.Name]; !ok {
			t.Errorf("realEnv misses %s", v.Name)
		}
	}
	for _, v := range config.Variables {
		t.Run(v.Name, func(t *testing.T) {
			var asked []string
			c, err := config.Load(func(name string) string {
				asked = append(asked, name)
				return realEnv.with(v.Name, "garbage{")[name]
			})
			if !slices.Contains(asked, v.Name) {
				t.Errorf("Load never asked for %s", v.Name)
			}
			// A garbage value must either be rejected or end up in the config.
			if err == nil && reflect.DeepEqual(c, base) {
				t.Errorf("%s=garbage{ neither failed nor changed the config", v.Name)
			}
		})
	}
}

func TestVariableDefaultsMatchLoad(t *testing.T) {
	// Setting each variable to its documented default must give the same config as
	// leaving it unset.
	unset, err := config.Load(env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables {
		t.Run(v.Name, func(t *testing.T) {
			if v.Default == "" {
				t.Skip("no default")
			}
			c, err := config.Load(env{v.Name: v.Default}.get)
			if err != nil {
				t.Fatalf("Load(%s=%q) = %v", v.Name, v.Default, err)
			}
			if !reflect.DeepEqual(c, unset) {
				t.Errorf("%s=%q gives %+v, unset gives %+v", v.Name, v.Default, c, unset)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	got, err := config.Defaults()
	if err != nil {
		t.Fatalf("Defaults() = %v; the table in Variables is broken", err)
	}
	want, err := config.Load(env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Defaults() = %+v, want Load of an empty environment %+v", got, want)
	}
}

// TestLoadAsksOnlyForVariables: a name Load reads that is not in Variables
// would have no documented default and no README row.
func TestLoadAsksOnlyForVariables(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Variables {
		known[v.Name] = true
	}
	tests := []struct {
		name string
		give env
	}{
		{"demo", env{}},
		{"real upstream", realEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := config.Load(func(name string) string {
				if !known[name] {
					t.Errorf("Load asked for %s, which Variables does not list", name)
				}
				return tt.give[name]
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoadMessages pins the text of Load's own messages, each on top of
// realEnv so that it is the only problem. Messages that wrap another
// package's error are checked elsewhere by the variable they name.
func TestLoadMessages(t *testing.T) {
	without := func(name string) env {
		e := maps.Clone(realEnv)
		delete(e, name)
		return e
	}
	tests := []struct {
		name string
		give env
		want string
	}{
		{"port", realEnv.with("PORT", "http"), `PORT: "http" is not a port number (0-65535)`},
		{"log format", realEnv.with("LOG_FORMAT", "xml"), `LOG_FORMAT: "xml" is not json or text`},
		{"flush interval 0s: only 0 turns buffering off", realEnv.with("LOG_FLUSH_INTERVAL", "0s"),
			`LOG_FLUSH_INTERVAL: "0s" is not a positive duration such as 30s or 5m`},
		{"upstream URL", realEnv.with("UPSTREAM_URL", "ftp://x"), `UPSTREAM_URL: want an http(s)://host[/prefix] URL`},
		{"missing key", without("UPSTREAM_APP_KEY"), `UPSTREAM_APP_KEY: required when UPSTREAM_URL is set`},
		{"retries", realEnv.with("UPSTREAM_RETRIES", "-1"), `UPSTREAM_RETRIES: "-1" is not an integer of at least 0`},
		{"breaker", realEnv.with("BREAKER_FAILURES", "0"), `BREAKER_FAILURES: "0" is not an integer of at least 1`},
		{"heap floor", realEnv.with("GC_HEAP_FLOOR", "32MiB"), `GC_HEAP_FLOOR: "32MiB" is not a positive number of bytes`},
		{"body bytes", realEnv.with("UPSTREAM_MAX_BODY_BYTES", "0"), `UPSTREAM_MAX_BODY_BYTES: "0" is not a positive number of bytes`},
		{"header bytes", realEnv.with("SERVER_MAX_HEADER_BYTES", "1023"), `SERVER_MAX_HEADER_BYTES: "1023" is not an integer of at least 1024`},
		{"playground", realEnv.with("PLAYGROUND", "yes"), `PLAYGROUND: "yes" is not true or false`},
		{"introspection", realEnv.with("INTROSPECTION", "1"), `INTROSPECTION: "1" is not true or false`},
		{"response cache", realEnv.with("RESPONSE_CACHE", "on"), `RESPONSE_CACHE: "on" is not true or false`},
		{"rate limit window", realEnv.with("RATE_LIMIT_WINDOW", "0"), `RATE_LIMIT_WINDOW: "0" is not a positive duration such as 30s or 5m`},
		{"write timeout within request timeout", realEnv.with("SERVER_WRITE_TIMEOUT", "20s"),
			`SERVER_WRITE_TIMEOUT: 20s must exceed REQUEST_TIMEOUT (20s), or a slow request's answer is cut off`},
		{"trusted documents without a file", without("PERSISTED_QUERIES_FILE"),
			`PERSISTED_QUERIES_FILE: required when PERSISTED_QUERIES_ONLY=true`},
		{"origin with a path", realEnv.with("CORS_ALLOWED_ORIGINS", "https://app.example.com, https://b.example.com/x"),
			`CORS_ALLOWED_ORIGINS: "https://b.example.com/x" is not an origin such as https://app.example.com, or a wildcard such as https://*.example.com`},
		{"wildcard over a public suffix", realEnv.with("CORS_ALLOWED_ORIGINS", "https://*.com"),
			`CORS_ALLOWED_ORIGINS: "https://*.com" is not an origin such as https://app.example.com, or a wildcard such as https://*.example.com`},
		{"metrics address without a port", realEnv.with("METRICS_ADDR", "127.0.0.1"),
			`METRICS_ADDR: "127.0.0.1" is not a host:port such as 127.0.0.1:9090 or :9090`},
		{"explorer", realEnv.with("EXPLORER", "on"), `EXPLORER: "on" is not true or false`},
		{"redis URL", realEnv.with("REDIS_URL", "http://10.0.0.9:6379"), `REDIS_URL: want redis://[user:password@]host:port[/db] or rediss://…`},
		{"redis prefix", realEnv.with("REDIS_PREFIX", "a b"), `REDIS_PREFIX: want a non-empty prefix without spaces, braces or glob characters`},
		{"redis timeout", realEnv.with("REDIS_TIMEOUT", "0"), `REDIS_TIMEOUT: "0" is not a positive duration such as 30s or 5m`},
		{"upstream rate limit", realEnv.with("UPSTREAM_RATE_LIMIT", "-1"), `UPSTREAM_RATE_LIMIT: "-1" is not an integer of at least 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if got, want := err.Error(), "configuration: "+tt.want; got != want {
				t.Errorf("error = %q\nwant    %q", got, want)
			}
		})
	}
}

// TestLoadNeverQuotesASecret sets each variable that holds a secret (or, for
// UPSTREAM_URL, may hold a password) to a bad value carrying a marker, with
// other problems around it, and looks for the marker in the message.
func TestLoadNeverQuotesASecret(t *testing.T) {
	const marker = "Mk7qZ2"
	tests := []struct {
		name string
		give env
	}{
		{"UPSTREAM_URL", realEnv.with("UPSTREAM_URL", "ftp://u:"+marker+"@h{", "PORT", "x")},
		{"UPSTREAM_APP_KEY", realEnv.with("UPSTREAM_APP_KEY", "garbage{"+marker, "PORT", "x")},
		{"UPSTREAM_APP_SECRET", realEnv.with("UPSTREAM_APP_SECRET", "garbage{"+marker, "PORT", "x")},
		{"AUTH_API_KEYS without a name", realEnv.with("AUTH_API_KEYS", "bare-"+marker, "PORT", "x")},
		{"AUTH_API_KEYS repeated", realEnv.with("AUTH_API_KEYS", "a:"+marker+"0123456789,b:"+marker+"0123456789")},
		{"AUTH_API_KEYS empty name", realEnv.with("AUTH_API_KEYS", ":"+marker+"0123456789")},
		{"AUTH_JWT_HMAC_SECRET", realEnv.with("AUTH_JWT_HMAC_SECRET", "short{"+marker, "AUTH_MODE", "x")},
		{"REDIS_URL", realEnv.with("REDIS_URL", "redis://:"+marker+"@h{", "PORT", "x")},
		{"REDIS_URL scheme", realEnv.with("REDIS_URL", "tcp://:"+marker+"@h:6379")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.give.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, secret := range []string{marker, testAppKey, testAppSecret, testAPIKey, testJWTSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows %q: %v", secret, err)
				}
			}
		})
	}
}

// TestReadmeDocumentsEveryVariable keeps the table under the README's
// "## Configuration" in step with Variables: the same names, in the same
// order (the README says `-h` prints this table), each with its default, and
// no row for a variable Load does not read.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal(`README has no "## Configuration" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")

	type row struct{ name, def string }
	var rows []row
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(section, -1) {
		rows = append(rows, row{m[1], m[2]})
	}
	var want []row
	for _, v := range config.Variables {
		def := "unset"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		want = append(want, row{v.Name, def})
	}
	if !slices.Equal(rows, want) {
		got := map[string]string{}
		for _, r := range rows {
			got[r.name] = r.def
		}
		for _, w := range want {
			switch def, ok := got[w.name]; {
			case !ok:
				t.Errorf("README has no row for %s (default %s)", w.name, w.def)
			case def != w.def:
				t.Errorf("README gives %s the default %s, Variables %s", w.name, def, w.def)
			}
			delete(got, w.name)
		}
		for name := range got {
			t.Errorf("README documents %s, which is not in Variables", name)
		}
		if !t.Failed() {
			t.Errorf("README rows are not in the order of Variables (or repeat one):\n got %v\nwant %v", rows, want)
		}
	}
}
