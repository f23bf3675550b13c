package signature_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// The expected digests below were computed outside Go, e.g.
//
//	printf '%s' 'app123key4561704164645678secret789' | md5sum
//	printf '%s' '...' | openssl dgst -sha256 -hmac secret789
//
// and cross-checked with python3 hashlib/hmac. Never derive them from this package.

var testCreds = signature.Credentials{
	AppID:     "app123",
	AppKey:    signature.NewSecret("key456"),
	AppSecret: signature.NewSecret("secret789"),
}

// testNow is 2024-01-02T03:04:05.678Z: 1704164645 s, 1704164645678 ms (date -u -d … +%s).
var testNow = time.Date(2024, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

const (
	tsMillis  = "1704164645678"
	tsSeconds = "1704164645"

	tmplQuery    = "appId={appId}&timestamp={timestamp}&key={appSecret}"
	tmplRepeated = "{appSecret}|{timestamp}|{appId}|{appKey}|{appSecret}"
	tmplLiteral  = "static"
)

func TestSignFixedVectors(t *testing.T) {
	type give struct {
		alg      signature.Algorithm
		template string
		unit     signature.Unit
		creds    signature.Credentials
	}
	type want struct {
		timestamp, sign string
	}
	tests := []struct {
		name string
		give give
		want want
	}{
		// message: app123key4561704164645678secret789
		{"md5 default ms", give{signature.MD5, signature.DefaultTemplate, signature.Milliseconds, testCreds},
			want{tsMillis, "a0244a942966e069aa5e35fb72f5eff1"}},
		{"sha1 default ms", give{signature.SHA1, signature.DefaultTemplate, signature.Milliseconds, testCreds},
			want{tsMillis, "a0385e9f89a571ae17ae32841e24c97fdb180ff8"}},
		{"sha256 default ms", give{signature.SHA256, signature.DefaultTemplate, signature.Milliseconds, testCreds},
			want{tsMillis, "3dbf9523cb1e2390d71eab171683580ce5428144cb8f356bb5900b6d866faa24"}},
		{"hmac-sha256 default ms", give{signature.HMACSHA256, signature.DefaultTemplate, signature.Milliseconds, testCreds},
			want{tsMillis, "33b86eea1a23e757b7ee415348deb97a61d40f070e9c5ebf7f0985d2a23e969d"}},

		// message: app123key4561704164645secret789
		{"md5 default s", give{signature.MD5, signature.DefaultTemplate, signature.Seconds, testCreds},
			want{tsSeconds, "9b92bae25904da432d9209c01a393194"}},
		{"sha1 default s", give{signature.SHA1, signature.DefaultTemplate, signature.Seconds, testCreds},
			want{tsSeconds, "2b2d62f59647918bd1217aae80b039c1c810b055"}},
		{"sha256 default s", give{signature.SHA256, signature.DefaultTemplate, signature.Seconds, testCreds},
			want{tsSeconds, "134ebc33cd240f8e77888ac151ae56d765a592a158b9e48d9a9d7f44371cf6cc"}},
		{"hmac-sha256 default s", give{signature.HMACSHA256, signature.DefaultTemplate, signature.Seconds, testCreds},
			want{tsSeconds, "c919ad17a6ede8a0c242eb39761262f8e4862c728ae1e1f21966373ef292bcc0"}},

		// message: appId=app123&timestamp=1704164645678&key=secret789
		{"md5 query ms", give{signature.MD5, tmplQuery, signature.Milliseconds, testCreds},
			want{tsMillis, "fc074b4d5c68f01b75f4754dbec5c01a"}},
		{"sha1 query ms", give{signature.SHA1, tmplQuery, signature.Milliseconds, testCreds},
			want{tsMillis, "6ddfbb049fba87629a35cf2d7c5d68a167c809bd"}},
		{"sha256 query ms", give{signature.SHA256, tmplQuery, signature.Milliseconds, testCreds},
			want{tsMillis, "ae961b9ca302b20ed7334e66f6a04ccddc7428bab1ee5a44a77a2bf49dd6aac5"}},
		{"hmac-sha256 query ms", give{signature.HMACSHA256, tmplQuery, signature.Milliseconds, testCreds},
			want{tsMillis, "928019e48aa24b9e2a75f0f790c291778c9dbf8dcf4e01e253cf7b4cf4e61c7f"}},

		// message: secret789|1704164645|app123|key456|secret789
		{"md5 repeated s", give{signature.MD5, tmplRepeated, signature.Seconds, testCreds},
			want{tsSeconds, "9eead7b98a93b722f3409f2b21fdbd2c"}},
		{"sha1 repeated s", give{signature.SHA1, tmplRepeated, signature.Seconds, testCreds},
			want{tsSeconds, "48128f04d73f59f51cb9b2210b9cf5060755f6de"}},
		{"sha256 repeated s", give{signature.SHA256, tmplRepeated, signature.Seconds, testCreds},
			want{tsSeconds, "fca0edb201ba2fb52bf2c22fb57f570aecd1f39e5269ebbb299331ea20621d39"}},
		{"hmac-sha256 repeated s", give{signature.HMACSHA256, tmplRepeated, signature.Seconds, testCreds},
			want{tsSeconds, "9edb8397534ad7cf3640267d9f08b4b5d3c28fecd9d8f5213871bf3224521d89"}},

		// message: static (no placeholder at all; HMAC still keyed by secret789)
		{"md5 literal only", give{signature.MD5, tmplLiteral, signature.Milliseconds, testCreds},
			want{tsMillis, "a81259cef8e959c624df1d456e5d3297"}},
		{"sha1 literal only", give{signature.SHA1, tmplLiteral, signature.Milliseconds, testCreds},
			want{tsMillis, "a381562afa0e16c5548e829b2f1a659a8c2e7c11"}},
		{"sha256 literal only", give{signature.SHA256, tmplLiteral, signature.Milliseconds, testCreds},
			want{tsMillis, "2053dbbf6ec7135c4e994d3464c478db6f48d3ca21052c8f44915edc96e02c39"}},
		{"hmac-sha256 literal only", give{signature.HMACSHA256, tmplLiteral, signature.Milliseconds, testCreds},
			want{tsMillis, "825d8bb7ae52c024518c6ae78c7d04e6005a4f2bac561a55f81d884b0c26272a"}},

		// message: app-ü测试key456secrét, UTF-8 bytes; HMAC key secrét
		{"md5 utf-8", give{signature.MD5, "{appId}{appKey}{appSecret}", signature.Seconds,
			signature.Credentials{AppID: "app-ü测试", AppKey: signature.NewSecret("key456"), AppSecret: signature.NewSecret("secrét")}},
			want{tsSeconds, "6bb3f6059a9dfbdbb763e1e4e7669731"}},
		{"hmac-sha256 utf-8", give{signature.HMACSHA256, "{appId}{appKey}{appSecret}", signature.Seconds,
			signature.Credentials{AppID: "app-ü测试", AppKey: signature.NewSecret("key456"), AppSecret: signature.NewSecret("secrét")}},
			want{tsSeconds, "28ded6ee0ad5cdc76f23a0e41a36e883c543163b31676a25de2c8f0be67ec4b4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := signature.NewRecipe(tt.give.alg, tt.give.template, tt.give.unit)
			if err != nil {
				t.Fatalf("NewRecipe(%q, %q, %q): %v", tt.give.alg, tt.give.template, tt.give.unit, err)
			}
			ts, sign := r.Sign(tt.give.creds, testNow)
			if ts != tt.want.timestamp {
				t.Errorf("Sign timestamp = %q, want %q", ts, tt.want.timestamp)
			}
			if sign != tt.want.sign {
				t.Errorf("Sign = %q, want %q", sign, tt.want.sign)
			}
			if got := r.SignTimestamp(tt.give.creds, tt.want.timestamp); got != tt.want.sign {
				t.Errorf("SignTimestamp = %q, want %q", got, tt.want.sign)
			}
			if !r.Verify(tt.give.creds, tt.want.timestamp, tt.want.sign) {
				t.Errorf("Verify rejected the expected signature %q", tt.want.sign)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		name string
		unit signature.Unit
		give time.Time
		want string
	}{
		{"ms utc", signature.Milliseconds, testNow, "1704164645678"},
		{"s utc truncates", signature.Seconds, testNow, "1704164645"},
		// Same instant written in UTC+8: the zone must not matter.
		{"ms other zone", signature.Milliseconds,
			time.Date(2024, 1, 2, 11, 4, 5, 678_000_000, time.FixedZone("CST", 8*3600)), "1704164645678"},
		{"s other zone", signature.Seconds,
			time.Date(2024, 1, 2, 11, 4, 5, 999_999_999, time.FixedZone("CST", 8*3600)), "1704164645"},
		{"ms sub-millisecond truncated", signature.Milliseconds,
			time.Date(2024, 1, 2, 3, 4, 5, 678_999_999, time.UTC), "1704164645678"},
		{"ms epoch", signature.Milliseconds, time.Unix(0, 0), "0"},
		{"s epoch", signature.Seconds, time.Unix(0, 0), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := signature.NewRecipe(signature.MD5, signature.DefaultTemplate, tt.unit)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Timestamp(tt.give); got != tt.want {
				t.Errorf("Timestamp(%v) = %q, want %q", tt.give, got, tt.want)
			}
			if got, _ := r.Sign(testCreds, tt.give); got != tt.want {
				t.Errorf("Sign timestamp at %v = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	// md5("app123key4561704164645678secret789"), see TestSignFixedVectors.
	const good = "a0244a942966e069aa5e35fb72f5eff1"
	// sha256 over the same message: right message, wrong algorithm.
	const sha256OfSame = "3dbf9523cb1e2390d71eab171683580ce5428144cb8f356bb5900b6d866faa24"
	r := signature.Default()
	tests := []struct {
		name  string
		creds signature.Credentials
		ts    string
		sign  string
		want  bool
	}{
		{"right", testCreds, tsMillis, good, true},
		{"uppercase hex", testCreds, tsMillis, strings.ToUpper(good), true},
		{"mixed case hex", testCreds, tsMillis, "A0244A942966e069aa5e35fb72f5eff1", true},
		{"one digit off", testCreds, tsMillis, "a0244a942966e069aa5e35fb72f5eff2", false},
		{"truncated", testCreds, tsMillis, good[:31], false},
		{"extra char", testCreds, tsMillis, good + "0", false},
		{"empty", testCreds, tsMillis, "", false},
		{"wrong algorithm", testCreds, tsMillis, sha256OfSame, false},
		{"wrong timestamp", testCreds, "1704164645679", good, false},
		{"seconds timestamp", testCreds, tsSeconds, good, false},
		{"wrong secret", signature.Credentials{AppID: "app123", AppKey: signature.NewSecret("key456"), AppSecret: signature.NewSecret("secret780")}, tsMillis, good, false},
		{"wrong key", signature.Credentials{AppID: "app123", AppKey: signature.NewSecret("key457"), AppSecret: signature.NewSecret("secret789")}, tsMillis, good, false},
		{"wrong app id", signature.Credentials{AppID: "app124", AppKey: signature.NewSecret("key456"), AppSecret: signature.NewSecret("secret789")}, tsMillis, good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Verify(tt.creds, tt.ts, tt.sign); got != tt.want {
				t.Errorf("Verify(%q, %q) = %v, want %v", tt.ts, tt.sign, got, tt.want)
			}
		})
	}
}

func TestSignIsLowercaseHex(t *testing.T) {
	tests := []struct {
		name string
		give signature.Algorithm
		want int // hex length
	}{
		{"md5", signature.MD5, 32},
		{"sha1", signature.SHA1, 40},
		{"sha256", signature.SHA256, 64},
		{"hmac-sha256", signature.HMACSHA256, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := signature.NewRecipe(tt.give, signature.DefaultTemplate, signature.Milliseconds)
			if err != nil {
				t.Fatal(err)
			}
			_, sign := r.Sign(testCreds, testNow)
			if len(sign) != tt.want {
				t.Errorf("len(sign) = %d, want %d (%q)", len(sign), tt.want, sign)
			}
			if strings.Trim(sign, "0123456789abcdef") != "" {
				t.Errorf("sign %q is not lowercase hex", sign)
			}
		})
	}
}

func TestHMACIsKeyedBySecret(t *testing.T) {
	// The template leaves the secret out, so only the HMAC key can tell the two apart.
	r, err := signature.NewRecipe(signature.HMACSHA256, "{appId}{timestamp}", signature.Seconds)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give string
		want string
	}{
		// printf '%s' 'app1231704164645' | openssl dgst -sha256 -hmac secret789
		{"secret789", "secret789", "1d81ca1ebe23712b98c28973c9fdab81c40ec71e6d1fd7612d013c398dfe7eb8"},
		// printf '%s' 'app1231704164645' | openssl dgst -sha256 -hmac other
		{"other", "other", "039c96c8b1c37b9c0bef47a2c371579564c5e6b1e70d0349c5bd874dfc18619e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := signature.Credentials{AppID: "app123", AppKey: signature.NewSecret("key456"), AppSecret: signature.NewSecret(tt.give)}
			if got := r.SignTimestamp(c, tsSeconds); got != tt.want {
				t.Errorf("SignTimestamp = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewRecipeRejects(t *testing.T) {
	tests := []struct {
		name     string
		alg      signature.Algorithm
		template string
		unit     signature.Unit
		want     string // substring of the error
	}{
		{"unknown algorithm", "sha512", signature.DefaultTemplate, signature.Milliseconds, `"sha512"`},
		{"empty algorithm", "", signature.DefaultTemplate, signature.Milliseconds, "algorithm"},
		{"uppercase algorithm", "MD5", signature.DefaultTemplate, signature.Milliseconds, `"MD5"`},
		{"unknown unit", signature.MD5, signature.DefaultTemplate, "us", `"us"`},
		{"empty unit", signature.MD5, signature.DefaultTemplate, "", "unit"},
		{"empty template", signature.MD5, "", signature.Milliseconds, "empty template"},
		{"unknown placeholder", signature.MD5, "{appId}{foo}", signature.Milliseconds, "{foo}"},
		{"wrong case placeholder", signature.MD5, "{appid}", signature.Milliseconds, "{appid}"},
		{"empty braces", signature.MD5, "{appId}{}", signature.Milliseconds, "unknown placeholder"},
		{"unclosed brace", signature.MD5, "{appId}{timestamp", signature.Milliseconds, "unclosed {"},
		{"lone open brace", signature.MD5, "a{", signature.Milliseconds, "unclosed {"},
		{"stray close brace at end", signature.MD5, "{appId}}", signature.Milliseconds, "unmatched }"},
		{"stray close brace before placeholder", signature.MD5, "a}b{appId}", signature.Milliseconds, "unmatched }"},
		{"stray close brace only", signature.MD5, "}", signature.Milliseconds, "unmatched }"},
		{"nested braces", signature.MD5, "{{appId}}", signature.Milliseconds, "unknown placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signature.NewRecipe(tt.alg, tt.template, tt.unit)
			if err == nil {
				t.Fatalf("NewRecipe(%q, %q, %q) succeeded, want an error", tt.alg, tt.template, tt.unit)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestTemplateRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"default", signature.DefaultTemplate},
		{"query", tmplQuery},
		{"repeated", tmplRepeated},
		{"literal only", tmplLiteral},
		{"leading and trailing literals", "x{appKey}y"},
		{"unicode literal", "签名:{appId}:{timestamp}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := signature.NewRecipe(signature.SHA1, tt.give, signature.Seconds)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Template(); got != tt.give {
				t.Errorf("Template() = %q, want %q", got, tt.give)
			}
			if r.Algorithm() != signature.SHA1 || r.Unit() != signature.Seconds {
				t.Errorf("Algorithm(), Unit() = %q, %q, want sha1, s", r.Algorithm(), r.Unit())
			}
		})
	}
}

func TestDefault(t *testing.T) {
	want, err := signature.NewRecipe(signature.MD5, signature.DefaultTemplate, signature.Milliseconds)
	if err != nil {
		t.Fatal(err)
	}
	got := signature.Default()
	tests := []struct {
		name      string
		got, want string
	}{
		{"algorithm", string(got.Algorithm()), "md5"},
		{"unit", string(got.Unit()), "ms"},
		{"template", got.Template(), "{appId}{appKey}{timestamp}{appSecret}"},
		{"template equals NewRecipe", got.Template(), want.Template()},
		{"sign equals NewRecipe", got.SignTimestamp(testCreds, tsMillis), want.SignTimestamp(testCreds, tsMillis)},
		// md5 of app123key4561704164645678secret789
		{"sign fixed vector", got.SignTimestamp(testCreds, tsMillis), "a0244a942966e069aa5e35fb72f5eff1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// A Recipe is used through the Signer interface by the client.
var _ signature.Signer = signature.Recipe{}
