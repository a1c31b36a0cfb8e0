package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// GET /records lists every card and wallet payment with its captures,
// refunds and voids, and the operations made under idempotency keys.
func TestRecordsListPaymentsWithTheirOperations(t *testing.T) {
	sb := start(t, Config{})
	var captured, voided cardPayment
	wantStatus(t, call(t, sb, "POST", "/card/payments", cardReq("r-cap", "4242424242424242", 1000, "USD", false), &captured), http.StatusCreated)
	wantStatus(t, call(t, sb, "POST", "/card/payments", cardReq("r-void", "4242424242424242", 700, "USD", false), &voided), http.StatusCreated)
	var res opResult
	call(t, sb, "POST", "/card/payments/"+captured.ID+"/capture", amountRequest{Amount: 800, IdempotencyKey: "cap-1"}, &res)
	call(t, sb, "POST", "/card/payments/"+captured.ID+"/refunds", amountRequest{Amount: 300, IdempotencyKey: "ref-1"}, &res)
	call(t, sb, "POST", "/card/payments/"+voided.ID+"/void", amountRequest{IdempotencyKey: "void-1"}, &res)
	var w walletPayment
	call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: "r-w", MerchantReference: "pay_w", Amount: 500,
		Currency: "CNY", ReturnURL: "http://shop.example/r"}, &w)

	var got records
	wantStatus(t, call(t, sb, "GET", "/records", nil, &got), http.StatusOK)
	if len(got.CardPayments) != 2 || len(got.WalletPayments) != 1 {
		t.Fatalf("records: %d card, %d wallet payments", len(got.CardPayments), len(got.WalletPayments))
	}
	c, v := got.CardPayments[0], got.CardPayments[1]
	if c.ID != captured.ID || c.CapturedAmount != 800 || c.RefundedAmount != 300 || len(c.Captures) != 1 || len(c.Refunds) != 1 {
		t.Fatalf("captured payment = %+v", c)
	}
	if v.ID != voided.ID || v.State != "voided" {
		t.Fatalf("voided payment = %+v", v)
	}
	want := map[string]string{captured.ID + " capture cap-1": "approved", captured.ID + " refund ref-1": "approved", voided.ID + " void void-1": "approved"}
	if len(got.Operations) != len(want) {
		t.Fatalf("operations = %+v", got.Operations)
	}
	for _, op := range got.Operations {
		if k := op.ObjectID + " " + op.Operation + " " + op.IdempotencyKey; want[k] != op.Status || op.Channel != "card" {
			t.Fatalf("operation %+v, want %s %s", op, k, want[k])
		}
	}
	resp := callKey(t, sb, "wrong", "GET", "/records", nil, nil)
	wantStatus(t, resp, http.StatusUnauthorized)
}

// With WebhookChaosSeed, every event still arrives, each one to three
// times, and some more than once.
func TestWebhookChaosDeliversEachEventOneToThreeTimes(t *testing.T) {
	sb := start(t, Config{WebhookChaosSeed: 7})
	rc := newReceiver(t, 0)
	rc.register(sb, "whsec_c", "wallet")
	const n = 12
	for i := range n {
		var p walletPayment
		call(t, sb, "POST", "/wallet/payments", walletRequest{IdempotencyKey: fmt.Sprint("chaos-", i), MerchantReference: "pay_c",
			Amount: 100, Currency: "CNY", ReturnURL: "http://shop.example/r"}, &p)
		click(t, p.Action.URL, url.Values{"action": {"approve"}})
	}
	time.Sleep(3 * time.Second) // every copy is sent within 2 s of its delivery
	rc.mu.Lock()
	defer rc.mu.Unlock()
	perEvent := map[string]int{}
	for _, g := range rc.got {
		perEvent[g.event.ID]++
	}
	if len(perEvent) != n {
		t.Fatalf("%d distinct events arrived, want %d", len(perEvent), n)
	}
	extra := 0
	for id, k := range perEvent {
		if k < 1 || k > 3 {
			t.Fatalf("event %s arrived %d times", id, k)
		}
		extra += k - 1
	}
	if extra == 0 {
		t.Fatal("no event arrived twice")
	}
}
