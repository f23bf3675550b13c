package signature_test

import (
	"testing"
	"time"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// BenchmarkSign signs one request with the default template, per algorithm:
// what every upstream call (and the simulator's check) costs.
func BenchmarkSign(b *testing.B) {
	creds := signature.Credentials{AppID: "tm-app-10086", AppKey: signature.NewSecret("ak-3f9c2e71"), AppSecret: signature.NewSecret("as-7d41b0c5")}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, alg := range []signature.Algorithm{signature.MD5, signature.SHA1, signature.SHA256, signature.HMACSHA256} {
		b.Run("alg="+string(alg), func(b *testing.B) {
			r, err := signature.NewRecipe(alg, signature.DefaultTemplate, signature.Milliseconds)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, sign := r.Sign(creds, now); sign == "" {
					b.Fatal("empty sign")
				}
			}
		})
	}
}
