package graph

import (
	"context"
	"strings"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/recon"
)

// reconciliationClass is a class as the API's enum spells it.
func reconciliationClass(c recon.Class) model.ReconciliationClass {
	return model.ReconciliationClass(strings.ToUpper(string(c)))
}

// reconciliationCounts lists a run's count of every class, in the
// classes' order.
func reconciliationCounts(r *recon.Run) []*model.ReconciliationCount {
	out := make([]*model.ReconciliationCount, 0, len(recon.Classes()))
	for _, c := range recon.Classes() {
		out = append(out, &model.ReconciliationCount{Class: reconciliationClass(c), Count: int(r.Counts[c])})
	}
	return out
}

// discrepancies lists discrepancies by the API's filter.
func (r *Resolver) discrepancies(ctx context.Context, f *model.DiscrepanciesFilter, first *int, after *string) ([]*recon.Discrepancy, error) {
	var filter recon.Filter
	if f != nil {
		filter = recon.Filter{RunID: deref(f.RunID), Connector: deref(f.Connector), BusinessDate: deref(f.BusinessDate)}
		if f.Kind != nil {
			filter.Kind = recon.Class(strings.ToLower(string(*f.Kind)))
		}
		if f.Status != nil {
			filter.Status = string(*f.Status)
		}
	}
	return r.Recon.Discrepancies(ctx, filter, deref(first), deref(after))
}

// resolveDiscrepancy resolves a discrepancy with its optional adjustment.
func (r *Resolver) resolveDiscrepancy(ctx context.Context, in model.ResolveDiscrepancyInput) (*recon.Discrepancy, error) {
	return withOptionalAmount("adjustment", in.Adjustment, func(a *money.Amount) (*recon.Discrepancy, error) {
		return r.Recon.Resolve(ctx, in.ID, in.Reason, a)
	})
}
