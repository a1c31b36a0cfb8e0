package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

const cancelPayment = `mutation($in: CancelPaymentInput!) { cancelPayment(input: $in) { id status canceledAt } }`

// buyerAnswers posts the buyer's answer on a challenge page, without
// following the redirect back to the shop, and returns the HTTP status.
func buyerAnswers(t *testing.T, page, action string) int {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(page, url.Values{"action": {action}})
	if err != nil {
		t.Fatalf("buyer page %s: %v", page, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRiskChallengeForcesThreeDSEndToEnd: an operator's risk rule that
// challenges SGD payments above 20.00 makes the frictionless test card go
// through the 3-D Secure challenge: the request reaches the card network
// through the cardnet plugin as a typed three_ds "challenge", the buyer
// approves on the network's page, and the result arrives by webhook. Below
// the threshold the same card stays frictionless.
func TestRiskChallengeForcesThreeDSEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		network := x.sb.URL()
		x.ok(t, x.gql("OPERATOR", `mutation($in: RiskRuleInput!) { upsertRiskRule(input: $in) { key action } }`,
			map[string]any{"in": map[string]any{"key": "challenge-large-sgd", "kind": "amount_limit", "action": "challenge",
				"enabled": true, "score": 40, "params": map[string]any{"currency": "SGD", "maxMinor": "2000"}}}),
			"upsertRiskRule", &struct{}{})

		s := x.open(t, map[string]any{"amount": amountOf(1_500, "SGD")})
		below := x.payCard(t, s, "4000000000000077", cvc3)
		if at := cardPaymentsAt(t, network, x.payment(t, below.ID).attempts()[0].ID); below.Status != "SUCCEEDED" ||
			len(at) != 1 || at[0].ThreeDS.Requested != "automatic" || at[0].ThreeDS.Flow != "frictionless" {
			t.Fatalf("below the rule: payment %+v, network %+v", below, at)
		}

		s = x.open(t, map[string]any{"amount": amountOf(2_500, "SGD")})
		p := x.payCard(t, s, "4000000000000077", cvc3)
		if p.Status != "REQUIRES_ACTION" || p.NextAction == nil || p.NextAction.Type != "THREE_DS_CHALLENGE" || p.NextAction.URL == "" {
			t.Fatalf("challenged payment %+v", p)
		}
		att := x.payment(t, p.ID).attempts()[0]
		if at := cardPaymentsAt(t, network, att.ID); len(at) != 1 || at[0].ThreeDS.Requested != "challenge" ||
			at[0].ThreeDS.Flow != "challenge" || at[0].State != "requires_action" {
			t.Fatalf("the network holds %+v", at)
		}
		buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
		p = x.waitStatus(t, p.ID, "SUCCEEDED")
		if p.AmountCaptured.Amount != "2500" || p.NextAction != nil {
			t.Fatalf("after the challenge: %+v", p)
		}
		if at := cardPaymentsAt(t, network, att.ID); at[0].ThreeDS.Result != "authenticated" || at[0].CapturedAmount != 2_500 {
			t.Fatalf("the network holds %+v", at)
		}
		if got := x.sessionStatus(t, s); got != "COMPLETE" {
			t.Fatalf("session %s", got)
		}
		x.balanced(t)
		x.noCardData(t)
	})
}

// cancelWaiting cancels the waiting payment id as the merchant and checks
// that it is CANCELED and its attempt VOIDED at the channel.
func (x *e2e) cancelWaiting(t *testing.T, id, key string) {
	t.Helper()
	var out struct{ ID, Status, CanceledAt string }
	x.ok(t, x.gql("API_KEY", cancelPayment, map[string]any{"in": map[string]any{"id": id, "idempotencyKey": key}}),
		"cancelPayment", &out)
	if out.Status != "CANCELED" || out.CanceledAt == "" {
		t.Fatalf("cancel: %+v", out)
	}
	if a := x.payment(t, id).attempts()[0]; a.Status != "VOIDED" {
		t.Fatalf("attempt %+v", a)
	}
}

// refusedAfterCancel checks what follows the cancel of the waiting payment
// id: the buyer's late answer (late returns the channel page's HTTP status)
// is refused with 409, the payment stays CANCELED with nothing captured,
// the channel still holds it released (held, when not nil, fails the test
// otherwise), and no money moved anywhere.
func (x *e2e) refusedAfterCancel(t *testing.T, id string, late func() int, held func()) {
	t.Helper()
	before := x.counts(t)
	if code := late(); code != http.StatusConflict {
		t.Fatalf("the buyer answered after the cancel: HTTP %d, want 409", code)
	}
	if got := x.payment(t, id); got.Status != "CANCELED" || got.AmountCaptured.Amount != "0" {
		t.Fatalf("after the late answer: %+v", got)
	}
	if held != nil {
		held()
	}
	if after := x.counts(t); after != before {
		t.Fatalf("money moved after the cancel: %+v then %+v", before, after)
	}
}

// TestCancelDuringThreeDSEndToEnd: a merchant's cancelPayment on a payment
// waiting for 3-D Secure voids it at the card network through the cardnet
// plugin; the buyer who then approves the challenge is refused, and no
// money moves anywhere. A buyer who approved first wins: the cancel is a
// CONFLICT and the payment succeeds, never canceled while captured.
func TestCancelDuringThreeDSEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		network := x.sb.URL()

		t.Run("canceled at the network before the buyer answers", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(2_600, "SGD")})
			p := x.payCard(t, s, "4000000000000069", cvc3)
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil {
				t.Fatalf("payment %+v", p)
			}
			page, att := p.NextAction.URL, x.payment(t, p.ID).attempts()[0]
			x.cancelWaiting(t, p.ID, "cancel-1")
			if at := cardPaymentsAt(t, network, att.ID); len(at) != 1 || at[0].State != "voided" || at[0].DeclineCode != "canceled" {
				t.Fatalf("the network holds %+v", at)
			}
			x.refusedAfterCancel(t, p.ID, func() int { return buyerAnswers(t, page, "approve") }, func() {
				if at := cardPaymentsAt(t, network, att.ID); at[0].State != "voided" || at[0].CapturedAmount != 0 {
					t.Fatalf("after the late approval the network holds %+v", at)
				}
			})
		})

		t.Run("the buyer approved first", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(2_700, "SGD")})
			p := x.payCard(t, s, "4000000000000069", cvc3)
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil {
				t.Fatalf("payment %+v", p)
			}
			buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
			r := x.gql("API_KEY", cancelPayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "cancel-2"}})
			if r.code() != "CONFLICT" {
				t.Fatalf("cancel after the buyer approved: %s", r.Raw)
			}
			p = x.waitStatus(t, p.ID, "SUCCEEDED")
			att := p.attempts()[0]
			if p.AmountCaptured.Amount != "2700" || att.Status != "CAPTURED" {
				t.Fatalf("payment %+v", p)
			}
			if at := cardPaymentsAt(t, network, att.ID); len(at) != 1 || at[0].State != "captured" || at[0].CapturedAmount != 2_700 {
				t.Fatalf("the network holds %+v", at)
			}
			x.balanced(t)
		})
		x.noCardData(t)
	})
}
