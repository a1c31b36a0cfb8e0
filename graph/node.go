package graph

import (
	"context"
	"errors"

	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
)

// errNodeNotFound is the one answer for malformed, unknown and invisible IDs,
// so a scan of other tenants' IDs learns nothing.
func errNodeNotFound(id string) error {
	return payments.Errorf(payments.ENOTFOUND, "no node with id %q", truncate(id, 64))
}

func nodeType(_ context.Context, id string) (string, error) {
	prefix, ok := pulid.Prefix(id)
	if !ok {
		return "", errNodeNotFound(id)
	}
	// ent.NodeTypes is generated from the schemas' ID prefixes
	// (ent/template/node_prefix.tmpl): every GraphQL Node type is in it.
	t, ok := ent.NodeTypes[prefix]
	if !ok {
		return "", errNodeNotFound(id)
	}
	return t.Table, nil
}

// node resolves one ID through the privacy-filtered client.
func (r *Resolver) node(ctx context.Context, id string) (ent.Noder, error) {
	n, err := r.Client.Noder(ctx, id, ent.WithNodeType(nodeType))
	// A type the caller may not read at all answers like a missing row, so
	// node() never tells which IDs exist.
	if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) || payments.ErrorCode(err) == payments.ENOTFOUND {
		return nil, errNodeNotFound(id)
	}
	return n, err
}

// maxNodes bounds nodes(ids:) so one request cannot fan out into thousands of lookups.
const maxNodes = 100

func (r *Resolver) nodes(ctx context.Context, ids []string) ([]ent.Noder, error) {
	if len(ids) > maxNodes {
		return nil, payments.FieldErrorf("ids", "at most %d ids per request", maxNodes)
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, err := nodeType(ctx, id); err == nil {
			valid = append(valid, id)
		}
	}
	var found []ent.Noder
	switch len(valid) {
	case 0:
	case 1:
		// ent's Noders turns a single ID into Noder, which fails the whole field
		// on not-found instead of leaving a null.
		n, err := r.node(ctx, valid[0])
		if err != nil && payments.ErrorCode(err) != payments.ENOTFOUND {
			return nil, err
		}
		found = []ent.Noder{n}
	default:
		var err error
		// Noders reports each missing ID as a NOT_FOUND error at its index.
		if found, err = r.Client.Noders(ctx, valid, ent.WithNodeType(nodeType)); err != nil {
			return nil, err
		}
	}
	byID := make(map[string]ent.Noder, len(found))
	for i, n := range found {
		if n != nil {
			byID[valid[i]] = n
		}
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		out[i] = byID[id] // nil for invisible or unknown IDs, as Relay expects
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
