package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/reportrollup"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Report is a report's answer.
type Report struct {
	// From, To and Timezone are the query's (Timezone "UTC" when it was
	// omitted).
	From, To, Timezone string
	GroupBy            GroupBy
	// Groups are one per key and currency, sorted by key then currency;
	// keys with no activity are left out.
	Groups []Group
}

// Service answers reports from the rollups.
type Service struct{ client *ent.Client }

// NewService returns the reports over client's rollups.
func NewService(client *ent.Client) *Service { return &Service{client: client} }

// MerchantReport is the caller's merchant's report. Returns EFORBIDDEN
// for a caller that acts for no merchant, and Plan's EINVALID errors.
// The rollups are read as the caller, so ent privacy keeps them to its
// merchant whatever the query says.
func (s *Service) MerchantReport(ctx context.Context, q Query) (*Report, error) {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.MerchantID == "" {
		return nil, payments.Errorf(payments.EFORBIDDEN, "merchantReport is a merchant's own report")
	}
	q.MerchantID = v.MerchantID
	return s.report(ctx, q)
}

// OperatorReport is every merchant's report, or q.MerchantID's. Returns
// EFORBIDDEN for anyone but an operator, and Plan's EINVALID errors.
func (s *Service) OperatorReport(ctx context.Context, q Query) (*Report, error) {
	if v, ok := viewer.FromContext(ctx); !ok || !v.IsOperator() {
		return nil, payments.Errorf(payments.EFORBIDDEN, "operatorReport is for operators")
	}
	return s.report(ctx, q)
}

func (s *Service) report(ctx context.Context, q Query) (*Report, error) {
	w, err := Plan(q)
	if err != nil {
		return nil, err
	}
	// By day or currency: the hours' total rows; by connector or method:
	// the detailed ones. One merchant's are one range of IDs (clustered on
	// MySQL); every merchant's, a range of the (total, hour) index.
	total := w.GroupBy == ByDay || w.GroupBy == ByCurrency
	query := s.client.ReportRollup.Query().Where(reportrollup.Total(total),
		reportrollup.HourGTE(w.Start), reportrollup.HourLT(w.End))
	if q.MerchantID != "" {
		lo, hi := rollupRange(q.MerchantID, total, w.Start, w.End)
		query = query.Where(reportrollup.IDGTE(lo), reportrollup.IDLT(hi), reportrollup.MerchantID(q.MerchantID))
	}
	// The database sums the rows of each (hour or key, currency), so what
	// comes back is at most hours × currencies rows.
	var keys []string
	switch w.GroupBy {
	case ByDay:
		keys = []string{reportrollup.FieldHour, reportrollup.FieldCurrency}
	case ByCurrency:
		keys = []string{reportrollup.FieldCurrency}
	case ByConnector:
		keys = []string{reportrollup.FieldConnector, reportrollup.FieldCurrency}
	case ByMethod:
		keys = []string{reportrollup.FieldMethod, reportrollup.FieldCurrency}
	}
	sums := make([]ent.AggregateFunc, len(summed))
	for i, col := range summed {
		sums[i] = ent.As(ent.Sum(col), col)
	}
	var found []struct {
		Hour       time.Time `json:"hour"`
		Currency   string    `json:"currency"`
		Connector  string    `json:"connector"`
		Method     string    `json:"method"`
		Payments   int64     `json:"payments"`
		Succeeded  int64     `json:"succeeded"`
		Failed     int64     `json:"failed"`
		Authorized int64     `json:"authorized"`
		Declined   int64     `json:"declined"`
		Refunds    int64     `json:"refunds"`
		Disputes   int64     `json:"disputes"`
		Gross      int64     `json:"gross"`
		Fees       int64     `json:"fees"`
		Refunded   int64     `json:"refunded"`
		Disputed   int64     `json:"disputed"`
	}
	if err := query.GroupBy(keys[0], keys[1:]...).Aggregate(sums...).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("report: rollups: %w", err)
	}
	rows := make([]Row, len(found))
	for i, r := range found {
		if w.GroupBy != ByDay {
			r.Hour = w.Start // summed over the window already
		}
		rows[i] = Row{
			Key: Key{Hour: r.Hour, Currency: r.Currency, Connector: r.Connector, Method: r.Method},
			Counts: Counts{Payments: r.Payments, Succeeded: r.Succeeded, Failed: r.Failed, Authorized: r.Authorized,
				Declined: r.Declined, Refunds: r.Refunds, Disputes: r.Disputes, Gross: r.Gross, Fees: r.Fees,
				Refunded: r.Refunded, Disputed: r.Disputed},
		}
	}
	groups, err := Aggregate(w, rows)
	if err != nil {
		return nil, err
	}
	return &Report{From: q.From, To: q.To, Timezone: w.Loc.String(), GroupBy: w.GroupBy, Groups: groups}, nil
}
