// Package reports answers merchantReport and operatorReport: a merchant's
// (or every merchant's) gross, fees, net, counts and rates over a range of
// days, grouped by day, currency, connector or payment method, always per
// currency inside the grouping so that no figure mixes currencies.
//
// Reports never scan payments. They add up rollups (ReportRollup: one row
// per merchant, UTC hour, currency, connector and method) that the Rollup
// consumer maintains from the outbox, applying each event exactly once in
// the transaction that records its ID and moves the consumer's cursor.
//
// A day in the report's timezone is the set of UTC hours that start in it.
// In a timezone whose offset is whole hours (UTC, Europe/Paris,
// America/New_York, across DST changes too) that is exact. In a timezone
// with a half- or quarter-hour offset (Asia/Kolkata, Asia/Kathmandu,
// Australia/Adelaide) each UTC hour still goes to the day it starts in, so
// the 30 or 45 minutes around local midnight are counted in the neighbouring
// day; the range as a whole is shifted the same way, and totals over the
// range stay consistent with the days shown.
package reports

import (
	"fmt"
	"sort"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// GroupBy says how a report groups its figures; every grouping is also by
// currency.
type GroupBy string

// The groupings.
const (
	ByDay       GroupBy = "DAY"
	ByCurrency  GroupBy = "CURRENCY"
	ByConnector GroupBy = "CONNECTOR"
	ByMethod    GroupBy = "METHOD"
)

// MaxDays bounds a report's range (from and to included).
const MaxDays = 366

// dateLayout is how from and to are written: a calendar day in the
// report's timezone.
const dateLayout = "2006-01-02"

// Query is what a report is asked for.
type Query struct {
	// From and To are calendar days (YYYY-MM-DD) in Timezone, both included.
	From, To string
	GroupBy  GroupBy
	// Timezone is an IANA name (Europe/Paris); "" is UTC.
	Timezone string
	// MerchantID narrows an operator's report to one merchant; a merchant's
	// report is always its own.
	MerchantID string
}

// Window is a validated query: the UTC hours [Start, End) whose rollups the
// report adds up, and the timezone that turns them into days.
type Window struct {
	Start, End time.Time
	Loc        *time.Location
	GroupBy    GroupBy
}

// Plan validates q. Returns EINVALID on field "from" or "to" for a day not
// written YYYY-MM-DD, on "to" when to is before from or the range is over
// MaxDays days, on "timezone" for a name the time zone database does not
// know, and on "groupBy" for an unknown grouping.
func Plan(q Query) (Window, error) {
	switch q.GroupBy {
	case ByDay, ByCurrency, ByConnector, ByMethod:
	default:
		return Window{}, payments.FieldErrorf("groupBy", "unknown grouping %q: DAY, CURRENCY, CONNECTOR or METHOD", q.GroupBy)
	}
	name := q.Timezone
	if name == "" {
		name = "UTC"
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return Window{}, payments.FieldErrorf("timezone", "unknown timezone %q: use an IANA name such as Europe/Paris", q.Timezone)
	}
	from, err := time.ParseInLocation(dateLayout, q.From, loc)
	if err != nil {
		return Window{}, payments.FieldErrorf("from", "from %q is not a day written YYYY-MM-DD", q.From)
	}
	to, err := time.ParseInLocation(dateLayout, q.To, loc)
	if err != nil {
		return Window{}, payments.FieldErrorf("to", "to %q is not a day written YYYY-MM-DD", q.To)
	}
	if to.Before(from) {
		return Window{}, payments.FieldErrorf("to", "to %s is before from %s", q.To, q.From)
	}
	end := to.AddDate(0, 0, 1) // local midnight after the last day, DST included
	if days := daysBetween(from, end); days > MaxDays {
		return Window{}, payments.FieldErrorf("to", "the range is %d days; at most %d", days, MaxDays)
	}
	// The UTC hours that start inside [from, end): whole hours from the
	// first one at or after local midnight.
	return Window{Start: ceilHour(from.UTC()), End: ceilHour(end.UTC()), Loc: loc, GroupBy: q.GroupBy}, nil
}

// dayStarts are the first UTC hours of w's days, in order: the hours that
// start in a day from its start to the next one's belong to it (see the
// package comment for half-hour offsets).
func (w Window) dayStarts() []time.Time {
	y, m, d := w.Start.In(w.Loc).Date()
	var starts []time.Time
	for i := 0; ; i++ {
		s := ceilHour(time.Date(y, m, d+i, 0, 0, 0, 0, w.Loc).UTC())
		if !s.Before(w.End) {
			return starts
		}
		starts = append(starts, s)
	}
}

func daysBetween(a, b time.Time) int {
	ya, ma, da := a.Date()
	yb, mb, db := b.Date()
	return int(time.Date(yb, mb, db, 0, 0, 0, 0, time.UTC).Sub(time.Date(ya, ma, da, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

func ceilHour(t time.Time) time.Time {
	h := t.Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// Counts are what a rollup row and a report group hold; amounts are minor
// units of the row's or group's one currency.
type Counts struct {
	// Payments were first seen (confirmed) in the period; Succeeded
	// succeeded in it, Failed ended failed in it.
	Payments, Succeeded, Failed int64
	// Authorized are authorizations approved; Declined are attempts
	// declined or failed (a payment retried after a decline has several).
	Authorized, Declined int64
	// Refunds succeeded and Disputes were opened in the period.
	Refunds, Disputes int64
	// Gross is what was captured; Fees the connectors' fees on it, less the
	// part refunds gave back; Refunded and Disputed what refunds and opened
	// disputes were for.
	Gross, Fees, Refunded, Disputed int64
}

// Add returns c + d.
func (c Counts) Add(d Counts) Counts {
	return Counts{
		Payments: c.Payments + d.Payments, Succeeded: c.Succeeded + d.Succeeded, Failed: c.Failed + d.Failed,
		Authorized: c.Authorized + d.Authorized, Declined: c.Declined + d.Declined,
		Refunds: c.Refunds + d.Refunds, Disputes: c.Disputes + d.Disputes,
		Gross: c.Gross + d.Gross, Fees: c.Fees + d.Fees, Refunded: c.Refunded + d.Refunded, Disputed: c.Disputed + d.Disputed,
	}
}

// IsZero reports whether c counts nothing.
func (c Counts) IsZero() bool { return c == Counts{} }

// Key is one rollup row's place: a merchant's hour (UTC) in one currency,
// connector and payment method.
type Key struct {
	MerchantID string
	Hour       time.Time
	Currency   string
	Connector  string
	Method     string
}

// Row is one rollup row.
type Row struct {
	Key
	Counts
}

// Group is one line of a report: a key (a day, a connector, a method, or
// the currency itself) in one currency.
type Group struct {
	// Key is the day (YYYY-MM-DD in the report's timezone), the connector's
	// name, the payment method, or for CURRENCY the currency's code.
	Key      string
	Currency money.Currency
	Counts
}

func (g Group) amount(minor int64) money.Amount {
	return money.Amount{Minor: minor, Currency: g.Currency}
}

// GrossMoney is what was captured.
func (g Group) GrossMoney() money.Amount { return g.amount(g.Gross) }

// FeesMoney is the connectors' fees, less those refunds reversed.
func (g Group) FeesMoney() money.Amount { return g.amount(g.Fees) }

// RefundedMoney is what refunds gave back.
func (g Group) RefundedMoney() money.Amount { return g.amount(g.Refunded) }

// DisputedMoney is what the disputes opened were for.
func (g Group) DisputedMoney() money.Amount { return g.amount(g.Disputed) }

// NetMoney is gross − fees − refunded: what the merchant keeps of the
// period's activity before disputes are decided.
func (g Group) NetMoney() money.Amount { return g.amount(g.Gross - g.Fees - g.Refunded) }

// AuthorizationRate is Authorized / (Authorized + Declined); 0 when no
// attempt finished.
func (g Group) AuthorizationRate() float64 { return ratio(g.Authorized, g.Authorized+g.Declined) }

// RefundRate is Refunds / Succeeded; 0 when nothing succeeded.
func (g Group) RefundRate() float64 { return ratio(g.Refunds, g.Succeeded) }

// DisputeRate is Disputes / Succeeded; 0 when nothing succeeded.
func (g Group) DisputeRate() float64 { return ratio(g.Disputes, g.Succeeded) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Aggregate adds rows up into w's groups, sorted by key then currency.
// Rows outside [w.Start, w.End) are left out; a row in a currency Strait
// does not know is an error (rollups only hold payments' currencies).
func Aggregate(w Window, rows []Row) ([]Group, error) {
	type gk struct{ key, currency string }
	sums := map[gk]Counts{}
	for _, r := range rows {
		if r.Hour.Before(w.Start) || !r.Hour.Before(w.End) {
			continue
		}
		k := gk{currency: r.Currency}
		switch w.GroupBy {
		case ByDay:
			k.key = r.Hour.In(w.Loc).Format(dateLayout)
		case ByCurrency:
			k.key = r.Currency
		case ByConnector:
			k.key = r.Connector
		case ByMethod:
			k.key = r.Method
		}
		sums[k] = sums[k].Add(r.Counts)
	}
	groups := make([]Group, 0, len(sums))
	for k, c := range sums {
		cur, err := money.ParseCurrency(k.currency)
		if err != nil {
			return nil, fmt.Errorf("report: rollup currency %q: %w", k.currency, err)
		}
		groups = append(groups, Group{Key: k.key, Currency: cur, Counts: c})
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].Key != groups[j].Key {
			return groups[i].Key < groups[j].Key
		}
		return groups[i].Currency.Code() < groups[j].Currency.Code()
	})
	return groups, nil
}

// CurrencyCode is the ISO 4217 code of every amount in g.
func (g Group) CurrencyCode() string { return g.Currency.Code() }
