package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const reportFields = `from to timezone groupBy groups { key currency gross { amount currency } fees { amount } refunded { amount }
	disputed { amount } net { amount currency decimal } payments succeeded failed authorized declined refunds disputes
	authorizationRate refundRate disputeRate }`

const merchantReportQuery = `query($from: String!, $to: String!, $by: ReportGroupBy!, $tz: String) {
	merchantReport(from: $from, to: $to, groupBy: $by, timezone: $tz) { ` + reportFields + ` } }`

const operatorReportQuery = `query($from: String!, $to: String!, $by: ReportGroupBy!, $m: ID) {
	operatorReport(from: $from, to: $to, groupBy: $by, merchantID: $m) { ` + reportFields + ` } }`

type reportView struct {
	From, To, Timezone, GroupBy string
	Groups                      []reportGroupView
}

type reportGroupView struct {
	Key, Currency                                                        string
	Gross, Net                                                           struct{ Amount, Currency, Decimal string }
	Fees, Refunded, Disputed                                             struct{ Amount string }
	Payments, Succeeded, Failed, Authorized, Declined, Refunds, Disputes int
	AuthorizationRate, RefundRate, DisputeRate                           float64
}

// TestReportsMatchHandComputedFiguresFromRealPayments pays through the
// cardnet plugin and the sandbox (one card approved, one declined then
// approved on a retry, one declined), refunds part of the first, and
// reads merchantReport by day, currency, connector and method: the
// figures, fed by the outbox through the rollup consumer, are the ones
// computed by hand from the fee plan. Merchant B sees none of them,
// the operator sees them across merchants and for A alone, a merchant may
// not call operatorReport, and bad ranges and timezones are coded errors.
func TestReportsMatchHandComputedFiguresFromRealPayments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		x.ok(t, x.gql("OPERATOR", `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { name } }`,
			map[string]any{"in": map[string]any{"name": "cardnet", "fees": []any{
				map[string]any{"currency": "SGD", "fixedAmount": 30, "basisPoints": 290}}}}), "updateConnectorSettings", &struct{}{})

		// 10,000 approved: fee 30 + 2.9 % = 320.
		p1 := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10_000, "SGD")}), "4242424242424242", cvc3)
		// 5,000 declined, then approved on a second try: fee 30 + 145 = 175.
		s2 := x.open(t, map[string]any{"amount": amountOf(5_000, "SGD")})
		if p := x.payCard(t, s2, "4000000000000002", cvc3); p.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("declined card: %+v", p)
		}
		p2 := x.payCard(t, s2, "4242424242424242", cvc3)
		// 2,000 declined and left so.
		if p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(2_000, "SGD")}), "4000000000000002", cvc3); p.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("declined card: %+v", p)
		}
		if p1.Status != "SUCCEEDED" || p2.Status != "SUCCEEDED" || p1.Fee.Amount != "320" || p2.Fee.Amount != "175" {
			t.Fatalf("payments: %+v %+v", p1, p2)
		}
		// 2,500 of the first back: fee back ⌊320 × 2500/10000⌋ = 80.
		var refund struct {
			Status      string
			FeeReversed struct{ Amount string }
		}
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": p1.ID, "amount": amountOf(2_500, "SGD"), "reason": "returned", "idempotencyKey": "rep-ref-1"}}), "refundPayment", &refund)
		if refund.Status != "SUCCEEDED" || refund.FeeReversed.Amount != "80" {
			t.Fatalf("refund: %+v", refund)
		}

		today := time.Now().UTC()
		vars := func(by string) map[string]any {
			return map[string]any{"from": today.AddDate(0, 0, -1).Format("2006-01-02"), "to": today.AddDate(0, 0, 1).Format("2006-01-02"), "by": by}
		}
		want := reportGroupView{Currency: "SGD", Payments: 3, Succeeded: 2, Failed: 0, Authorized: 2, Declined: 2, Refunds: 1,
			AuthorizationRate: 0.5, RefundRate: 0.5}
		want.Gross.Amount, want.Gross.Currency = "15000", "SGD"
		want.Fees.Amount = "415" // 320 + 175 − 80
		want.Refunded.Amount, want.Disputed.Amount = "2500", "0"
		want.Net.Amount, want.Net.Currency, want.Net.Decimal = "12085", "SGD", "120.85" // 15000 − 415 − 2500
		same := func(g reportGroupView, key string) bool {
			w := want
			w.Key = key
			return g == w
		}
		read := func(principal, query string, v map[string]any, field string) reportView {
			t.Helper()
			var r reportView
			x.ok(t, x.gql(principal, query, v), field, &r)
			return r
		}

		// The rollups trail the payments by the consumer's step: wait for
		// the refund to be in them.
		deadline := time.Now().Add(15 * time.Second)
		var byDay reportView
		for {
			byDay = read("MERCHANT_ANALYST", merchantReportQuery, vars("DAY"), "merchantReport")
			if len(byDay.Groups) == 1 && byDay.Groups[0].Refunds == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("report after 15 s: %+v", byDay)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !same(byDay.Groups[0], today.Format("2006-01-02")) || byDay.Timezone != "UTC" || byDay.GroupBy != "DAY" {
			raw, _ := json.Marshal(byDay)
			t.Fatalf("by day: %s, want %+v", raw, want)
		}
		for by, key := range map[string]string{"CURRENCY": "SGD", "CONNECTOR": "cardnet", "METHOD": "card"} {
			r := read("API_KEY", merchantReportQuery, vars(by), "merchantReport")
			if len(r.Groups) != 1 || !same(r.Groups[0], key) {
				t.Fatalf("by %s: %+v, want %+v", by, r.Groups, want)
			}
		}

		// Tenants: B sees nothing of A's; the operator sees A's, alone or
		// with every merchant's; a merchant may not call operatorReport.
		if r := read(x.merchantB(), merchantReportQuery, vars("DAY"), "merchantReport"); len(r.Groups) != 0 {
			t.Fatalf("merchant B read %+v", r.Groups)
		}
		for _, m := range []any{x.a.ID, nil} {
			v := vars("CURRENCY")
			v["m"] = m
			if r := read("OPERATOR", operatorReportQuery, v, "operatorReport"); len(r.Groups) != 1 || !same(r.Groups[0], "SGD") {
				t.Fatalf("operator (merchant %v): %+v", m, r.Groups)
			}
		}
		v := vars("CURRENCY")
		v["m"] = x.b.ID
		if r := read("OPERATOR", operatorReportQuery, v, "operatorReport"); len(r.Groups) != 0 {
			t.Fatalf("operator, merchant B: %+v", r.Groups)
		}
		if r := x.gql("MERCHANT_ADMIN", operatorReportQuery, vars("DAY")); r.code() != "FORBIDDEN" {
			t.Fatalf("a merchant's operatorReport: %s", r.Raw)
		}
		if r := x.gql("OPERATOR", merchantReportQuery, vars("DAY")); r.code() != "FORBIDDEN" {
			t.Fatalf("an operator's merchantReport: %s", r.Raw)
		}

		// Bad input, each with its field.
		for _, tt := range []struct {
			name, from, to, tz, field string
		}{
			{"from after to", "2026-03-10", "2026-03-09", "", "to"},
			{"range too long", "2025-01-01", "2026-01-02", "", "to"},
			{"bad timezone", "2026-03-01", "2026-03-02", "Mars/Olympus", "timezone"},
			{"bad day", "03/01/2026", "2026-03-02", "", "from"},
		} {
			v := map[string]any{"from": tt.from, "to": tt.to, "by": "DAY"}
			if tt.tz != "" {
				v["tz"] = tt.tz
			}
			r := x.gql("API_KEY", merchantReportQuery, v)
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tt.field {
				t.Fatalf("%s: %s, want BAD_USER_INPUT on %s", tt.name, r.Raw, tt.field)
			}
		}
	})
}
