package signature_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// FuzzRecipe: any template either is refused by NewRecipe or signs without
// panicking, yields lowercase hex of the digest's size, verifies its own
// signature and refuses a changed timestamp; Template round-trips.
func FuzzRecipe(f *testing.F) {
	f.Add("md5", signature.DefaultTemplate, "ms", "app", "key", "secret", int64(1700000000000))
	f.Add("hmac-sha256", "{appId}&{timestamp}", "s", "app-ü测试", "", "sécret", int64(0))
	f.Add("sha1", "{", "ms", "", "", "", int64(-1))
	f.Add("sha256", "}{appSecret}{{timestamp}", "s", "a", "b", "c", int64(1<<40))
	sizes := map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "hmac-sha256": 64}
	f.Fuzz(func(t *testing.T, alg, template, unit, appID, appKey, appSecret string, ms int64) {
		r, err := signature.NewRecipe(signature.Algorithm(alg), template, signature.Unit(unit))
		if err != nil {
			return // NewRecipe never sees credentials, so its errors cannot hold them
		}
		if got := r.Template(); got != template {
			t.Fatalf("Template() = %q, want %q", got, template)
		}
		c := signature.Credentials{AppID: appID, AppKey: signature.NewSecret(appKey), AppSecret: signature.NewSecret(appSecret)}
		ts, sign := r.Sign(c, time.UnixMilli(ms))
		if len(sign) != sizes[alg] || strings.ToLower(sign) != sign || !utf8.ValidString(sign) {
			t.Fatalf("sign %q is not %d lowercase hex digits", sign, sizes[alg])
		}
		if !r.Verify(c, ts, sign) {
			t.Fatal("a recipe does not verify its own signature")
		}
		if strings.Contains(template, "{timestamp}") && r.Verify(c, ts+"1", sign) {
			t.Fatal("a signature verifies with another timestamp")
		}
	})
}
