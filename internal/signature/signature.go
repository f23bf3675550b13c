// Package signature computes and verifies the request signature tanmarket's open
// API expects in the `sign` header. The vendor's page does not give the recipe, so
// it is a configurable Recipe shared by the client and the simulator.
package signature

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Credentials identify the calling application. AppKey and AppSecret redact
// themselves when printed.
type Credentials struct {
	AppID     string
	AppKey    Secret
	AppSecret Secret
}

// Format implements fmt.Formatter so that verbs fmt does not apply to structs
// (%p, %d) cannot reach the raw fields; every verb formats a method-less copy,
// whose Secret fields redact themselves.
func (c Credentials) Format(f fmt.State, verb rune) {
	type plain Credentials
	fmt.Fprintf(f, fmt.FormatString(f, verb), plain(c))
}

// Signer produces the timestamp and sign headers of a request made at now.
type Signer interface {
	Sign(c Credentials, now time.Time) (timestamp, sign string)
}

// Algorithm names a digest.
type Algorithm string

// The supported algorithms. HMACSHA256 is keyed by the app secret.
const (
	MD5        Algorithm = "md5"
	SHA1       Algorithm = "sha1"
	SHA256     Algorithm = "sha256"
	HMACSHA256 Algorithm = "hmac-sha256"
)

// Unit is the resolution of the timestamp header.
type Unit string

// Timestamp units.
const (
	Milliseconds Unit = "ms"
	Seconds      Unit = "s"
)

// The default recipe: md5 over {appId}{appKey}{timestamp}{appSecret} in
// milliseconds. It is declared here, with the recipe's meaning, and nowhere
// else: internal/config's table shows these as the defaults of
// UPSTREAM_SIGN_ALGORITHM, UPSTREAM_SIGN_TEMPLATE and UPSTREAM_TIMESTAMP_UNIT,
// and the simulator and tests sign with Default().
const (
	DefaultAlgorithm = MD5
	DefaultTemplate  = "{appId}{appKey}{timestamp}{appSecret}"
	DefaultUnit      = Milliseconds
)

// placeholders are the names a template may use, in braces.
var placeholders = []string{"appId", "appKey", "appSecret", "timestamp"}

// Recipe is the one configurable Signer: a digest over a template, lowercase hex.
// Build it with NewRecipe so that the template is checked once.
type Recipe struct {
	algorithm Algorithm
	unit      Unit
	parts     []part
}

// part is either literal text or a placeholder name.
type part struct {
	literal     string
	placeholder string
}

// Default returns the default recipe (DefaultAlgorithm, DefaultTemplate,
// DefaultUnit).
func Default() Recipe {
	r, err := NewRecipe(DefaultAlgorithm, DefaultTemplate, DefaultUnit)
	if err != nil {
		panic(err) // the default template is a constant; a failure is a bug here
	}
	return r
}

// NewRecipe checks its arguments: a known algorithm and unit, and a template whose
// braces name only known placeholders.
func NewRecipe(alg Algorithm, template string, unit Unit) (Recipe, error) {
	if err := alg.Validate(); err != nil {
		return Recipe{}, err
	}
	if err := unit.Validate(); err != nil {
		return Recipe{}, err
	}
	parts, err := parseTemplate(template)
	if err != nil {
		return Recipe{}, err
	}
	return Recipe{algorithm: alg, unit: unit, parts: parts}, nil
}

// Validate reports whether a is one of the supported algorithms.
func (a Algorithm) Validate() error {
	switch a {
	case MD5, SHA1, SHA256, HMACSHA256:
		return nil
	}
	return fmt.Errorf("unknown algorithm %q (want md5, sha1, sha256 or hmac-sha256)", string(a))
}

// Validate reports whether u is ms or s.
func (u Unit) Validate() error {
	switch u {
	case Milliseconds, Seconds:
		return nil
	}
	return fmt.Errorf("unknown timestamp unit %q (want ms or s)", string(u))
}

// ValidateTemplate reports whether t is a usable template.
func ValidateTemplate(t string) error {
	_, err := parseTemplate(t)
	return err
}

func parseTemplate(t string) ([]part, error) {
	if t == "" {
		return nil, fmt.Errorf("empty template")
	}
	var parts []part
	for rest := t; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, fmt.Errorf("template %q: unmatched }", t)
			}
			parts = append(parts, part{literal: rest})
			break
		}
		if open > 0 {
			if strings.IndexByte(rest[:open], '}') >= 0 {
				return nil, fmt.Errorf("template %q: unmatched }", t)
			}
			parts = append(parts, part{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template %q: unclosed {", t)
		}
		name := rest[open+1 : open+end]
		known := false
		for _, p := range placeholders {
			known = known || p == name
		}
		if !known {
			return nil, fmt.Errorf("template %q: unknown placeholder {%s} (want {appId}, {appKey}, {appSecret} or {timestamp})", t, name)
		}
		parts = append(parts, part{placeholder: name})
		rest = rest[open+end+1:]
	}
	return parts, nil
}

// Algorithm returns the digest the recipe uses.
func (r Recipe) Algorithm() Algorithm { return r.algorithm }

// Unit returns the timestamp resolution.
func (r Recipe) Unit() Unit { return r.unit }

// Template returns the template text the recipe was built from.
func (r Recipe) Template() string {
	var b strings.Builder
	for _, p := range r.parts {
		if p.placeholder != "" {
			b.WriteString("{" + p.placeholder + "}")
		} else {
			b.WriteString(p.literal)
		}
	}
	return b.String()
}

// Timestamp formats now in the recipe's unit.
func (r Recipe) Timestamp(now time.Time) string {
	if r.unit == Seconds {
		return strconv.FormatInt(now.Unix(), 10)
	}
	return strconv.FormatInt(now.UnixMilli(), 10)
}

// Sign implements Signer.
func (r Recipe) Sign(c Credentials, now time.Time) (timestamp, sign string) {
	timestamp = r.Timestamp(now)
	return timestamp, r.SignTimestamp(c, timestamp)
}

// SignTimestamp signs a request whose timestamp header is ts.
func (r Recipe) SignTimestamp(c Credentials, ts string) string {
	var msg strings.Builder
	for _, p := range r.parts {
		switch p.placeholder {
		case "":
			msg.WriteString(p.literal)
		case "appId":
			msg.WriteString(c.AppID)
		case "appKey":
			msg.WriteString(c.AppKey.Reveal())
		case "appSecret":
			msg.WriteString(c.AppSecret.Reveal())
		case "timestamp":
			msg.WriteString(ts)
		}
	}
	var h hash.Hash
	switch r.algorithm {
	case SHA1:
		h = sha1.New()
	case SHA256:
		h = sha256.New()
	case HMACSHA256:
		h = hmac.New(sha256.New, []byte(c.AppSecret.Reveal()))
	default: // MD5, and the zero Recipe
		h = md5.New()
	}
	h.Write([]byte(msg.String()))
	return hex.EncodeToString(h.Sum(nil))
}

// Verify reports whether sign is the signature of a request with timestamp ts,
// comparing in constant time so that a verifier leaks nothing through timing.
func (r Recipe) Verify(c Credentials, ts, sign string) bool {
	want := r.SignTimestamp(c, ts)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(sign))) == 1
}

// SetHeaders puts a signed request's four headers on h under the vendor's
// exact spelling: the map is set directly, since Header.Set would canonicalise
// appId to Appid.
func SetHeaders(h http.Header, c Credentials, timestamp, sign string) {
	h["appId"] = []string{c.AppID}
	h["appKey"] = []string{c.AppKey.Reveal()}
	h["timestamp"] = []string{timestamp}
	h["sign"] = []string{sign}
}
