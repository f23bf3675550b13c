package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// APIKey is one client's static key. Name identifies the client in
// ClientID ("apikey:<Name>") and in logs; Key is the credential and redacts
// itself wherever it could be printed.
type APIKey struct {
	Name string
	Key  signature.Secret
}

// ParseAPIKeys reads a comma-separated list of name:key pairs, e.g.
// "ci:k1,dashboard:k2". The key is everything after the first colon, so a key
// may itself contain colons; names may not. Blank entries are skipped, and an
// empty string gives no keys. Errors name the entry by position and by name,
// never by key.
func ParseAPIKeys(s string) ([]APIKey, error) {
	var keys []APIKey
	var problems []error
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, key, ok := strings.Cut(entry, ":")
		if !ok {
			// The entry is not echoed: without a colon it may be a bare key.
			problems = append(problems, fmt.Errorf("entry %d: want name:key", i+1))
			continue
		}
		keys = append(keys, APIKey{
			Name: strings.TrimSpace(name),
			Key:  signature.NewSecret(strings.TrimSpace(key)),
		})
	}
	if err := validateAPIKeys(keys); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("parse API keys: %w", errors.Join(problems...))
	}
	return keys, nil
}

// validateAPIKeys checks what both ParseAPIKeys and New rely on: every key
// has a usable name and a value, and neither repeats. A repeated value would
// make the client's identity ambiguous.
func validateAPIKeys(keys []APIKey) error {
	var problems []error
	names := make(map[string]int, len(keys))
	values := make(map[[sha256.Size]byte]int, len(keys))
	for i, k := range keys {
		n := i + 1
		if !validName(k.Name) {
			problems = append(problems, fmt.Errorf("API key %d: name %q must be 1-64 letters, digits, '.', '_' or '-'", n, k.Name))
		}
		if k.Key.IsZero() {
			problems = append(problems, fmt.Errorf("API key %d (%s): empty key", n, k.Name))
			continue
		}
		if prev, ok := names[k.Name]; ok {
			problems = append(problems, fmt.Errorf("API key %d: name %q already used by API key %d", n, k.Name, prev))
		} else {
			names[k.Name] = n
		}
		d := sha256.Sum256([]byte(k.Key.Reveal()))
		if prev, ok := values[d]; ok {
			problems = append(problems, fmt.Errorf("API key %d (%s): same key as API key %d", n, k.Name, prev))
		} else {
			values[d] = n
		}
	}
	return errors.Join(problems...)
}

// validName keeps names safe to print in logs and client ids.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// keyring holds SHA-256 digests of the configured keys. Comparing digests,
// which all have the same length, keeps the comparison from leaking the
// length of a configured key; and the raw keys need not stay in memory.
type keyring struct {
	names   []string
	digests [][sha256.Size]byte
}

func newKeyring(keys []APIKey) keyring {
	k := keyring{names: make([]string, len(keys)), digests: make([][sha256.Size]byte, len(keys))}
	for i, key := range keys {
		k.names[i] = key.Name
		k.digests[i] = sha256.Sum256([]byte(key.Key.Reveal()))
	}
	return k
}

// match returns the name of the key equal to presented. It compares against
// every key, without an early exit, so the time taken does not tell which key
// (or how many keys) came close.
func (k keyring) match(presented string) (string, bool) {
	d := sha256.Sum256([]byte(presented))
	found, idx := 0, 0
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
		found |= eq
	}
	if found == 0 {
		return "", false
	}
	return k.names[idx], true
}
