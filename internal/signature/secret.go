package signature

import (
	"fmt"
	"log/slog"
)

// Secret is a credential that redacts itself wherever it could be printed: fmt
// verbs, slog attributes and JSON. Reveal is the one way to read it.
//
// It holds a pointer, not the string, because fmt bypasses a type's methods in
// two places (unexported struct fields, and verbs such as %p on a struct): there
// it prints the raw value, which for a pointer is an address. It lives here
// rather than in config because signing is the one place that reads it, and
// config already depends on this package for the recipe.
type Secret struct{ value *string }

const redacted = "REDACTED"

// NewSecret wraps s; the empty string gives the zero Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{value: &s}
}

// Reveal returns the secret's value, for signing only.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String implements fmt.Stringer so that %s and %v print REDACTED.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer so that %#v prints REDACTED too.
func (s Secret) GoString() string { return `"` + redacted + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Format implements fmt.Formatter, so that every verb (%d and %x included,
// which would otherwise print the raw string inside an error marker) formats
// REDACTED instead, with the caller's flags and width.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), redacted)
}

// MarshalText implements encoding.TextMarshaler, for text encoders such as XML.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
