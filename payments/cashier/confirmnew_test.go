package cashier_test

import (
	"context"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestConfirmNewInsertsThePaymentAfterItsClaim: a payment the caller has not
// stored is inserted by the attempt transaction, after the caller's claim
// and already processing, then runs the pipeline as any other; a claim that
// refuses leaves nothing behind and calls no connector.
func TestConfirmNewInsertsThePaymentAfterItsClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		unsaved := func() *ent.Payment {
			return &ent.Payment{ID: pulid.New("pay"), MerchantID: w.merchant.ID, Amount: 10_000, Currency: "USD",
				MerchantReference: "order-9", Metadata: map[string]string{"cart": "c-9"}}
		}
		claimed := 0
		p, err := w.svc.ConfirmNew(w.sys, cashier.NewPayment{Payment: unsaved(), Claim: func(ctx context.Context, tx *ent.Tx) error {
			claimed++
			// Inside the attempt transaction, before the payment exists.
			if n := tx.Payment.Query().CountX(ctx); n != 0 {
				t.Errorf("the payment was stored before its claim (%d payments)", n)
			}
			return nil
		}}, card(approveCard), "k-new")
		if err != nil || claimed != 1 {
			t.Fatalf("confirm new: %v (claimed %d times)", err, claimed)
		}
		if p.Status != payment.StatusSUCCEEDED || p.AmountCaptured != 10_000 || p.MerchantReference != "order-9" ||
			p.Metadata["cart"] != "c-9" || p.CaptureMethod != payment.CaptureMethodAUTOMATIC || p.PaymentMethodType != "card" {
			t.Fatalf("payment = %+v", p)
		}
		if as := w.attempts(p); len(as) != 1 || as[0].Status != paymentattempt.StatusCAPTURED {
			t.Fatalf("attempts = %+v", as)
		}
		if got := w.balance(w.pending()); got != 9_680 {
			t.Fatalf("merchant pending = %d, want 9680", got)
		}
		w.balanced()

		refused := unsaved()
		_, err = w.svc.ConfirmNew(w.sys, cashier.NewPayment{Payment: refused, Claim: func(context.Context, *ent.Tx) error {
			return payments.Errorf(payments.ECONFLICT, "taken")
		}}, card(approveCard), "k-refused")
		if payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("refused claim: %v, want ECONFLICT", err)
		}
		if n := db.Client.Payment.Query().Where(payment.ID(refused.ID)).CountX(w.sys); n != 0 {
			t.Fatal("a refused claim stored its payment")
		}
		if w.a.charges() != 1 {
			t.Fatalf("%d charges at the channel, want 1", w.a.charges())
		}
	})
}
