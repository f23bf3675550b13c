package persisted_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/persisted"
)

func TestLoadManifest(t *testing.T) {
	const doc = "query Types { opportunityTypes { typeId } }"
	// printf '%s' 'query Types { opportunityTypes { typeId } }' | sha256sum
	const hash = "bd34eae3c5817c48b6e90f76c3d3974e5f50801bdd360802ac254be37112e372"
	if got := persisted.Hash(doc); got != hash {
		t.Fatalf("Hash = %q, want %q", got, hash)
	}
	tests := []struct {
		name    string
		give    string
		wantErr string
	}{
		{"valid", `{"` + persisted.Hash(doc) + `": "` + doc + `"}`, ""},
		{"sha256: prefix and upper case", `{"sha256:` + strings.ToUpper(persisted.Hash(doc)) + `": "` + doc + `"}`, ""},
		{"hash of another document", `{"` + hash[:63] + `0": "` + doc + `"}`, "not the sha256"},
		{"not an object", `["` + doc + `"]`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.json")
			if err := os.WriteFile(path, []byte(tt.give), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := persisted.LoadManifest(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || m[persisted.Hash(doc)] != doc {
				t.Fatalf("LoadManifest = %v, %v", m, err)
			}
		})
	}
	if _, err := persisted.LoadManifest(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}
