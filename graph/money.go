package graph

import (
	"context"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// merchantOf returns the caller's merchant; @auth has already required a
// merchant principal on every operation that uses it.
func merchantOf(ctx context.Context) string {
	v, _ := viewer.FromContext(ctx)
	return v.MerchantID
}

// parseCurrency parses an ISO 4217 code; an unknown one becomes the zero Currency,
// which every domain call refuses with a coded EINVALID on field "currency".
func parseCurrency(code string) money.Currency {
	c, _ := money.ParseCurrency(code)
	return c
}

// moneyInput turns a MoneyInput into an Amount (see parseCurrency for bad codes).
func moneyInput(in *model.MoneyInput) money.Amount {
	if in == nil {
		return money.Amount{}
	}
	return money.Amount{Minor: int64(in.Amount), Currency: parseCurrency(in.Currency)}
}

// checkExponent refuses an amount whose stated exponent is not its
// currency's (EINVALID on field+".exponent"): a client with the minor unit
// wrong would otherwise capture, refund or charge 100× too much or too
// little. An unknown currency is left to the domain, which names it.
func checkExponent(field string, in *model.MoneyInput) error {
	if in == nil || in.Exponent == nil {
		return nil
	}
	if c := parseCurrency(in.Currency); !c.IsZero() && c.Exponent() != *in.Exponent {
		return payments.FieldErrorf(field+".exponent", "%s has %d decimal places, not %d", c.Code(), c.Exponent(), *in.Exponent)
	}
	return nil
}

// ptrs adapts a domain list to gqlgen's list of pointers.
func ptrs[T any](items []T, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out, nil
}

// optionalMoney is moneyInput for an optional amount: nil stays nil.
func optionalMoney(in *model.MoneyInput) *money.Amount {
	if in == nil {
		return nil
	}
	a := moneyInput(in)
	return &a
}
