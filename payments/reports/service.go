package reports

import (
	"context"
	"fmt"
	"strconv"
	"time"

	entsql "entgo.io/ent/dialect/sql"

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
	// The database sums the rows of each (day or key, currency): what comes
	// back is at most days × currencies rows, not the hours' rows
	// themselves (1,440 for 30 days in two currencies), which cost more to
	// send and to scan than to add up.
	var starts []time.Time
	if w.GroupBy == ByDay {
		starts = w.dayStarts()
	}
	var found []bucketSums
	if err := query.Modify(func(s *entsql.Selector) { selectBuckets(s, w.GroupBy, starts) }).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("report: rollups: %w", err)
	}
	rows := make([]Row, len(found))
	for i, r := range found {
		hour := w.Start // a grouping that is not by day sums the whole window
		if w.GroupBy == ByDay {
			if r.Bucket < 0 || int(r.Bucket) >= len(starts) {
				return nil, fmt.Errorf("report: rollups: day %d of %d", r.Bucket, len(starts))
			}
			hour = starts[r.Bucket]
		}
		rows[i] = Row{
			Key: Key{Hour: hour, Currency: r.Currency, Connector: r.Key, Method: r.Key},
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

// bucketSums is one (day or key, currency) of a report as the database
// sums it.
type bucketSums struct {
	// Bucket is the day's number in the window (0 for the first) when the
	// report is by day; Key the connector or method when by either.
	Bucket     int64  `json:"bucket"`
	Key        string `json:"key"`
	Currency   string `json:"currency"`
	Payments   int64  `json:"payments"`
	Succeeded  int64  `json:"succeeded"`
	Failed     int64  `json:"failed"`
	Authorized int64  `json:"authorized"`
	Declined   int64  `json:"declined"`
	Refunds    int64  `json:"refunds"`
	Disputes   int64  `json:"disputes"`
	Gross      int64  `json:"gross"`
	Fees       int64  `json:"fees"`
	Refunded   int64  `json:"refunded"`
	Disputed   int64  `json:"disputed"`
}

// selectBuckets makes s sum the summed columns of its rows per currency
// and per day (a bucket number: the day that starts at starts[i] is i),
// connector or method.
func selectBuckets(s *entsql.Selector, by GroupBy, starts []time.Time) {
	s.Select(s.C(reportrollup.FieldCurrency))
	group := []string{s.C(reportrollup.FieldCurrency)}
	switch by {
	case ByDay:
		s.AppendSelectExprAs(dayNumber(s.C(reportrollup.FieldHour), starts), "bucket")
		group = append(group, "bucket")
	case ByConnector:
		s.AppendSelectAs(s.C(reportrollup.FieldConnector), "key")
		group = append(group, s.C(reportrollup.FieldConnector))
	case ByMethod:
		s.AppendSelectAs(s.C(reportrollup.FieldMethod), "key")
		group = append(group, s.C(reportrollup.FieldMethod))
	}
	for _, col := range summed {
		s.AppendSelectExprAs(entsql.Expr(entsql.Sum(s.C(col))), col)
	}
	s.GroupBy(group...)
}

// dayNumber is an SQL expression numbering the day an hour (column col)
// falls in: i when starts[i] <= hour < starts[i+1]. It is a balanced tree
// of CASE WHEN hour < start, so a row costs about log2(days) comparisons
// (9 for a year), and it compares the column with bound parameters only,
// the same way on MySQL and SQLite, for any timezone and DST change.
func dayNumber(col string, starts []time.Time) entsql.Querier {
	var write func(b *entsql.Builder, lo, hi int)
	write = func(b *entsql.Builder, lo, hi int) {
		if hi-lo <= 1 {
			b.WriteString(strconv.Itoa(lo))
			return
		}
		mid := (lo + hi) / 2
		b.WriteString("CASE WHEN ").WriteString(col).WriteString(" < ").Arg(starts[mid]).WriteString(" THEN ")
		write(b, lo, mid)
		b.WriteString(" ELSE ")
		write(b, mid, hi)
		b.WriteString(" END")
	}
	return entsql.ExprFunc(func(b *entsql.Builder) { write(b, 0, len(starts)) })
}
