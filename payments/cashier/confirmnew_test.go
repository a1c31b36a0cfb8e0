package cashier_test

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestConfirmNewInsertsThePaymentAfterItsClaim: a new payment the caller has not
// stored is inserted by the caller's transaction (Begin), after its session's
// claim and already processing, then runs the pipeline as any other and
// completes its session; a claim that refuses (the session has a payment in
// flight already) rolls the transaction back, which leaves nothing behind:
// Confirm refuses the payment nobody began and calls no connector, and only
// that payment is refused among many at once. (The checkout's confirm step
// claims sessions so: server/app TestConcurrentConfirmsOfOneSessionMakeOnePayment.)
func TestConfirmNewInsertsThePaymentAfterItsClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		svc := cashier.New(w.cfg)
		t.Cleanup(svc.Close)
		session := func() string {
			return db.Client.CheckoutSession.Create().SetMerchantID(w.merchant.ID).SetAmount(10_000).SetCurrency("USD").
				SetExpiresAt(time.Now().Add(time.Hour)).SaveX(w.sys).ID
		}
		refusedID := session()
		// Another confirm's payment, in flight: the session is taken.
		db.Client.Payment.Create().SetMerchantID(w.merchant.ID).SetAmount(10_000).SetCurrency("USD").
			SetCheckoutSessionID(refusedID).SetStatus(paymentstatus.Processing).SaveX(w.sys)
		unsaved := func(session string) *ent.Payment {
			return &ent.Payment{ID: pulid.New("pay"), MerchantID: w.merchant.ID, Amount: 10_000, Currency: "USD",
				CheckoutSessionID: session, MerchantReference: "order-9", Metadata: map[string]string{"cart": "c-9"}}
		}
		paid := session()
		p, err := confirmNew(w.sys, svc, db, unsaved(paid), card(approveCard), "k-new")
		if err != nil {
			t.Fatalf("confirm new: %v", err)
		}
		if sess := db.Client.CheckoutSession.GetX(w.sys, paid); sess.Status != sessionstatus.Complete {
			t.Fatalf("session %s after its payment succeeded", sess.Status)
		}
		if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 10_000 || p.MerchantReference != "order-9" ||
			p.Metadata["cart"] != "c-9" || p.CaptureMethod != payment.CaptureMethodAUTOMATIC || p.PaymentMethodType != "card" {
			t.Fatalf("payment = %+v", p)
		}
		if as := w.attempts(p); len(as) != 1 || as[0].Status != attemptstatus.Captured {
			t.Fatalf("attempts = %+v", as)
		}
		if got := w.balance(w.pending()); got != 9_680 {
			t.Fatalf("merchant pending = %d, want 9680", got)
		}
		w.balanced()

		refused := unsaved(refusedID)
		_, err = confirmNew(w.sys, svc, db, refused, card(approveCard), "k-refused")
		if payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("refused claim: %v, want ECONFLICT", err)
		}
		if n := db.Client.Payment.Query().Where(payment.ID(refused.ID)).CountX(w.sys); n != 0 {
			t.Fatal("a refused claim stored its payment")
		}
		if w.a.charges() != 1 {
			t.Fatalf("%d charges at the channel, want 1", w.a.charges())
		}

		// Many at once; the refused one among them fails alone.
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := session()
				if i == 7 {
					id = refusedID
				}
				_, errs[i] = confirmNew(w.sys, svc, db, unsaved(id), card(approveCard), pulid.New("k"))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if want := i == 7; (payments.ErrorCode(err) == payments.ECONFLICT) != want || (!want && err != nil) {
				t.Fatalf("confirm %d: %v", i, err)
			}
		}
		if w.a.charges() != 20 {
			t.Fatalf("%d charges at the channel, want 20", w.a.charges())
		}
		w.balanced()
	})
}

// confirmNew confirms a new payment of a checkout session as the checkout's
// confirm step does: decided (Prepare), then written (Begin) in a
// transaction that claimed its session (locked it, and found no payment in
// flight: else ECONFLICT, and the transaction rolls back), then run
// (Confirm).
func confirmNew(ctx context.Context, svc *cashier.Service, db *store.DB, p *ent.Payment, pm cashier.PaymentMethod, key string) (*ent.Payment, error) {
	prep, err := svc.Prepare(ctx, p, pm, key)
	if err != nil {
		return nil, err
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	q := tx.CheckoutSession.Query().Where(checkoutsession.ID(p.CheckoutSessionID))
	if db.Dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	if _, err := q.Only(ctx); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	busy, err := tx.Payment.Query().Where(payment.CheckoutSessionID(p.CheckoutSessionID),
		payment.StatusNotIn(paymentstatus.Failed, paymentstatus.Canceled)).Exist(ctx)
	if err == nil && busy {
		err = payments.Errorf(payments.ECONFLICT, "checkout session %s already has a payment", p.CheckoutSessionID)
	}
	if err == nil {
		err = svc.Begin(ctx, tx, []*cashier.Prepared{prep}, nil, true)
	}
	if err != nil {
		_ = tx.Rollback()
		if _, cerr := svc.Confirm(ctx, prep); cerr == nil {
			return nil, fmt.Errorf("a payment whose transaction rolled back was confirmed")
		}
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return svc.Confirm(ctx, prep)
}
