package ledger

import (
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

func TestPlanPeriodCutsDaysOneAfterAnother(t *testing.T) {
	now := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	sg := time.FixedZone("SGT", 8*3600)
	prior := &PriorClose{Day: "2026-03-02", End: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}
	cases := []struct {
		name    string
		day, tz string
		last    *PriorClose
		code    string
		field   string
		start   time.Time
		end     time.Time
	}{
		{name: "first close starts at its midnight", day: "2026-03-03", tz: "UTC",
			start: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), end: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{name: "a timezone ahead of UTC", day: "2026-03-04", tz: "Asia/Singapore",
			start: time.Date(2026, 3, 4, 0, 0, 0, 0, sg).UTC(), end: time.Date(2026, 3, 5, 0, 0, 0, 0, sg).UTC()},
		{name: "the next day starts where the last close ended", day: "2026-03-03", tz: "Asia/Singapore", last: prior,
			start: prior.End, end: time.Date(2026, 3, 4, 0, 0, 0, 0, sg).UTC()},
		{name: "today is not over", day: "2026-03-05", tz: "UTC", code: payments.EINVALID, field: "day"},
		{name: "a future day", day: "2026-04-01", tz: "UTC", code: payments.EINVALID, field: "day"},
		{name: "the same day again", day: "2026-03-02", tz: "UTC", last: prior, code: payments.ECONFLICT, field: "day"},
		{name: "an earlier day", day: "2026-02-27", tz: "UTC", last: prior, code: payments.ECONFLICT, field: "day"},
		{name: "an open day in the middle", day: "2026-03-04", tz: "UTC", last: prior, code: payments.EINVALID, field: "day"},
		{name: "a day ending before the last close", day: "2026-03-03", tz: "Pacific/Kiritimati",
			last: &PriorClose{Day: "2026-03-02", End: time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)}, code: payments.EINVALID, field: "day"},
		{name: "malformed day", day: "2026-3-4", tz: "UTC", code: payments.EINVALID, field: "day"},
		{name: "unknown timezone", day: "2026-03-03", tz: "Mars/Olympus", code: payments.EINVALID, field: "timezone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanPeriod(c.day, c.tz, c.last, now)
			if c.code != "" {
				var pe *payments.Error
				if payments.ErrorCode(err) != c.code || !asError(err, &pe) || pe.Field != c.field {
					t.Fatalf("err = %v, want %s on %s", err, c.code, c.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Start.Equal(c.start) || !p.End.Equal(c.end) || p.Day != c.day {
				t.Fatalf("period = %+v, want [%s, %s)", p, c.start, c.end)
			}
		})
	}
}

func asError(err error, pe **payments.Error) bool {
	e, ok := err.(*payments.Error)
	*pe = e
	return ok
}

func TestPlanTrialBalanceRefusesADayThatDoesNotBalance(t *testing.T) {
	usd, jpy := money.MustCurrency("USD"), money.MustCurrency("JPY")
	ch := ChannelAccount("bank", usd)
	mer := MerchantAccount("mer_a", KindAvailable, usd)
	fees := PlatformAccount(KindFees, usd)
	chj, merj := ChannelAccount("bank", jpy), MerchantAccount("mer_a", KindPending, jpy)
	ok := []AccountDay{
		{Key: ch, Opening: -1000, Debits: 500},
		{Key: mer, Opening: 970, Credits: 485},
		{Key: fees, Opening: 30, Credits: 15},
		{Key: chj, Debits: 800},
		{Key: merj, Credits: 800},
	}
	lines, err := PlanTrialBalance(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Currency != jpy || lines[1].Currency != usd {
		t.Fatalf("lines = %+v", lines)
	}
	if u := lines[1]; u.Accounts != 3 || u.Debits.Minor != 1500 || u.Credits.Minor != 1500 || u.DayDebits.Minor != 500 || u.DayCredits.Minor != 500 {
		t.Fatalf("USD = %+v", u)
	}
	bad := append([]AccountDay(nil), ok...)
	bad[2].Credits = 16 // a posting that lost its other side
	if _, err := PlanTrialBalance(bad); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("unbalanced day: err = %v, want ECONFLICT", err)
	}
	bad = append([]AccountDay(nil), ok...)
	bad[0].Opening = -999 // balances that do not net to zero, whatever the day did
	if _, err := PlanTrialBalance(bad); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("unbalanced closing balances: err = %v, want ECONFLICT", err)
	}
}

func TestOpenDayMovesOnlyEntriesBeforeTheMark(t *testing.T) {
	mark := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	late := Entry{EffectiveAt: mark.Add(-time.Hour)}
	e, asked := openDay(late, mark)
	if !e.EffectiveAt.Equal(mark) || asked == nil || !asked.Equal(mark.Add(-time.Hour)) {
		t.Fatalf("late entry: effective %s, asked %v", e.EffectiveAt, asked)
	}
	for _, at := range []time.Time{mark, mark.Add(time.Microsecond)} {
		if e, asked := openDay(Entry{EffectiveAt: at}, mark); !e.EffectiveAt.Equal(at) || asked != nil {
			t.Fatalf("entry at %s moved to %s", at, e.EffectiveAt)
		}
	}
	if e, asked := openDay(late, time.Time{}); !e.EffectiveAt.Equal(late.EffectiveAt) || asked != nil {
		t.Fatalf("nothing closed: moved to %s", e.EffectiveAt)
	}
}
