// Package settlement clears and settles captured funds: the merchant's fee
// plan (MDR), profit-sharing splits, and settlement runs that move matured
// pending funds to available (docs/settlement.md).
//
// Like the payment core, each run is a pure step that decides the writes
// from the rows it read (plan), then one function applies them in one
// transaction (apply): batch and line rows and ledger entries keyed by
// source, so each capture and refund settles exactly once.
package settlement

import (
	"math/bits"
	"strings"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// BasisPoints is 100 %.
const BasisPoints = 10000

// FeePlan is one line of a merchant's MDR: a percentage (in basis points)
// plus a fixed amount, for payments of a method, scheme and region ("" is
// any), and a surcharge for cross-border payments.
type FeePlan struct {
	ID                string
	MerchantID        string
	PaymentMethodType string
	Scheme            string
	Region            string
	PercentBps        int64
	// Fixed applies only to payments in its currency; a zero Fixed has none.
	Fixed          money.Amount
	CrossBorderBps int64
}

// Validate returns EINVALID unless the percentages are within 0–100 %, the
// fixed amount is not negative, and the region is empty or one of
// RegionDomestic, RegionIntraRegional and RegionInternational.
func (p FeePlan) Validate() error {
	switch p.Region {
	case "", RegionDomestic, RegionIntraRegional, RegionInternational:
	default:
		return payments.FieldErrorf("region", "region must be empty, %s, %s or %s", RegionDomestic, RegionIntraRegional, RegionInternational)
	}
	if p.PercentBps < 0 || p.PercentBps > BasisPoints {
		return payments.FieldErrorf("percentBps", "must be between 0 and %d", BasisPoints)
	}
	if p.CrossBorderBps < 0 || p.CrossBorderBps > BasisPoints {
		return payments.FieldErrorf("crossBorderBps", "must be between 0 and %d", BasisPoints)
	}
	if p.Fixed.Minor < 0 {
		return payments.FieldErrorf("fixed", "must not be negative")
	}
	return nil
}

// Payment is what a fee depends on.
type Payment struct {
	Gross             money.Amount // the captured amount, positive
	PaymentMethodType string
	Scheme            string
	Region            string
	CrossBorder       bool
}

// Fee is the MDR of a capture, by part. Total never exceeds the gross.
type Fee struct {
	Percent     int64
	CrossBorder int64
	Fixed       int64
	Total       int64
}

// Fee prices a capture. The rounding rule: each percentage part is
// gross × bps / 10000 rounded once, half away from zero, to the minor unit
// (computed exactly in integers); the fixed part is added when the payment
// is in the fixed amount's currency; the total is capped at the gross, so a
// fee never makes a line negative.
func (p FeePlan) Fee(pay Payment) Fee {
	g := pay.Gross.Minor
	if g <= 0 {
		return Fee{}
	}
	f := Fee{Percent: bpsOf(g, p.PercentBps)}
	if pay.CrossBorder {
		f.CrossBorder = bpsOf(g, p.CrossBorderBps)
	}
	if p.Fixed.Minor > 0 && p.Fixed.Currency == pay.Gross.Currency {
		f.Fixed = p.Fixed.Minor
	}
	f.Total = min(g, f.Percent+f.CrossBorder+f.Fixed)
	return f
}

// bpsOf is a·bps/10000 rounded half away from zero, for a ≥ 0 and
// 0 ≤ bps ≤ 10000, exactly through a 128-bit product.
func bpsOf(a, bps int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(bps))
	q, r := bits.Div64(hi, lo, BasisPoints)
	if 2*r >= BasisPoints {
		q++
	}
	return int64(q)
}

// floorBps is ⌊a·bps/10000⌋ for a ≥ 0 and 0 ≤ bps ≤ 10000.
func floorBps(a, bps int64) int64 {
	return mulDiv(a, bps, BasisPoints)
}

// mulDiv returns ⌊a·b/c⌋ for non-negative a, b and positive c with a·b/c
// within int64, exactly, through a 128-bit product.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// RefundFee is the part of a capture's MDR fee that a refund of r returns,
// when refunds of before were made earlier against a capture of captured:
// ⌊fee·(before+r)/captured⌋ − ⌊fee·before/captured⌋. The parts of all
// refunds add up to fee exactly once they add up to the capture, and each is
// at most r (fee ≤ captured).
func RefundFee(fee, captured, before, r int64) int64 {
	if fee <= 0 || captured <= 0 || r <= 0 {
		return 0
	}
	return mulDiv(fee, min(before+r, captured), captured) - mulDiv(fee, min(before, captured), captured)
}

// Select returns the plan that applies to pay among plans: the one whose
// method, scheme and region all match (a "" field matches anything; schemes
// match regardless of case) with the most fields set, ties going to the
// earlier plan. A payment whose scheme or region is unknown ("") matches
// only lines that leave it empty. ok is false when none matches (the fee is
// then zero).
func Select(plans []FeePlan, pay Payment) (FeePlan, bool) {
	best, bestScore := FeePlan{}, -1
	for _, p := range plans {
		score, match := 0, true
		for _, f := range [][2]string{{p.PaymentMethodType, pay.PaymentMethodType}, {p.Scheme, pay.Scheme}, {p.Region, pay.Region}} {
			switch {
			case f[0] == "":
			case strings.EqualFold(f[0], f[1]):
				score++
			default:
				match = false
			}
		}
		if match && score > bestScore {
			best, bestScore = p, score
		}
	}
	return best, bestScore >= 0
}
