package settlement

import (
	"slices"

	"github.com/straitpay/strait/payments"
)

// Basis is what a split rule shares.
type Basis string

// Split bases.
const (
	BasisFee   Basis = "FEE"   // a share of the MDR fee, out of the platform's fees
	BasisGross Basis = "GROSS" // a share of the gross, out of the merchant's net
)

// SplitRule sends shares of a capture's fee or gross to partner accounts.
type SplitRule struct {
	ID         string
	MerchantID string
	Name       string
	Basis      Basis
	// Shares are basis points per partner id; together at most 10000.
	Shares map[string]int64
	// ResiduePartner receives the rounding residue.
	ResiduePartner string
}

// Validate returns EINVALID (field "shares") for a negative share, shares
// above 100 % together, or no shares, and for a missing name, basis or
// residue partner.
func (r SplitRule) Validate() error {
	if r.Name == "" {
		return payments.FieldErrorf("name", "a split rule needs a name")
	}
	if r.Basis != BasisFee && r.Basis != BasisGross {
		return payments.FieldErrorf("basis", "basis must be FEE or GROSS")
	}
	if r.ResiduePartner == "" {
		return payments.FieldErrorf("residuePartner", "a split rule names the partner that receives the rounding residue")
	}
	if len(r.Shares) == 0 {
		return payments.FieldErrorf("shares", "a split rule needs at least one share")
	}
	var total int64
	for partner, bps := range r.Shares {
		if partner == "" || bps <= 0 {
			return payments.FieldErrorf("shares", "each share names a partner and is above 0 basis points")
		}
		total += bps
		if total > BasisPoints {
			return payments.FieldErrorf("shares", "shares add up to more than 100%% (%d basis points)", BasisPoints)
		}
	}
	return nil
}

// Allocate shares amount (≥ 0) among the rule's partners. The partners
// together get ⌊amount·Σshares/10000⌋; each gets the floor of its own share,
// and the rounding residue (less than one unit per partner) goes to
// ResiduePartner, so the parts add up exactly to the shared total.
// Partners are returned in id order, with zero parts left out.
func (r SplitRule) Allocate(amount int64) (parts []Part, shared int64) {
	if amount <= 0 {
		return nil, 0
	}
	var total, given int64
	partners := make([]string, 0, len(r.Shares))
	for p, bps := range r.Shares {
		partners = append(partners, p)
		total += bps
	}
	slices.Sort(partners)
	shared = floorBps(amount, total)
	byPartner := map[string]int64{}
	for _, p := range partners {
		v := floorBps(amount, r.Shares[p])
		byPartner[p] += v
		given += v
	}
	byPartner[r.ResiduePartner] += shared - given
	keys := make([]string, 0, len(byPartner))
	for p := range byPartner {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		if byPartner[p] != 0 {
			parts = append(parts, Part{Partner: p, Amount: byPartner[p]})
		}
	}
	return parts, shared
}

// Part is one partner's share.
type Part struct {
	Partner string
	Amount  int64
}
