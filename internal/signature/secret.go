package signature

import "log/slog"

// Secret is a credential that redacts itself wherever it could be printed: fmt
// verbs, slog attributes and JSON. Reveal is the one way to read it. It lives here
// rather than in config because signing is the one place that reads it, and
// config already depends on this package for the recipe.
type Secret string

const redacted = "REDACTED"

// Reveal returns the secret's value, for signing only.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer so that %s and %v print REDACTED.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer so that %#v prints REDACTED too.
func (s Secret) GoString() string { return `"` + redacted + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler, which also covers map keys and %q-like encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
