package cashier_test

import (
	"context"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// claims is a SessionHooks that records its calls and refuses the sessions
// it is told to.
type claims struct {
	t       *testing.T
	mu      sync.Mutex
	claimed []string
	refuse  map[string]bool
}

func (c *claims) Claim(ctx context.Context, tx *ent.Tx, ids []string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.claimed = append(c.claimed, id)
		// Inside the attempt transaction, before the payment exists.
		if n := tx.Payment.Query().Where(payment.CheckoutSessionID(id)).CountX(ctx); n != 0 {
			c.t.Errorf("session %s: the payment was stored before its claim", id)
		}
		if c.refuse[id] {
			return nil, payments.Errorf(payments.ECONFLICT, "session %s is taken", id)
		}
	}
	return nil, nil
}

func (c *claims) Reserve(context.Context, *ent.Tx, []cashier.Reservation) error { return nil }
func (c *claims) Settle(context.Context, *ent.Tx, *ent.Client, []cashier.Settlement) error {
	return nil
}

// TestConfirmNewInsertsThePaymentAfterItsClaim: a payment the caller has not
// stored is inserted by the attempt transaction, after its session's claim
// and already processing, then runs the pipeline as any other; a claim that
// refuses leaves nothing behind and calls no connector, and refuses only its
// own payment when it shares a transaction with others.
func TestConfirmNewInsertsThePaymentAfterItsClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		hooks := &claims{t: t, refuse: map[string]bool{}}
		cfg := w.cfg
		cfg.Sessions = hooks
		svc := cashier.New(cfg)
		t.Cleanup(svc.Close)
		session := func() string {
			return db.Client.CheckoutSession.Create().SetMerchantID(w.merchant.ID).SetAmount(10_000).SetCurrency("USD").
				SetExpiresAt(time.Now().Add(time.Hour)).SaveX(w.sys).ID
		}
		refusedID := session()
		hooks.refuse[refusedID] = true
		unsaved := func(session string) *ent.Payment {
			return &ent.Payment{ID: pulid.New("pay"), MerchantID: w.merchant.ID, Amount: 10_000, Currency: "USD",
				CheckoutSessionID: session, MerchantReference: "order-9", Metadata: map[string]string{"cart": "c-9"}}
		}
		p, err := svc.ConfirmNew(w.sys, cashier.NewPayment{Payment: unsaved(session())}, card(approveCard), "k-new")
		if err != nil || len(hooks.claimed) != 1 {
			t.Fatalf("confirm new: %v (claimed %v)", err, hooks.claimed)
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
		_, err = svc.ConfirmNew(w.sys, cashier.NewPayment{Payment: refused}, card(approveCard), "k-refused")
		if payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("refused claim: %v, want ECONFLICT", err)
		}
		if n := db.Client.Payment.Query().Where(payment.ID(refused.ID)).CountX(w.sys); n != 0 {
			t.Fatal("a refused claim stored its payment")
		}
		if w.a.charges() != 1 {
			t.Fatalf("%d charges at the channel, want 1", w.a.charges())
		}

		// Many at once share attempt transactions; the refused one among
		// them fails alone.
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
				_, errs[i] = svc.ConfirmNew(w.sys, cashier.NewPayment{Payment: unsaved(id)}, card(approveCard), pulid.New("k"))
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
