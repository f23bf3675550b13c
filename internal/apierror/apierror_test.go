package apierror_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// TestREADMEListsExactlyTheDeclaredCodes: the README's error table names every
// code this package declares and no other, and gives each refusal its status.
func TestREADMEListsExactlyTheDeclaredCodes(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "### Errors\n")
	if start < 0 {
		t.Fatal("README has no ### Errors section")
	}
	section := readme[start+len("### Errors\n"):]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	code := regexp.MustCompile("`([A-Z_]+)`")
	documented := map[string]string{} // code → its row's status cell
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "| `") || len(cells) < 4 {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := documented[m[1]]; dup {
				t.Errorf("README lists %s twice", m[1])
			}
			documented[m[1]] = strings.TrimSpace(cells[2])
		}
	}
	var declared []string
	for _, e := range apierror.Codes() {
		declared = append(declared, string(e.Code))
		status, ok := documented[string(e.Code)]
		switch {
		case !ok:
			t.Errorf("README's error table does not list %s", e.Code)
		case e.Phase == apierror.Refusal && !strings.HasPrefix(status, strconv.Itoa(e.Status)):
			t.Errorf("README gives %s status %q, want %d", e.Code, status, e.Status)
		}
	}
	for c := range documented {
		if !slices.Contains(declared, c) {
			t.Errorf("README lists %s, which internal/apierror does not declare", c)
		}
	}
}

// TestWrite: every refusal has the code's status, a GraphQL-shaped body with
// no data entry, and headers no cache may replay.
func TestWrite(t *testing.T) {
	tests := []struct {
		name, media, wantType string
		code                  apierror.Code
		wantStatus            int
	}{
		{"before the endpoint", "", "application/json", apierror.Unauthenticated, http.StatusUnauthorized},
		{"negotiated by the endpoint", "application/graphql-response+json", "application/graphql-response+json; charset=utf-8", apierror.BodyTooLarge, http.StatusRequestEntityTooLarge},
		{"a panic", "", "application/json", apierror.Internal, http.StatusInternalServerError},
		{"not a refusal code: a bug", "", "application/json", apierror.UpstreamRejected, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			apierror.Write(w, tt.media, tt.code, "no <secrets> here")
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			h := w.Header()
			if h.Get("Content-Type") != tt.wantType || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
			var body map[string][]struct {
				Message    string            `json:"message"`
				Extensions map[string]string `json:"extensions"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			errs, hasData := body["errors"], body["data"] != nil
			if len(body) != 1 || hasData || len(errs) != 1 || errs[0].Message != "no <secrets> here" || errs[0].Extensions["code"] != string(tt.code) {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

// TestCodesAreUnique: no code is declared twice, and every refusal has an
// error status.
func TestCodesAreUnique(t *testing.T) {
	seen := map[apierror.Code]bool{}
	for _, e := range apierror.Codes() {
		if seen[e.Code] {
			t.Errorf("%s declared twice", e.Code)
		}
		seen[e.Code] = true
		if e.Phase == apierror.Refusal && e.Status < 400 {
			t.Errorf("%s is a refusal with status %d", e.Code, e.Status)
		}
	}
}
