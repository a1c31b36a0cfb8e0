package app_test

import (
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestDailyLimitCountsAuthorizedVolumeEndToEnd: a merchant's authorized
// payments add up toward a daily-limit rule, in the transaction that records
// each authorization; the payment that would take the day's volume past the
// limit is refused by risk before any connector is called, and a declined
// payment adds nothing.
func TestDailyLimitCountsAuthorizedVolumeEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		x.ok(t, x.gql("OPERATOR", `mutation($in: RiskRuleInput!) { upsertRiskRule(input: $in) { key action } }`,
			map[string]any{"in": map[string]any{"key": "daily-sgd", "kind": "daily_limit", "action": "deny",
				"enabled": true, "score": 80, "params": map[string]any{"currency": "SGD", "maxMinor": "5000"}}}),
			"upsertRiskRule", &struct{}{})

		first := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(3_000, "SGD")}), "4242424242424242", cvc3)
		if first.Status != "SUCCEEDED" {
			t.Fatalf("first payment %+v", first)
		}
		declined := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_500, "SGD")}), "4000000000000002", cvc3)
		if declined.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("declined payment %+v", declined)
		}
		// 3,000 authorized + 1,500 = 4,500: within the limit (the decline
		// counted nothing).
		second := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_500, "SGD")}), "4242424242424242", cvc3)
		if second.Status != "SUCCEEDED" {
			t.Fatalf("second payment %+v", second)
		}
		// 4,500 + 1,000 would pass 5,000.
		over := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_000, "SGD")}), "4242424242424242", cvc3)
		if over.Status != "REQUIRES_PAYMENT_METHOD" || over.FailureCode != "risk_deny" {
			t.Fatalf("payment over the daily limit %+v", over)
		}
		if at := x.payment(t, over.ID).attempts(); len(at) != 1 || at[0].Connector != "" {
			t.Fatalf("the refused payment reached a connector: %+v", at)
		}
		x.balanced(t)
	})
}
