package reports

import (
	"context"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/reportrollup"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

func TestReportsSumRollupsPerGroupAndTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sys := viewer.SystemContext(context.Background())
		a, b := merchant(t, db.Client), merchant(t, db.Client)
		h := func(s string) time.Time { return hour(s) }
		deltas := map[Key]Counts{
			{MerchantID: a, Hour: h("2026-03-01T22:00:00Z"), Currency: "USD", Connector: "acme", Method: "card"}:   {Succeeded: 1, Gross: 100, Authorized: 1},
			{MerchantID: a, Hour: h("2026-03-01T22:00:00Z"), Currency: "USD", Connector: "bolt", Method: "wallet"}: {Succeeded: 2, Gross: 300, Authorized: 2},
			{MerchantID: a, Hour: h("2026-03-01T23:00:00Z"), Currency: "USD", Connector: "acme", Method: "card"}:   {Succeeded: 1, Gross: 50, Declined: 1, Authorized: 1},
			{MerchantID: a, Hour: h("2026-03-01T23:00:00Z"), Currency: "EUR", Connector: "acme", Method: "card"}:   {Succeeded: 1, Gross: 70, Authorized: 1},
			{MerchantID: b, Hour: h("2026-03-01T23:00:00Z"), Currency: "USD", Connector: "acme", Method: "card"}:   {Succeeded: 5, Gross: 5000, Authorized: 5},
		}
		if _, err := store.WithTx(sys, db.Client, func(tx *ent.Tx) (struct{}, error) {
			return struct{}{}, AddRollups(sys, tx.Client(), deltas)
		}); err != nil {
			t.Fatal(err)
		}
		// Adding again sums into the same rows.
		if err := AddRollups(sys, db.Client, map[Key]Counts{
			{MerchantID: a, Hour: h("2026-03-01T22:00:00Z"), Currency: "USD", Connector: "acme", Method: "card"}: {Refunds: 1, Refunded: 40},
		}); err != nil {
			t.Fatal(err)
		}
		svc := NewService(db.Client)
		asA := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_a", MerchantID: a})
		op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
		keys := func(r *Report) map[string]Counts {
			out := map[string]Counts{}
			for _, g := range r.Groups {
				out[g.Key+"/"+g.CurrencyCode()] = g.Counts
			}
			return out
		}
		q := Query{From: "2026-03-01", To: "2026-03-02", GroupBy: ByDay, Timezone: "Europe/Paris"}
		r, err := svc.MerchantReport(asA, q)
		if err != nil {
			t.Fatal(err)
		}
		got := keys(r)
		want := map[string]Counts{
			"2026-03-01/USD": {Succeeded: 3, Gross: 400, Authorized: 3, Refunds: 1, Refunded: 40},
			"2026-03-02/USD": {Succeeded: 1, Gross: 50, Declined: 1, Authorized: 1},
			"2026-03-02/EUR": {Succeeded: 1, Gross: 70, Authorized: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("by day in Paris: %+v", got)
		}
		for k, c := range want {
			if got[k] != c {
				t.Fatalf("%s: %+v, want %+v", k, got[k], c)
			}
		}
		// A merchant naming another merchant still gets its own.
		r, err = svc.MerchantReport(asA, Query{From: "2026-03-01", To: "2026-03-01", GroupBy: ByConnector, MerchantID: b})
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(r); len(got) != 3 || got["acme/USD"] != (Counts{Succeeded: 2, Gross: 150, Declined: 1, Authorized: 2, Refunds: 1, Refunded: 40}) {
			t.Fatalf("by connector: %+v", got)
		}
		// The operator: every merchant's, or one's.
		r, err = svc.OperatorReport(op, Query{From: "2026-03-01", To: "2026-03-01", GroupBy: ByCurrency})
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(r); len(got) != 2 || got["USD/USD"].Gross != 5450 || got["EUR/EUR"].Gross != 70 {
			t.Fatalf("operator, all: %+v", got)
		}
		r, err = svc.OperatorReport(op, Query{From: "2026-03-01", To: "2026-03-01", GroupBy: ByMethod, MerchantID: b})
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(r); len(got) != 1 || got["card/USD"].Gross != 5000 {
			t.Fatalf("operator, merchant b: %+v", got)
		}
		if _, err := svc.OperatorReport(asA, q); payments.ErrorCode(err) != payments.EFORBIDDEN {
			t.Fatalf("a merchant's operator report: %v", err)
		}
		if _, err := svc.MerchantReport(op, q); payments.ErrorCode(err) != payments.EFORBIDDEN {
			t.Fatalf("an operator's merchant report: %v", err)
		}
	})
}

// The database's sums per day (a CASE tree over the days' first hours) are
// the sums Aggregate makes of the hourly rows themselves, in every kind of
// timezone: UTC, whole-hour offsets across both DST changes (a 23- and a
// 25-hour day), half- and quarter-hour offsets, and the far east and west
// of the date line; over one day, a month, and a year.
func TestReportsSumTheDaysAsTheHoursAddUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sys := viewer.SystemContext(context.Background())
		a, b := merchant(t, db.Client), merchant(t, db.Client)
		// Every hour from 2026-03-20 to 2026-04-05 and around the October
		// DST change, some hours of the rest of the year; two currencies,
		// two connectors; figures that differ per hour so a row counted in
		// the wrong day shows.
		var rows []Row
		deltas := map[Key]Counts{}
		add := func(m string, h time.Time, i int) {
			for j, cur := range []string{"USD", "EUR"} {
				if (i+j)%3 == 2 {
					continue
				}
				conn := []string{"acme", "bolt"}[(i/2+j)%2]
				k := Key{MerchantID: m, Hour: h, Currency: cur, Connector: conn, Method: "card"}
				c := Counts{Payments: int64(i%7 + 1), Succeeded: int64(i % 5), Gross: int64(1000*i + 17*j + 1), Fees: int64(i), Declined: int64(j)}
				deltas[k] = deltas[k].Add(c)
			}
		}
		i := 0
		for h := hour("2026-03-20T00:00:00Z"); h.Before(hour("2026-04-05T00:00:00Z")); h = h.Add(time.Hour) {
			add(a, h, i)
			i++
		}
		for h := hour("2026-10-20T00:00:00Z"); h.Before(hour("2026-11-05T00:00:00Z")); h = h.Add(time.Hour) {
			add(a, h, i)
			i++
		}
		for h := hour("2025-12-31T00:00:00Z"); h.Before(hour("2027-01-02T00:00:00Z")); h = h.Add(37 * time.Hour) {
			add(a, h, i)
			add(b, h, i) // another merchant's, never in a's report
			i++
		}
		for k, c := range deltas {
			if k.MerchantID == a {
				rows = append(rows, Row{Key: k, Counts: c})
			}
		}
		if _, err := store.WithTx(sys, db.Client, func(tx *ent.Tx) (struct{}, error) {
			return struct{}{}, AddRollups(sys, tx.Client(), deltas)
		}); err != nil {
			t.Fatal(err)
		}
		svc := NewService(db.Client)
		asA := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_a", MerchantID: a})
		// The summing query keeps ent privacy: a merchant's, with no
		// merchant predicate of its own, sees only its own rows.
		var mine []bucketSums
		if err := db.Client.ReportRollup.Query().Where(reportrollup.Total(true)).
			Modify(func(s *entsql.Selector) { selectBuckets(s, ByCurrency, nil) }).Scan(asA, &mine); err != nil {
			t.Fatal(err)
		}
		var mineGross, aGross int64
		for _, r := range mine {
			mineGross += r.Gross
		}
		for _, r := range rows {
			aGross += r.Gross
		}
		if mineGross != aGross {
			t.Fatalf("merchant a sums gross %d through the modified query, its own rows hold %d", mineGross, aGross)
		}
		for _, tz := range []string{"", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
			"America/St_Johns", "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
			for _, r := range [][2]string{{"2026-03-29", "2026-03-29"}, {"2026-03-15", "2026-04-14"}, {"2026-10-25", "2026-10-25"},
				{"2026-01-01", "2026-12-31"}} {
				for _, by := range []GroupBy{ByDay, ByCurrency, ByConnector} {
					q := Query{From: r[0], To: r[1], GroupBy: by, Timezone: tz}
					got, err := svc.MerchantReport(asA, q)
					if err != nil {
						t.Fatal(err)
					}
					w, err := Plan(q)
					if err != nil {
						t.Fatal(err)
					}
					want, err := Aggregate(w, rows)
					if err != nil {
						t.Fatal(err)
					}
					if len(got.Groups) != len(want) || len(want) == 0 {
						t.Fatalf("%s %v by %s: %d groups, want %d", tz, r, by, len(got.Groups), len(want))
					}
					for i := range want {
						if got.Groups[i] != want[i] {
							t.Fatalf("%s %v by %s: group %d = %+v, want %+v", tz, r, by, i, got.Groups[i], want[i])
						}
					}
				}
			}
		}
	})
}
