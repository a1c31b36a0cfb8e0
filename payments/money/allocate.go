package money

import (
	"math"
	"math/bits"
	"sort"

	"github.com/straitpay/strait/payments"
)

// Allocate splits a into len(ratios) parts proportional to ratios, using the
// largest remainder method: each part first gets the floor of its exact share,
// then the minor units left over go one each to the parts with the largest
// remainders, ties going to the earlier part. The parts always sum exactly to a,
// a part with ratio 0 is always zero, and a negative amount splits like its
// magnitude with every part negated.
//
// Returns EINVALID (field "ratios") if there are no ratios, a ratio is
// negative, all ratios are zero, or their sum overflows int64.
func (a Amount) Allocate(ratios ...int64) ([]Amount, error) {
	if len(ratios) == 0 {
		return nil, payments.FieldErrorf("ratios", "at least one ratio is required")
	}
	var total uint64
	for _, r := range ratios {
		if r < 0 {
			return nil, payments.FieldErrorf("ratios", "ratio %d is negative", r)
		}
		total += uint64(r)
		if total > math.MaxInt64 {
			return nil, payments.FieldErrorf("ratios", "ratios overflow")
		}
	}
	if total == 0 {
		return nil, payments.FieldErrorf("ratios", "ratios sum to zero")
	}

	neg := a.Minor < 0
	mag := uint64(a.Minor) // the magnitude, correct even for MinInt64
	if neg {
		mag = -mag
	}

	shares := make([]uint64, len(ratios))
	rems := make([]uint64, len(ratios))
	var given uint64
	for i, r := range ratios {
		// mag*r needs 128 bits; the quotient fits in 64 because r <= total.
		hi, lo := bits.Mul64(mag, uint64(r))
		shares[i], rems[i] = bits.Div64(hi, lo, total)
		given += shares[i]
	}

	// The leftover is below len(ratios) and never exceeds the number of parts
	// with a non-zero remainder, so zero-ratio parts never receive a unit.
	order := make([]int, len(ratios))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return rems[order[x]] > rems[order[y]] })
	for _, i := range order[:mag-given] {
		shares[i]++
	}

	parts := make([]Amount, len(ratios))
	for i, s := range shares {
		m := int64(s)
		if neg {
			m = int64(-s)
		}
		parts[i] = Amount{Minor: m, Currency: a.Currency}
	}
	return parts, nil
}
