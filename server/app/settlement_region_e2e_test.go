package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestSettlementFeesBySchemeAndRegion: merchant B (Germany, EUR) has one
// fee plan of three card lines, and two card payments through the real
// plugins and sandbox get different fees from it by the scheme and region
// the payment recorded (docs/settlement.md, "Scheme and region"):
//
//	card                              2.9 %
//	card + visa + domestic            1.5 % + 0.10 EUR
//	card + international              3.9 % + 0.25 EUR
//
//	100.00 EUR, Visa issued in DE (domestic):     150 + 10 = 1.60
//	100.00 EUR, Mastercard issued in US (international): 390 + 25 = 4.15
func TestSettlementFeesBySchemeAndRegion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		merchant := x.b.ID
		x.ok(t, x.gql("OPERATOR", `mutation($in: SettlementScheduleInput!) { setSettlementSchedule(input: $in) { delayDays } }`,
			map[string]any{"in": map[string]any{"merchantID": merchant, "delayDays": 1, "timezone": "Europe/Berlin"}}),
			"setSettlementSchedule", &struct{}{})
		upsert := func(in map[string]any) gqlResponse {
			in["merchantID"] = merchant
			return x.gql("OPERATOR", `mutation($in: FeePlanInput!) { upsertFeePlan(input: $in) { id } }`, map[string]any{"in": in})
		}
		if r := upsert(map[string]any{"paymentMethodType": "card", "region": "EEA", "percentBps": 100}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("an unknown region: %s", r.Raw)
		}
		for _, in := range []map[string]any{
			{"paymentMethodType": "card", "percentBps": 290},
			{"paymentMethodType": "card", "scheme": "visa", "region": "domestic", "percentBps": 150, "fixed": amountOf(10, "EUR")},
			{"paymentMethodType": "card", "region": "international", "percentBps": 390, "fixed": amountOf(25, "EUR")},
		} {
			x.ok(t, upsert(in), "upsertFeePlan", &struct{}{})
		}

		var key struct{ Secret string }
		x.ok(t, x.gql("OPERATOR", `mutation($in: CreateAPIKeyInput!) { createAPIKey(input: $in) { secret } }`,
			map[string]any{"in": map[string]any{"merchantID": merchant, "name": "fees e2e"}}), "createAPIKey", &key)
		pay := func(number string) payView {
			s := x.openAs(t, key.Secret, map[string]any{"amount": amountOf(10000, "EUR"), "allowedMethods": []string{"CARD"}, "buyerCountry": "DE"})
			p := x.payCard(t, s, number, cvc3)
			if p.Status != "SUCCEEDED" {
				t.Fatalf("card %s: %+v", number, p)
			}
			return p
		}
		visaDE := pay("4000270000000001")
		mcUS := pay("5555555555554444")
		for id, want := range map[string][2]string{visaDE.ID: {"visa", "domestic"}, mcUS.ID: {"mastercard", "international"}} {
			p := db.Client.Payment.GetX(viewer.SystemContext(context.Background()), id)
			if p.CardScheme != want[0] || p.Region != want[1] {
				t.Errorf("payment %s recorded (%q, %q), want %v", id, p.CardScheme, p.Region, want)
			}
		}

		x.clock.Advance(7 * 24 * time.Hour)
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Fatal(err)
		}
		day := x.clock.Now().In(berlin).Format(time.DateOnly)
		var batch struct{ ID string }
		x.ok(t, x.gql("OPERATOR", runSettlement, map[string]any{"in": map[string]any{"merchantID": merchant, "day": day}}), "runSettlement", &batch)
		var one struct {
			Lines struct {
				Edges []struct {
					Node struct {
						PaymentID   string
						MdrFee, Net struct{ Amount string }
					}
				}
			}
		}
		x.ok(t, x.gql(x.merchantB(), `query($id: ID!) { settlement(id: $id) { lines(first: 10) { edges { node {
			paymentID mdrFee { amount } net { amount } } } } } }`, map[string]any{"id": batch.ID}), "settlement", &one)
		got := map[string]string{}
		for _, e := range one.Lines.Edges {
			got[e.Node.PaymentID] = e.Node.MdrFee.Amount + "/" + e.Node.Net.Amount
		}
		if got[visaDE.ID] != "160/9840" || got[mcUS.ID] != "415/9585" || len(got) != 2 {
			t.Fatalf("lines (mdr/net by payment) = %v; want Visa domestic 160/9840, Mastercard international 415/9585", got)
		}
		if b := x.accountBalance(t, "MERCHANT", merchant, "AVAILABLE", "EUR"); b != "19425" {
			t.Errorf("available = %s EUR minor, want 9840 + 9585 = 19425", b)
		}
		x.balanced(t)
	})
}
