package settlement

import (
	"slices"

	"github.com/straitpay/strait/ent/schema"
)

// splitsOf records a rule's allocation (SplitRule.Allocate) as a
// settlement line's splits, each part under the rule's basis.
func splitsOf(basis Basis, parts []Part) []schema.SettlementSplit {
	out := make([]schema.SettlementSplit, len(parts))
	for i, p := range parts {
		out[i] = schema.SettlementSplit{Partner: p.Partner, Basis: string(basis), Amount: p.Amount}
	}
	return out
}

// clawback is what a refund of r takes back from the partners of a capture
// of captured whose line paid them capture, after refunds of before: each
// part comes back pro rata by the fee's own rule (RefundFee), as a negative
// part under the same partner and basis. So each partner's returns never
// exceed its part, add up to exactly its part once the refunds add up to
// the capture, and the residue partner returns its residue (which is in
// its part) the same way: no new residue arises. sf and sg are the
// clawback's FEE and GROSS totals (≤ 0): the fee share goes back to the
// platform's fee account, the gross share to the merchant's available.
func clawback(capture []schema.SettlementSplit, captured, before, r int64) (out []schema.SettlementSplit, sf, sg int64) {
	for _, s := range capture {
		v := RefundFee(s.Amount, captured, before, r)
		if v == 0 {
			continue
		}
		out = append(out, schema.SettlementSplit{Partner: s.Partner, Basis: s.Basis, Amount: -v})
		if Basis(s.Basis) == BasisGross {
			sg -= v
		} else {
			sf -= v
		}
	}
	return out, sf, sg
}

// reversed undoes a refund's clawback when the channel refused the refund
// (a refund reversal): each partner gets back what it returned.
func reversed(refund []schema.SettlementSplit) (out []schema.SettlementSplit, sf, sg int64) {
	out = slices.Clone(refund)
	for i := range out {
		out[i].Amount = -out[i].Amount
		if Basis(out[i].Basis) == BasisGross {
			sg += out[i].Amount
		} else {
			sf += out[i].Amount
		}
	}
	return out, sf, sg
}
