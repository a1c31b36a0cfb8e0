package graph

import (
	"context"
	"slices"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/settlementline"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/settlement"
)

// settlementsNewestFirst orders settlement batches by ID descending: IDs
// are time-ordered, so the latest runs come first.
var settlementsNewestFirst = ent.WithSettlementBatchOrder(&ent.SettlementBatchOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultSettlementBatchOrder.Field,
})

func feePlanInput(in model.FeePlanInput) settlement.FeePlan {
	return settlement.FeePlan{MerchantID: in.MerchantID, PaymentMethodType: in.PaymentMethodType, Scheme: in.Scheme,
		Region: in.Region, PercentBps: int64(in.PercentBps), Fixed: moneyInput(in.Fixed), CrossBorderBps: int64(in.CrossBorderBps)}
}

func splitRuleInput(in model.SplitRuleInput) settlement.SplitRule {
	r := settlement.SplitRule{MerchantID: in.MerchantID, Name: in.Name, Basis: settlement.Basis(in.Basis),
		Shares: map[string]int64{}, ResiduePartner: in.ResiduePartner}
	for _, s := range in.Shares {
		r.Shares[s.Partner] += int64(s.Bps)
	}
	return r
}

func splitShares(r *settlement.SplitRule) []*model.SplitShare {
	out := make([]*model.SplitShare, 0, len(r.Shares))
	for p, bps := range r.Shares {
		out = append(out, &model.SplitShare{Partner: p, Bps: int(bps)})
	}
	slices.SortFunc(out, func(a, b *model.SplitShare) int { return strings.Compare(a.Partner, b.Partner) })
	return out
}

// fixedFee is a fee plan's fixed part, nil when it has none.
func fixedFee(p *settlement.FeePlan) *money.Amount {
	if p.Fixed.Minor == 0 {
		return nil
	}
	return &p.Fixed
}

func pointers[T any](in []T, err error) ([]*T, error) {
	out := make([]*T, len(in))
	for i := range in {
		out[i] = &in[i]
	}
	return out, err
}

func pointer[T any](v T, err error) (*T, error) { return &v, err }

// settlementCSV renders a batch's lines through the settlement service, as
// the viewer may see them.
func (r *Resolver) settlementCSV(ctx context.Context, id string) (string, error) {
	b, err := r.SettlementService.Batch(ctx, id)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	err = b.WriteCSV(&sb)
	return sb.String(), err
}

// runSettlement runs a day and returns its batch row.
func (r *Resolver) runSettlement(ctx context.Context, in model.RunSettlementInput) (*ent.SettlementBatch, error) {
	b, err := r.SettlementService.Run(ctx, in.MerchantID, in.Day)
	if err != nil {
		return nil, err
	}
	return r.Client.SettlementBatch.Get(ctx, b.ID)
}

func (r *Resolver) settlementLines(ctx context.Context, batch *ent.SettlementBatch, after *entgql.Cursor[string], first *int) (*ent.SettlementLineConnection, error) {
	return r.Client.SettlementLine.Query().Where(settlementline.MerchantID(batch.MerchantID), settlementline.BatchID(batch.ID)).
		Paginate(ctx, after, first, nil, nil)
}

func conversionMoney(minor int64, code string) *money.Amount {
	return &money.Amount{Minor: minor, Currency: parseCurrency(code)}
}
