package ledger

import (
	"cmp"
	"slices"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Period is the business day a close cuts: Day (YYYY-MM-DD) in Timezone,
// covering the entries effective in [Start, End) (UTC).
type Period struct {
	Day      string
	Timezone string
	Start    time.Time
	End      time.Time
}

// PriorClose is what planning a close needs of the latest close: its day
// and the end of the interval it covered.
type PriorClose struct {
	Day string
	End time.Time
}

// PlanPeriod decides the period a close of day in timezone covers, given
// the latest close (nil for none) and the time now. Closes follow each
// other day by day, with no gap and no overlap: a close starts where the
// previous one ended (so a change of timezone between two days leaves no
// moment uncut), and the first close starts at its day's midnight (the
// entries before it are frozen into its opening balances).
//
// It returns EINVALID (field "timezone") for an unknown timezone;
// EINVALID (field "day") for a malformed day, a day not over by now (today
// or a future day), a day whose midnight in timezone is not after the
// latest close's end, and a day that is not the one after the latest close
// (an open day would stay in the middle); ECONFLICT (field "day") for a day
// closed already.
func PlanPeriod(day, timezone string, last *PriorClose, now time.Time) (Period, error) {
	if timezone == "" {
		timezone = "UTC"
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return Period{}, payments.FieldErrorf("timezone", "unknown timezone %q", timezone)
	}
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return Period{}, payments.FieldErrorf("day", "day %q is not YYYY-MM-DD", day)
	}
	p := Period{Day: d.Format(time.DateOnly), Timezone: timezone, Start: d.UTC(),
		End: time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).UTC()}
	if last != nil {
		prev, err := time.Parse(time.DateOnly, last.Day)
		if err != nil {
			return Period{}, payments.Errorf(payments.EINTERNAL, "latest close has a malformed day %q", last.Day)
		}
		this, _ := time.Parse(time.DateOnly, p.Day)
		switch {
		case !this.After(prev):
			return Period{}, &payments.Error{Code: payments.ECONFLICT, Field: "day",
				Message: "day " + p.Day + " is closed already (the books are closed through " + last.Day + ")"}
		case this.After(prev.AddDate(0, 0, 1)):
			return Period{}, payments.FieldErrorf("day", "day %s cannot close before %s, which is still open",
				p.Day, prev.AddDate(0, 0, 1).Format(time.DateOnly))
		case !p.End.After(last.End):
			return Period{}, payments.FieldErrorf("day", "day %s in %s ends before the close of %s", p.Day, timezone, last.Day)
		}
		p.Start = last.End
	}
	if p.End.After(now) {
		return Period{}, payments.FieldErrorf("day", "day %s in %s is not over yet", p.Day, timezone)
	}
	return p, nil
}

// AccountDay is one account's postings as a close reads them: before the
// period (Opening), and in it (Debits, the sum of its negative postings as
// a positive amount; Credits; Postings, their count).
type AccountDay struct {
	AccountID  string
	Key        AccountKey
	MerchantID string
	Opening    int64
	Debits     int64
	Credits    int64
	Postings   int
}

// Closing is the account's balance when the period ends.
func (a AccountDay) Closing() int64 { return a.Opening + a.Credits - a.Debits }

// DayBalance is one currency of a closed day's trial balance: the closing
// balances of its accounts (Debits the negative ones, as a positive
// amount) and the day's postings. It balances when Credits equals Debits
// and DayCredits equals DayDebits.
type DayBalance struct {
	Currency   money.Currency
	Accounts   int
	Debits     money.Amount
	Credits    money.Amount
	DayDebits  money.Amount
	DayCredits money.Amount
}

// Balanced reports whether the line nets to zero, closing balances and the
// day's postings alike.
func (b DayBalance) Balanced() bool {
	return b.Debits.Minor == b.Credits.Minor && b.DayDebits.Minor == b.DayCredits.Minor
}

// PlanTrialBalance sums the accounts into one trial balance line per
// currency, ordered by code, and returns ECONFLICT (field "trialBalance")
// naming the first currency that does not balance: a day whose books do
// not balance is not closed.
func PlanTrialBalance(accounts []AccountDay) ([]DayBalance, error) {
	by := map[money.Currency]*DayBalance{}
	for _, a := range accounts {
		c := a.Key.Currency
		b := by[c]
		if b == nil {
			z := money.Amount{Currency: c}
			b = &DayBalance{Currency: c, Debits: z, Credits: z, DayDebits: z, DayCredits: z}
			by[c] = b
		}
		b.Accounts++
		if cl := a.Closing(); cl < 0 {
			b.Debits.Minor -= cl
		} else {
			b.Credits.Minor += cl
		}
		b.DayDebits.Minor += a.Debits
		b.DayCredits.Minor += a.Credits
	}
	out := make([]DayBalance, 0, len(by))
	for _, b := range by {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b DayBalance) int { return cmp.Compare(a.Currency.Code(), b.Currency.Code()) })
	for _, b := range out {
		if !b.Balanced() {
			return out, &payments.Error{Code: payments.ECONFLICT, Field: "trialBalance", Message: "the trial balance does not balance in " +
				b.Currency.Code() + ": debits " + b.Debits.Decimal() + ", credits " + b.Credits.Decimal() +
				"; the day's debits " + b.DayDebits.Decimal() + ", credits " + b.DayCredits.Decimal()}
		}
	}
	return out, nil
}

// openDay returns e as it posts with the books closed through
// closedThrough: an entry effective before it takes effect at
// closedThrough instead, the start of the next open day, and the time it
// asked for is returned to be kept (nil when it did not move).
func openDay(e Entry, closedThrough time.Time) (Entry, *time.Time) {
	if !e.EffectiveAt.Before(closedThrough) {
		return e, nil
	}
	asked := e.EffectiveAt
	e.EffectiveAt = closedThrough
	return e, &asked
}
