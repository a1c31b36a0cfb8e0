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

// withAmount hands call the amount in, converted (see parseCurrency for bad
// codes) once its stated exponent has been checked: an exponent that is not
// the currency's is refused with EINVALID on field+".exponent", and call is
// not made. A client with the minor unit wrong would otherwise capture,
// refund or charge 100× too much or too little. An unknown currency is left
// to the domain, which names it.
func withAmount[T any](field string, in *model.MoneyInput, call func(money.Amount) (T, error)) (T, error) {
	if err := checkExponent(field, in); err != nil {
		var zero T
		return zero, err
	}
	return call(moneyInput(in))
}

// withOptionalAmount is withAmount for an optional amount: nil stays nil.
func withOptionalAmount[T any](field string, in *model.MoneyInput, call func(*money.Amount) (T, error)) (T, error) {
	return withAmount(field, in, func(a money.Amount) (T, error) {
		if in == nil {
			return call(nil)
		}
		return call(&a)
	})
}

// checkExponent is withAmount's check: EINVALID on field+".exponent" when in
// states an exponent its currency does not have.
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

// ref adapts a domain call that returns a value to gqlgen's pointer.
func ref[T any](v T, err error) (*T, error) {
	return &v, err
}
