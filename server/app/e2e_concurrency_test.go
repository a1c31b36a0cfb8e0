package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestConcurrentConfirmsWithOneKeyChargeOnce sends 50 confirmCheckoutSession
// requests at once, from one cashier with one idempotency key. The first
// runs; the others wait for it (it takes milliseconds, far below the 10 s
// a duplicate waits) and get its answer replayed: all 50 responses are 200
// and byte-identical, 49 of them marked Idempotent-Replayed. The session has
// one payment with one attempt, and the card network one charge.
func TestConcurrentConfirmsWithOneKeyChargeOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		s := x.open(t, map[string]any{"amount": amountOf(5000, "SGD")})
		tok := x.tokenize(t, s, "4242424242424242", cvc3)
		before := x.counts(t)

		const n = 50
		type answer struct {
			status         int
			replayed, body string
		}
		answers := make([]answer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, replayed, body := x.rawGQL(s.Cashier, confirmMutation,
					map[string]any{"in": map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "pay-once"}})
				answers[i] = answer{status, replayed, body}
			}()
		}
		close(start)
		wg.Wait()

		replays := 0
		for i, a := range answers {
			if a.status != http.StatusOK || a.body != answers[0].body {
				t.Fatalf("answer %d: %d %s\nfirst: %s", i, a.status, a.body, answers[0].body)
			}
			if a.replayed == "true" {
				replays++
			}
		}
		if replays != n-1 {
			t.Fatalf("%d replayed answers, want %d", replays, n-1)
		}
		var r gqlResponse
		if err := json.Unmarshal([]byte(answers[0].body), &r); err != nil {
			t.Fatal(err)
		}
		var p payView
		x.ok(t, r, "confirmCheckoutSession", &p)
		if p.Status != "SUCCEEDED" {
			t.Fatalf("payment %+v", p)
		}
		sys := viewer.SystemContext(context.Background())
		if k := db.Client.Payment.Query().Where(payment.CheckoutSessionID(s.ID)).CountX(sys); k != 1 {
			t.Fatalf("the session has %d payments", k)
		}
		as := x.payment(t, p.ID).attempts()
		if len(as) != 1 || len(cardPaymentsAt(t, x.sb.URL(), as[0].ID)) != 1 {
			t.Fatalf("attempts %+v", as)
		}
		after := x.counts(t)
		if after.Payments != before.Payments+1 || after.Attempts != before.Attempts+1 || after.Settled != before.Settled+1 {
			t.Fatalf("50 confirms made %+v from %+v, want one payment, one attempt, one charge", after, before)
		}
		x.balanced(t)
	})
}
