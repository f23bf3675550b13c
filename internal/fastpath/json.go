package fastpath

import (
	"encoding/json"
	"math"
	"strconv"
)

const hex = "0123456789ABCDEF"

// appendString appends s quoted as gqlgen's graphql.MarshalString writes it
// (writeQuotedString), which is not encoding/json's quoting: only ", \ and
// the C0 controls are escaped (\t, \r, \n by name, the others as \u00XX in
// upper-case hex, \b and \f included); <, >, &, U+2028, U+2029 and invalid
// UTF-8 pass through as they are. gqlgen ranges over runes, but every byte it
// escapes is ASCII and no byte of a multi-byte or invalid sequence is, so
// ranging over bytes writes the same bytes.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '\t':
			dst = append(dst, `\t`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '"':
			dst = append(dst, `\"`...)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendStrings writes a [String!]!.
func appendStrings(dst []byte, list []string) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// unmarshalInt is graphql.UnmarshalInt without reflection: the Go values it
// accepts for an Int, and false where it returns an error.
func unmarshalInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int8:
		return int(v), true
	case int16:
		return int(v), true
	case int32:
		return int(v), true
	case int64:
		return fitInt(v)
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		return fitInt(n)
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, false
		}
		return fitInt(n)
	case nil:
		return 0, true
	default:
		// float64 among them: gqlgen refuses it even when whole.
		return 0, false
	}
}

// fitInt refuses what overflows int on a 32-bit platform, as gqlgen's
// safeCastSignedNumber does.
func fitInt(n int64) (int, bool) {
	if strconv.IntSize == 32 && (n > math.MaxInt32 || n < math.MinInt32) {
		return 0, false
	}
	return int(n), true
}
