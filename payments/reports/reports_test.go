package reports

import (
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
)

func TestPlanRefusesBadInput(t *testing.T) {
	for _, tt := range []struct {
		name  string
		q     Query
		field string
	}{
		{"to before from", Query{From: "2026-03-10", To: "2026-03-09", GroupBy: ByDay}, "to"},
		{"range too long", Query{From: "2025-01-01", To: "2026-01-02", GroupBy: ByDay}, "to"},
		{"bad timezone", Query{From: "2026-03-01", To: "2026-03-02", GroupBy: ByDay, Timezone: "Mars/Olympus"}, "timezone"},
		{"Local is no timezone", Query{From: "2026-03-01", To: "2026-03-02", GroupBy: ByDay, Timezone: "Local"}, "timezone"},
		{"bad from", Query{From: "2026-3-1", To: "2026-03-02", GroupBy: ByDay}, "from"},
		{"bad to", Query{From: "2026-03-01", To: "tomorrow", GroupBy: ByDay}, "to"},
		{"bad grouping", Query{From: "2026-03-01", To: "2026-03-02", GroupBy: "WEEK"}, "groupBy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(tt.q)
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want EINVALID on %s", err, tt.field)
			}
		})
	}
	// The longest range allowed: 366 days.
	if _, err := Plan(Query{From: "2024-01-01", To: "2024-12-31", GroupBy: ByDay}); err != nil {
		t.Fatalf("366 days: %v", err)
	}
}

func TestPlanWindow(t *testing.T) {
	for _, tt := range []struct {
		tz         string
		start, end string
	}{
		{"", "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"},
		{"Europe/Paris", "2026-02-28T23:00:00Z", "2026-03-02T23:00:00Z"},
		// Half-hour offset: the hours that start inside the local days.
		{"Asia/Kolkata", "2026-02-28T19:00:00Z", "2026-03-02T19:00:00Z"},
	} {
		w, err := Plan(Query{From: "2026-03-01", To: "2026-03-02", GroupBy: ByDay, Timezone: tt.tz})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Start.Format(time.RFC3339); got != tt.start {
			t.Errorf("%s: start %s, want %s", tt.tz, got, tt.start)
		}
		if got := w.End.Format(time.RFC3339); got != tt.end {
			t.Errorf("%s: end %s, want %s", tt.tz, got, tt.end)
		}
	}
	// A DST change inside the range: Paris's 2026-03-29 has 23 hours.
	w, err := Plan(Query{From: "2026-03-29", To: "2026-03-29", GroupBy: ByDay, Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if h := w.End.Sub(w.Start).Hours(); h != 23 {
		t.Fatalf("2026-03-29 in Paris spans %v hours, want 23", h)
	}
}

func hour(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func row(h, cur, conn, method string, c Counts) Row {
	return Row{Key: Key{MerchantID: "mer_1", Hour: hour(h), Currency: cur, Connector: conn, Method: method}, Counts: c}
}

func TestAggregateGroupsWithinCurrency(t *testing.T) {
	rows := []Row{
		row("2026-03-01T00:00:00Z", "USD", "acme", "card", Counts{Succeeded: 2, Gross: 1000, Fees: 30, Authorized: 2, Declined: 2}),
		row("2026-03-01T22:00:00Z", "USD", "bolt", "card", Counts{Succeeded: 1, Gross: 500, Fees: 10, Refunds: 1, Refunded: 200, Authorized: 1}),
		row("2026-03-01T23:00:00Z", "EUR", "acme", "wallet", Counts{Succeeded: 1, Gross: 700, Authorized: 1}),
		row("2026-03-02T05:00:00Z", "USD", "acme", "card", Counts{Succeeded: 1, Gross: 100, Disputes: 1, Disputed: 100, Authorized: 1}),
		row("2026-03-03T00:00:00Z", "USD", "acme", "card", Counts{Succeeded: 9, Gross: 9999}), // after the range
	}
	w, err := Plan(Query{From: "2026-03-01", To: "2026-03-02", GroupBy: ByDay, Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Aggregate(w, rows)
	if err != nil {
		t.Fatal(err)
	}
	// In Paris (UTC+1) 22:00Z and 23:00Z on the 1st are the 1st's 23:00
	// and the 2nd's 00:00.
	want := []struct {
		key, cur string
		c        Counts
	}{
		{"2026-03-01", "USD", Counts{Succeeded: 3, Gross: 1500, Fees: 40, Refunds: 1, Refunded: 200, Authorized: 3, Declined: 2}},
		{"2026-03-02", "EUR", Counts{Succeeded: 1, Gross: 700, Authorized: 1}},
		{"2026-03-02", "USD", Counts{Succeeded: 1, Gross: 100, Disputes: 1, Disputed: 100, Authorized: 1}},
	}
	if len(got) != len(want) {
		t.Fatalf("groups = %+v", got)
	}
	for i, g := range got {
		if g.Key != want[i].key || g.CurrencyCode() != want[i].cur || g.Counts != want[i].c {
			t.Errorf("group %d = %s %s %+v, want %+v", i, g.Key, g.CurrencyCode(), g.Counts, want[i])
		}
	}
	g := got[0]
	if g.NetMoney().Minor != 1500-40-200 || g.NetMoney().Currency.Code() != "USD" {
		t.Errorf("net = %v", g.NetMoney())
	}
	if r := g.AuthorizationRate(); r != 0.6 {
		t.Errorf("authorization rate = %v, want 0.6", r)
	}
	if r := g.RefundRate(); r != 1.0/3 {
		t.Errorf("refund rate = %v", r)
	}
	if r := got[2].DisputeRate(); r != 1 {
		t.Errorf("dispute rate = %v", r)
	}

	for _, tt := range []struct {
		by   GroupBy
		keys []string
	}{
		{ByCurrency, []string{"EUR/EUR", "USD/USD"}},
		{ByConnector, []string{"acme/EUR", "acme/USD", "bolt/USD"}},
		{ByMethod, []string{"card/USD", "wallet/EUR"}},
	} {
		w.GroupBy = tt.by
		got, err := Aggregate(w, rows)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, g := range got {
			keys = append(keys, g.Key+"/"+g.CurrencyCode())
		}
		if len(keys) != len(tt.keys) {
			t.Fatalf("%s: %v, want %v", tt.by, keys, tt.keys)
		}
		for i := range keys {
			if keys[i] != tt.keys[i] {
				t.Fatalf("%s: %v, want %v", tt.by, keys, tt.keys)
			}
		}
	}
}

func TestRatesWithNothingFinished(t *testing.T) {
	var g Group
	if g.AuthorizationRate() != 0 || g.RefundRate() != 0 || g.DisputeRate() != 0 {
		t.Fatal("rates of an empty group are not 0")
	}
}
