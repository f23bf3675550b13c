// Package persisted enforces trusted documents: with a manifest of
// { "<sha256 hex>": "<document>" } (the format graphql-codegen's client
// preset emits), only the listed operations run.
package persisted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
)

// Manifest maps a document's sha256 (lowercase hex) to the document.
type Manifest map[string]string

// Hash returns the manifest key of a document.
func Hash(document string) string {
	sum := sha256.Sum256([]byte(document))
	return hex.EncodeToString(sum[:])
}

// LoadManifest reads and checks a manifest file: every key must be the
// sha256 of its document, so a tampered or mis-generated file fails start-up
// rather than letting the wrong document run under a trusted hash.
func LoadManifest(path string) (Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read persisted documents manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("persisted documents manifest %s: not a JSON object of hash to document: %w", path, err)
	}
	for hash, doc := range m {
		if Hash(doc) != strings.ToLower(strings.TrimPrefix(hash, "sha256:")) {
			return nil, fmt.Errorf("persisted documents manifest %s: key %.16s… is not the sha256 of its document", path, hash)
		}
	}
	norm := make(Manifest, len(m))
	for hash, doc := range m {
		norm[strings.ToLower(strings.TrimPrefix(hash, "sha256:"))] = doc
	}
	return norm, nil
}

// OnlyListed is a gqlgen extension that runs only the manifest's documents.
// A request names one by hash (extensions.persistedQuery.sha256Hash, as APQ
// clients send it, or documentId, as the GraphQL-over-HTTP persisted
// operations proposal has it), or sends a document whose hash is listed.
type OnlyListed struct {
	Manifest Manifest
}

var (
	_ graphql.HandlerExtension          = OnlyListed{}
	_ graphql.OperationParameterMutator = OnlyListed{}
)

// ExtensionName implements graphql.HandlerExtension.
func (OnlyListed) ExtensionName() string { return "TrustedDocuments" }

// Validate implements graphql.HandlerExtension.
func (o OnlyListed) Validate(graphql.ExecutableSchema) error {
	if len(o.Manifest) == 0 {
		return fmt.Errorf("trusted documents: the manifest is empty, so nothing could run")
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (o OnlyListed) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if hash := RequestedHash(p); hash != "" {
		doc, ok := o.Manifest[hash]
		if !ok {
			return apierror.GraphQL(apierror.PersistedQueryNotFound, "PersistedQueryNotFound")
		}
		if p.Query != "" && p.Query != doc {
			return apierror.GraphQL(apierror.PersistedQueryNotAllowed, "the document does not match its hash")
		}
		p.Query = doc
		return nil
	}
	if _, ok := o.Manifest[Hash(p.Query)]; !ok {
		return apierror.GraphQL(apierror.PersistedQueryNotAllowed, "only persisted documents may run on this server")
	}
	return nil
}

// RequestedHash returns the document hash a request names, or "".
func RequestedHash(p *graphql.RawParams) string {
	pq, _ := p.Extensions["persistedQuery"].(map[string]any)
	if h, _ := pq["sha256Hash"].(string); h != "" {
		return strings.ToLower(h)
	}
	if id, _ := p.Extensions[DocumentIDKey].(string); id != "" {
		return strings.ToLower(strings.TrimPrefix(id, "sha256:"))
	}
	return ""
}

// DocumentIDKey is where the transport puts a request's top-level documentId,
// since gqlgen's RawParams has no field for it.
const DocumentIDKey = "documentId"

// OperationNames returns the names of the manifest's named operations, each
// once, sorted; a document that does not parse names none (it would fail
// validation anyway).
func (m Manifest) OperationNames() []string {
	seen := map[string]bool{}
	for _, doc := range m {
		parsed, err := parser.ParseQuery(&ast.Source{Input: doc})
		if err != nil {
			continue
		}
		for _, op := range parsed.Operations {
			if op.Name != "" {
				seen[op.Name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
