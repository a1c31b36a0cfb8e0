package channels

import (
	"fmt"
	"strings"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/vocab/connectorterms"
)

// maxBasisPoints is 100 %: a fee above the whole amount is a typo.
const maxBasisPoints = 10000

func validateFees(in []FeeInput) ([]connectorterms.Fee, error) {
	out := make([]connectorterms.Fee, 0, len(in))
	seen := map[money.Currency]bool{}
	for i, f := range in {
		field := func(name string) string { return fmt.Sprintf("fees[%d].%s", i, name) }
		cur, err := money.ParseCurrency(f.Currency)
		if err != nil {
			return nil, payments.FieldErrorf(field("currency"), "unknown currency %q", truncate(f.Currency, 8))
		}
		switch {
		case seen[cur]:
			return nil, payments.FieldErrorf(field("currency"), "%s appears twice", cur)
		case f.FixedMinor < 0:
			return nil, payments.FieldErrorf(field("fixedAmount"), "must not be negative")
		case f.BasisPoints < 0 || f.BasisPoints > maxBasisPoints:
			return nil, payments.FieldErrorf(field("basisPoints"), "must be between 0 and %d", maxBasisPoints)
		}
		seen[cur] = true
		out = append(out, connectorterms.Fee{Currency: cur, FixedMinor: f.FixedMinor, BasisPoints: f.BasisPoints})
	}
	return out, nil
}

func validateLimits(in []LimitInput) ([]connectorterms.Limit, error) {
	out := make([]connectorterms.Limit, 0, len(in))
	seen := map[money.Currency]bool{}
	for i, l := range in {
		field := func(name string) string { return fmt.Sprintf("limits[%d].%s", i, name) }
		cur, err := money.ParseCurrency(l.Currency)
		if err != nil {
			return nil, payments.FieldErrorf(field("currency"), "unknown currency %q", truncate(l.Currency, 8))
		}
		var max int64
		if l.Max != nil {
			max = *l.Max
		}
		switch {
		case seen[cur]:
			return nil, payments.FieldErrorf(field("currency"), "%s appears twice", cur)
		case l.Min < 0:
			return nil, payments.FieldErrorf(field("min"), "must not be negative")
		case l.Max != nil && max <= 0:
			return nil, payments.FieldErrorf(field("max"), "must be positive; omit it for no maximum")
		case l.Max != nil && l.Min > max:
			return nil, payments.FieldErrorf(field("min"), "must not exceed max")
		}
		seen[cur] = true
		out = append(out, connectorterms.Limit{Currency: cur, Min: l.Min, Max: max})
	}
	return out, nil
}

// describeFees renders fees for the audit log, e.g. "USD 30+290bp".
func describeFees(fees []connectorterms.Fee) string {
	parts := make([]string, len(fees))
	for i, f := range fees {
		parts[i] = fmt.Sprintf("%s %d+%dbp", f.Currency, f.FixedMinor, f.BasisPoints)
	}
	return strings.Join(parts, ", ")
}

// describeLimits renders limits for the audit log, e.g. "JPY 100..1000000".
func describeLimits(limits []connectorterms.Limit) string {
	parts := make([]string, len(limits))
	for i, l := range limits {
		max := "∞"
		if l.Max > 0 {
			max = fmt.Sprint(l.Max)
		}
		parts[i] = fmt.Sprintf("%s %d..%s", l.Currency, l.Min, max)
	}
	return strings.Join(parts, ", ")
}
