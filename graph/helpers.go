package graph

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// amount turns a stored (minor, currency) pair into Money. A stored currency
// that no longer parses is a data bug, reported as INTERNAL.
func amount(minor int64, code string) (*money.Amount, error) {
	a, err := money.New(minor, code)
	if err != nil {
		return nil, fmt.Errorf("stored currency %q: %w", code, err)
	}
	return &a, nil
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (r *Resolver) viewer(ctx context.Context) (*model.Viewer, error) {
	v, _ := viewer.FromContext(ctx)
	p, ok := PrincipalOf(v)
	if !ok {
		return nil, payments.Errorf(payments.EUNAUTHORIZED, "authentication required")
	}
	out := &model.Viewer{Principal: p, Subject: v.Subject}
	if v.MerchantID != "" && v.Kind != viewer.Cashier {
		m, err := r.Client.Merchant.Get(ctx, v.MerchantID)
		if err != nil {
			return nil, fmt.Errorf("viewer merchant: %w", err)
		}
		out.Merchant = m
	}
	return out, nil
}

// merchant returns the merchant by id, or the caller's own when id is empty.
func (r *Resolver) merchant(ctx context.Context, id string) (*ent.Merchant, error) {
	v, _ := viewer.FromContext(ctx)
	if id == "" {
		id = v.MerchantID
	}
	if id == "" {
		return nil, payments.FieldErrorf("id", "id is required for operators")
	}
	m, err := r.Client.Merchant.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "merchant %q not found", truncate(id, 64))
	}
	return m, err
}
