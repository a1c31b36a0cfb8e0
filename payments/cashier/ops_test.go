package cashier_test

import (
	"fmt"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/refundstatus"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

func ptr(v int64) *money.Amount { return &money.Amount{Minor: v, Currency: usd} }

func TestPartialCaptureThenPartialRefundsUpToCaptured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(10_000, payment.CaptureMethodMANUAL), approveCard, "")
		if _, err := w.svc.Capture(w.ctx, p.ID, ptr(10_001)); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("capture above the authorization: %v", err)
		}
		p, err := w.svc.Capture(w.ctx, p.ID, ptr(8_000))
		if err != nil {
			t.Fatal(err)
		}
		// acq_a: 30 + ⌈8000 × 2.9 %⌉ = 262.
		if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 8_000 || p.AmountCapturable != 0 || p.FeeAmount != 262 {
			t.Fatalf("captured: %s %d/%d fee %d", p.Status, p.AmountCaptured, p.AmountCapturable, p.FeeAmount)
		}
		if got := w.balance(w.pending()); got != 8_000-262 {
			t.Fatalf("pending = %d", got)
		}
		// A repeated capture is a no-op.
		if again, err := w.svc.Capture(w.ctx, p.ID, ptr(8_000)); err != nil || again.AmountCaptured != 8_000 {
			t.Fatalf("repeat capture: %v", err)
		}
		r1, err := w.svc.Refund(w.ctx, p.ID, ptr(3_000), "damaged", "r1")
		if err != nil || r1.Status != refundstatus.Succeeded {
			t.Fatalf("refund 1: %v %v", r1, err)
		}
		if again, err := w.svc.Refund(w.ctx, p.ID, ptr(3_000), "damaged", "r1"); err != nil || again.ID != r1.ID {
			t.Fatalf("repeated refund key: %v", err)
		}
		if _, err := w.svc.Refund(w.ctx, p.ID, ptr(10), "", "r1"); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("key reused for another amount: %v", err)
		}
		if _, err := w.svc.Refund(w.ctx, p.ID, ptr(5_001), "", "r2"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("refund above what is left: %v", err)
		}
		r2, err := w.svc.Refund(w.ctx, p.ID, nil, "rest", "r3")
		if err != nil || r2.Amount != 5_000 {
			t.Fatalf("refund the rest: %v %v", r2, err)
		}
		// Refunds returned the whole fee, and the merchant's pending is back to zero.
		if r1.FeeReversed+r2.FeeReversed != 262 || w.balance(w.pending()) != 0 ||
			w.balance(ledger.PlatformAccount(ledger.KindFees, usd)) != 0 || w.balance(ledger.ChannelAccount("acq_a", usd)) != 0 {
			t.Fatalf("fees reversed %d+%d; pending %d", r1.FeeReversed, r2.FeeReversed, w.balance(w.pending()))
		}
		p, _ = w.svc.Payment(w.ctx, p.ID)
		if p.AmountRefunded != 8_000 {
			t.Fatalf("refunded = %d", p.AmountRefunded)
		}
		if _, err := w.svc.Refund(w.ctx, p.ID, ptr(1), "", "r4"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("refund after full refund: %v", err)
		}
		w.balanced()
	})
}

func TestOperationsInTheWrongStateConflictAndMoveNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		// Refund of an authorization that was never captured.
		held := w.confirm(w.pay(1_000, payment.CaptureMethodMANUAL), approveCard, "")
		if _, err := w.svc.Refund(w.ctx, held.ID, nil, "", "k"); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("refund uncaptured: %v", err)
		}
		canceled, err := w.svc.Cancel(w.ctx, held.ID)
		if err != nil || canceled.Status != paymentstatus.Canceled || canceled.AmountCapturable != 0 {
			t.Fatalf("cancel: %v %v", canceled, err)
		}
		if _, err := w.svc.Capture(w.ctx, held.ID, nil); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("capture canceled: %v", err)
		}
		if again, err := w.svc.Cancel(w.ctx, held.ID); err != nil || again.Status != paymentstatus.Canceled {
			t.Fatalf("cancel twice: %v", err)
		}
		// Cancel of a succeeded payment.
		sold := w.confirm(w.pay(1_000, ""), approveCard, "")
		if _, err := w.svc.Cancel(w.ctx, sold.ID); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("cancel succeeded: %v", err)
		}
		if _, err := w.svc.Capture(w.ctx, sold.ID, ptr(1)); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("capture succeeded with another amount: %v", err)
		}
		// An expired authorization.
		late := w.confirm(w.pay(1_000, payment.CaptureMethodMANUAL), approveCard, "")
		w.clock.Add(8 * 24 * time.Hour)
		if _, err := w.svc.Capture(w.ctx, late.ID, nil); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("capture after the window: %v", err)
		}
		if got := w.balance(w.pending()); got != 1_000-59 {
			t.Fatalf("pending = %d: only the sale may have posted", got)
		}
		w.balanced()
	})
}

func TestAnotherMerchantsPaymentIsNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(1_000, ""), approveCard, "")
		other := newWorldSameDB(t, w)
		for name, op := range map[string]func() error{
			"capture": func() error { _, err := w.svc.Capture(other, p.ID, nil); return err },
			"cancel":  func() error { _, err := w.svc.Cancel(other, p.ID); return err },
			"refund":  func() error { _, err := w.svc.Refund(other, p.ID, nil, "", "k"); return err },
		} {
			if err := op(); payments.ErrorCode(err) != payments.ENOTFOUND {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestConcurrentRefundsNeverExceedCaptured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(10_000, ""), approveCard, "")
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, refused int
		var total int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := w.svc.Refund(w.ctx, p.ID, ptr(1_500), "", fmt.Sprintf("c%d", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
					total += r.Amount
				case payments.ErrorCode(err) == payments.EINVALID:
					refused++
				default:
					t.Errorf("refund %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		// 6 × 1500 = 9000 fit in 10000; a seventh would not.
		if ok != 6 || refused != n-6 || total != 9_000 {
			t.Fatalf("%d refunds (%d) and %d refused", ok, total, refused)
		}
		p, _ = w.svc.Payment(w.ctx, p.ID)
		if p.AmountRefunded != 9_000 {
			t.Fatalf("refunded %d", p.AmountRefunded)
		}
		w.balanced()
	})
}

func TestRefusedRefundIsReversedInTheLedger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(10_000, ""), approveCard, "")
		pending := w.balance(w.pending())
		w.a.refund = func(connectors.RefundRequest) connectors.Result {
			return connectors.Declined(connectors.DeclineHard, "refund_window_closed", "")
		}
		r, err := w.svc.Refund(w.ctx, p.ID, ptr(4_000), "", "x")
		if err != nil || r.Status != refundstatus.Failed || r.FailureCode != "" && r.FailureCode != "refund_window_closed" {
			t.Fatalf("refused refund: %+v %v", r, err)
		}
		if got := w.balance(w.pending()); got != pending {
			t.Fatalf("pending %d after a reversed refund, want %d", got, pending)
		}
		p, _ = w.svc.Payment(w.ctx, p.ID)
		if p.AmountRefunded != 0 {
			t.Fatalf("refunded %d", p.AmountRefunded)
		}
		// The full amount is refundable again.
		w.a.refund = nil
		if r, err := w.svc.Refund(w.ctx, p.ID, nil, "", "y"); err != nil || r.Amount != 10_000 {
			t.Fatalf("refund after a refused one: %v %v", r, err)
		}
		w.balanced()
	})
}

// TestConcurrentOperationsOfManyPaymentsShareTransactions captures many
// payments at once and refunds others past what they captured, so that the
// operation step's batches mix captures with refunds its plan refuses. Every
// capture lands as it would alone, each payment keeps exactly the refunds
// that fit (a refusal answers only its own refund: its batch's others run
// again alone), the ledger balances, and the step ran fewer transactions
// than operations.
func TestConcurrentOperationsOfManyPaymentsShareTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		const n = 16
		held := make([]string, n)
		paid := make([]string, n)
		for i := range n {
			held[i] = w.confirm(w.pay(int64(2_000+i), payment.CaptureMethodMANUAL), approveCard, "").ID
			paid[i] = w.confirm(w.pay(10_000, ""), approveCard, "").ID
		}
		before := w.svc.BatchStats()["operation"]
		var wg sync.WaitGroup
		var mu sync.Mutex
		refunded := map[string]int64{}
		for i := range n {
			wg.Go(func() {
				p, err := w.svc.Capture(w.ctx, held[i], nil)
				if err != nil || p.Status != paymentstatus.Succeeded || p.AmountCaptured != int64(2_000+i) {
					t.Errorf("capture %d: %v, %v", i, p, err)
				}
			})
			for j := range 3 {
				// 2 × 4000 fit in 10000; a third does not.
				wg.Go(func() {
					r, err := w.svc.Refund(w.ctx, paid[i], ptr(4_000), "", fmt.Sprintf("r%d-%d", i, j))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						refunded[paid[i]] += r.Amount
					case payments.ErrorCode(err) != payments.EINVALID:
						t.Errorf("refund %d/%d: %v", i, j, err)
					}
				})
			}
		}
		wg.Wait()
		for i := range n {
			p, err := w.svc.Payment(w.ctx, paid[i])
			if err != nil || refunded[paid[i]] != 8_000 || p.AmountRefunded != 8_000 {
				t.Fatalf("payment %d: refunded %d, stored %v (%v)", i, refunded[paid[i]], p, err)
			}
			if p, _ := w.svc.Payment(w.ctx, held[i]); p.AmountCaptured != int64(2_000+i) {
				t.Fatalf("held payment %d captured %d", i, p.AmountCaptured)
			}
		}
		w.balanced()
		after := w.svc.BatchStats()["operation"]
		if ops := after.Requests - before.Requests; ops < 4*n || after.Batches-before.Batches >= ops {
			t.Fatalf("%d operation batches for %d operations: none shared", after.Batches-before.Batches, ops)
		}
	})
}
