package fastpath

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestAppendStringIsGqlgens compares appendString with graphql.MarshalString
// on every byte alone, every byte between others, hostile text and random
// byte strings (valid UTF-8 or not).
func TestAppendStringIsGqlgens(t *testing.T) {
	inputs := []string{"", "plain", `"\`, "\u2028\u2029<>&", "😀 商机 \U0010FFFF", "\xff\xfe\xc3", "\xe2\x80", "a\x00b\x1fc\x7fd"}
	for b := range 256 {
		inputs = append(inputs, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := make([]byte, rng.IntN(40))
		for i := range s {
			s[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(s), string([]rune(string(s))))
	}
	for _, s := range inputs {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendString([]byte("prefix"), s); !bytes.Equal(got, append([]byte("prefix"), want.Bytes()...)) {
			t.Errorf("%q: got %q, want %q", s, got[len("prefix"):], want.Bytes())
		}
	}
}

// TestUnmarshalIntIsGqlgens compares unmarshalInt with graphql.UnmarshalInt
// on every kind of value a coerced variable can hold, and some it cannot.
func TestUnmarshalIntIsGqlgens(t *testing.T) {
	values := []any{
		nil, 0, 1, -1, math.MaxInt, math.MinInt, int8(-8), int16(16), int32(math.MaxInt32), int64(math.MinInt64), int64(1001),
		"1001", "-7", "", "1e3", "1.0", "9223372036854775808", " 1", "0x10",
		json.Number("1001"), json.Number("-0"), json.Number("1.5"), json.Number("1e3"), json.Number("99999999999999999999"),
		1001.0, float32(3), uint(3), uint64(4), true, []any{1}, map[string]any{},
	}
	for _, v := range values {
		want, err := graphql.UnmarshalInt(v)
		got, ok := unmarshalInt(v)
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("%T %v: got %d, %v; gqlgen %d, %v", v, v, got, ok, want, err)
		}
	}
}
