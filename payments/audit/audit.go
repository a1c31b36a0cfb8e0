// Package audit records privileged actions in the append-only audit log, in the
// same transaction as the action itself.
package audit

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/viewer"
)

// Request describes where an action came from, for the audit trail.
type Request struct {
	ID         string
	RemoteAddr string
}

type requestKey struct{}

// WithRequest returns a context carrying the request's metadata.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request metadata in ctx, or the zero Request.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Entry is one privileged action.
type Entry struct {
	// MerchantID is the tenant the action touched; "" for platform actions.
	MerchantID string
	Action     string // e.g. "merchant.create", "api_key.revoke"
	TargetType string
	TargetID   string
	Details    map[string]string
}

// Record writes e to the audit log through tx, attributed to the viewer in ctx.
// It fails if there is no viewer: every privileged action has an actor.
func Record(ctx context.Context, tx *ent.Tx, e Entry) error {
	v, ok := viewer.FromContext(ctx)
	if !ok {
		return fmt.Errorf("audit %s: no viewer in context", e.Action)
	}
	req := RequestFrom(ctx)
	c := tx.AuditLog.Create().
		SetActorKind(string(v.Kind)).
		SetActorID(v.Subject).
		SetAction(e.Action).
		SetTargetType(e.TargetType).
		SetTargetID(e.TargetID).
		SetRequestID(req.ID).
		SetRemoteAddr(req.RemoteAddr)
	if e.MerchantID != "" {
		c.SetMerchantID(e.MerchantID)
	}
	if len(e.Details) > 0 {
		c.SetDetails(e.Details)
	}
	if _, err := c.Save(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}
