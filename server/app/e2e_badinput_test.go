package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestBadInputMovesNoMoney sends the bad input over HTTP, against
// the real cardnet plugin: each request gets its coded error, and nothing
// moves: no session, payment, attempt, refund, journal entry or posting is
// written, and the card network settles nothing new.
func TestBadInputMovesNoMoney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		confirmWith := func(s session, token, key string) gqlResponse {
			return x.gql(s.Cashier, confirmMutation, map[string]any{"in": map[string]any{"method": "CARD", "cardToken": token, "idempotencyKey": key}})
		}

		// What the refusals need, made first: money moves here.
		expiring := x.open(t, map[string]any{"amount": amountOf(1500, "SGD"), "expiresIn": 60})
		expiringCard := x.tokenize(t, expiring, "4242424242424242", cvc3)

		paid := x.open(t, map[string]any{"amount": amountOf(1600, "SGD")})
		paidCard := x.tokenize(t, paid, "5555555555554444", cvc3)
		if p := x.confirm(t, paid, map[string]any{"method": "CARD", "cardToken": paidCard, "idempotencyKey": "paid-1"}); p.Status != "SUCCEEDED" {
			t.Fatalf("paid: %+v", p)
		}

		held := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10_000, "SGD"), "captureMethod": "MANUAL"}), "4242424242424242", cvc3)
		captured := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10_000, "SGD"), "captureMethod": "MANUAL"}), "4242424242424242", cvc3)
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{
			"id": captured.ID, "amount": amountOf(5_000, "SGD"), "idempotencyKey": "cap-5000"}}), "capturePayment", &struct{}{})
		if held.Status != "REQUIRES_CAPTURE" || x.payment(t, captured.ID).AmountCaptured.Amount != "5000" {
			t.Fatalf("held %+v, captured %+v", held, captured)
		}

		ofB := x.openAs(t, x.merchantB(), map[string]any{"amount": amountOf(900, "EUR"), "buyerCountry": "DE"})
		cardOfB := x.tokenize(t, ofB, "4242424242424242", cvc3)
		open := x.open(t, map[string]any{"amount": amountOf(1700, "SGD")})

		x.ok(t, x.gql("API_KEY", `mutation($in: CreateCouponInput!) { createCoupon(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"code": "ONCE", "kind": "PERCENTAGE", "percentOffBps": 1000, "maxRedemptions": 1}}), "createCoupon", &struct{}{})
		first, second := x.open(t, map[string]any{"amount": amountOf(2000, "SGD")}), x.open(t, map[string]any{"amount": amountOf(2000, "SGD")})
		for _, s := range []session{first, second} {
			x.ok(t, x.gql(s.Cashier, `mutation { applyCoupon(code: "ONCE") { amount { amount } } }`, nil), "applyCoupon", &struct{}{})
		}
		if p := x.payCard(t, first, "4242424242424242", cvc3); p.Status != "SUCCEEDED" || p.Amount.Amount != "1800" {
			t.Fatalf("first with the coupon: %+v", p)
		}
		secondCard := x.tokenize(t, second, "4242424242424242", cvc3)

		x.clock.Advance(61 * time.Second) // the expiring session is past its minute

		createSession := func(amount map[string]any) func() gqlResponse {
			return func() gqlResponse {
				return x.gql("API_KEY", `mutation($in: CreateCheckoutSessionInput!) { createCheckoutSession(input: $in) { cashierToken } }`,
					map[string]any{"in": map[string]any{"amount": amount}})
			}
		}
		capture := func(id string, amount map[string]any, key string) func() gqlResponse {
			return func() gqlResponse {
				return x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{"id": id, "amount": amount, "idempotencyKey": key}})
			}
		}
		refund := func(amount map[string]any, key string) func() gqlResponse {
			return func() gqlResponse {
				return x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{"id": captured.ID, "amount": amount, "idempotencyKey": key}})
			}
		}
		cases := []struct {
			name        string
			send        func() gqlResponse
			code, field string
		}{
			{"session of zero", createSession(amountOf(0, "SGD")), "BAD_USER_INPUT", "amount.amount"},
			{"session of a negative amount", createSession(amountOf(-5, "SGD")), "BAD_USER_INPUT", "amount.amount"},
			{"session above 10^15", createSession(amountOf(1_000_000_000_000_001, "SGD")), "BAD_USER_INPUT", "amount.amount"},
			{"session above int64", createSession(map[string]any{"amount": "9223372036854775808", "currency": "SGD"}), "BAD_USER_INPUT", ""},
			{"session in JPY with 2 decimals", createSession(map[string]any{"amount": "1000", "currency": "JPY", "exponent": 2}), "BAD_USER_INPUT", "amount.exponent"},
			{"session in an unknown currency", createSession(amountOf(1000, "XYZ")), "BAD_USER_INPUT", "amount.currency"},
			{"confirm of an expired session", func() gqlResponse { return confirmWith(expiring, expiringCard, "late") }, "CONFLICT", ""},
			{"confirm of a paid session", func() gqlResponse { return confirmWith(paid, paidCard, "paid-2") }, "CONFLICT", ""},
			{"capture above the authorization", capture(held.ID, amountOf(10_001, "SGD"), "c1"), "BAD_USER_INPUT", "amount"},
			{"capture of zero", capture(held.ID, amountOf(0, "SGD"), "c2"), "BAD_USER_INPUT", "amount"},
			{"capture of a negative amount", capture(held.ID, amountOf(-1, "SGD"), "c3"), "BAD_USER_INPUT", "amount"},
			{"capture in another currency", capture(held.ID, amountOf(100, "USD"), "c4"), "BAD_USER_INPUT", "amount"},
			{"capture with the wrong exponent", capture(held.ID, map[string]any{"amount": "100", "currency": "SGD", "exponent": 0}, "c5"), "BAD_USER_INPUT", "amount.exponent"},
			{"refund above captured", refund(amountOf(5_001, "SGD"), "r1"), "BAD_USER_INPUT", "amount"},
			{"refund of zero", refund(amountOf(0, "SGD"), "r2"), "BAD_USER_INPUT", "amount"},
			{"refund with the wrong exponent", refund(map[string]any{"amount": "10", "currency": "SGD", "exponent": 3}, "r4"), "BAD_USER_INPUT", "amount.exponent"},
			{"refund above 10^15", refund(amountOf(1_000_000_000_000_001, "SGD"), "r3"), "BAD_USER_INPUT", "amount"},
			{"another merchant's card token", func() gqlResponse { return confirmWith(open, cardOfB, "foreign") }, "NOT_FOUND", ""},
			{"an expired card", func() gqlResponse {
				return x.gql(open.Cashier, `mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) { token } }`,
					map[string]any{"in": map[string]any{"number": "4242424242424242", "cvc": cvc3, "expMonth": 12, "expYear": 2020}})
			}, "BAD_USER_INPUT", "expYear"},
			{"a coupon used up meanwhile", func() gqlResponse { return confirmWith(second, secondCard, "coupon") }, "CONFLICT", ""},
		}
		sys := viewer.SystemContext(context.Background())
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				sessions, before := db.Client.CheckoutSession.Query().CountX(sys), x.counts(t)
				r := c.send()
				if r.code() != c.code || (c.field != "" && r.Errors[0].Extensions["field"] != c.field) {
					t.Errorf("%s, want %s on %q", r.Raw, c.code, c.field)
				}
				after := x.counts(t)
				// A refused confirm leaves nothing, not even the session's
				// payment: the attempt transaction that would have inserted it,
				// and redeemed the coupon, rolled back whole.
				if after != before {
					t.Errorf("moved %+v to %+v", before, after)
				}
				if n := db.Client.CheckoutSession.Query().CountX(sys); n != sessions {
					t.Errorf("wrote %d sessions", n-sessions)
				}
			})
		}
		// The coupon's one use is the first session's; the second may pay without it.
		if got := x.sessionStatus(t, second); got != "OPEN" {
			t.Errorf("second session %s", got)
		}
		x.balanced(t)
		x.noCardData(t)
	})
}
