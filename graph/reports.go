package graph

import (
	"context"

	"github.com/straitpay/strait/payments/reports"
)

// reportQuery is a report's arguments as the domain takes them.
func reportQuery(from, to string, groupBy reports.GroupBy, timezone, merchantID *string) reports.Query {
	q := reports.Query{From: from, To: to, GroupBy: groupBy}
	if timezone != nil {
		q.Timezone = *timezone
	}
	if merchantID != nil {
		q.MerchantID = *merchantID
	}
	return q
}

func (r *queryResolver) merchantReport(ctx context.Context, q reports.Query) (*reports.Report, error) {
	return r.Reports.MerchantReport(ctx, q)
}

func (r *queryResolver) operatorReport(ctx context.Context, q reports.Query) (*reports.Report, error) {
	return r.Reports.OperatorReport(ctx, q)
}
