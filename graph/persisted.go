package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DocumentIDExtension is the request extension that carries a top-level
// documentId or doc_id parameter (the transport moves it there), so that
// PersistedOperations sees every way a client names a persisted operation.
const DocumentIDExtension = "strait.documentId"

// PersistedOperations serves only the operations of an allow-list: a request
// names one by ID (extensions.persistedQuery.sha256Hash as Apollo and
// GraphQL Code Generator send it, documentId, or Relay's doc_id), or sends a
// document whose text is exactly one of the list's. Anything else is refused
// with FORBIDDEN before it is parsed. It replaces automatic persisted queries:
// with an allow-list nothing can register a new document.
type PersistedOperations struct {
	byID   map[string]string
	byText map[string]bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*PersistedOperations)(nil)

// LoadPersistedOperations reads an allow-list file. Three formats are
// accepted, all JSON:
//
//   - an object of ID → document, as GraphQL Code Generator's client preset
//     (persistedDocuments) and Relay's compiler (persistConfig.file) write;
//   - Apollo's persisted query manifest: {"format":
//     "apollo-persisted-query-manifest", "operations": [{"id", "body"}, …]};
//   - an array of documents, each listed under its sha256.
//
// An empty list, or a document listed under two different texts, is an error.
func LoadPersistedOperations(path string) (*PersistedOperations, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("persisted operations: %w", err)
	}
	p := &PersistedOperations{byID: map[string]string{}, byText: map[string]bool{}}
	add := func(id, doc string) error {
		if id == "" || doc == "" {
			return fmt.Errorf("persisted operations %s: an entry has an empty ID or document", path)
		}
		if prev, ok := p.byID[id]; ok && prev != doc {
			return fmt.Errorf("persisted operations %s: %s is listed twice with different documents", path, id)
		}
		p.byID[id], p.byText[doc] = doc, true
		return nil
	}
	var manifest struct {
		Format     string `json:"format"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	var byID map[string]string
	var docs []string
	switch {
	case json.Unmarshal(raw, &manifest) == nil && manifest.Format == "apollo-persisted-query-manifest":
		for _, op := range manifest.Operations {
			if err := add(op.ID, op.Body); err != nil {
				return nil, err
			}
		}
	case json.Unmarshal(raw, &byID) == nil:
		for id, doc := range byID {
			if err := add(id, doc); err != nil {
				return nil, err
			}
		}
	case json.Unmarshal(raw, &docs) == nil:
		for _, doc := range docs {
			if err := add(sha256Hex(doc), doc); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("persisted operations %s: not an object of ID to document, an Apollo manifest, or an array of documents", path)
	}
	if len(p.byID) == 0 {
		return nil, fmt.Errorf("persisted operations %s: the list is empty", path)
	}
	return p, nil
}

// Len returns how many operations the list holds.
func (p *PersistedOperations) Len() int { return len(p.byID) }

// ExtensionName implements graphql.HandlerExtension.
func (*PersistedOperations) ExtensionName() string { return "StraitPersistedOperations" }

// Validate implements graphql.HandlerExtension.
func (*PersistedOperations) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator: it
// puts the listed document in place of the ID, or refuses the request.
func (p *PersistedOperations) MutateOperationParameters(_ context.Context, params *graphql.RawParams) *gqlerror.Error {
	id := requestedDocumentID(params.Extensions)
	if id != "" {
		doc, ok := p.byID[id]
		if !ok {
			return codedError(CodeForbidden, "only persisted operations are served: %q is not in the list", id)
		}
		if params.Query != "" && params.Query != doc {
			return codedError(CodeBadUserInput, "the document sent is not the one persisted as %q", id)
		}
		params.Query = doc
		return nil
	}
	if params.Query != "" && p.byText[params.Query] {
		return nil
	}
	return codedError(CodeForbidden, "only persisted operations are served: send the ID of a listed operation")
}

// requestedDocumentID returns the ID a request names, or "".
func requestedDocumentID(ext map[string]any) string {
	if id, ok := ext[DocumentIDExtension].(string); ok {
		return id
	}
	if pq, ok := ext["persistedQuery"].(map[string]any); ok {
		if h, ok := pq["sha256Hash"].(string); ok {
			return h
		}
	}
	return ""
}

// RefuseDocumentIDs refuses documentId and doc_id when no allow-list is
// loaded: there is nothing they could name (APQ uses extensions.persistedQuery).
type RefuseDocumentIDs struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = RefuseDocumentIDs{}

// ExtensionName implements graphql.HandlerExtension.
func (RefuseDocumentIDs) ExtensionName() string { return "StraitRefuseDocumentIDs" }

// Validate implements graphql.HandlerExtension.
func (RefuseDocumentIDs) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (RefuseDocumentIDs) MutateOperationParameters(_ context.Context, params *graphql.RawParams) *gqlerror.Error {
	if _, ok := params.Extensions[DocumentIDExtension]; ok {
		return codedError(CodeBadUserInput, "this server has no persisted operations: send the query")
	}
	return nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
