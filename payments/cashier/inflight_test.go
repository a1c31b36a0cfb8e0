package cashier_test

// Captures and voids whose answer is lost, against the real cardnet plugin
// and the sandbox card network: the janitor records what the network did,
// or sends the operation again under its key when it never arrived.

import (
	"context"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// lostOperations reaches the plugins through the host, but the answer of
// the first capture and the first void is lost on the way back: that
// operation reached the channel (reach) or not. Later ones go through.
type lostOperations struct {
	conns         cashier.Connectors
	reach         bool
	capture, void *atomic.Bool
}

func loseFirstOperations(conns cashier.Connectors, reach bool) lostOperations {
	return lostOperations{conns: conns, reach: reach, capture: new(atomic.Bool), void: new(atomic.Bool)}
}

func (l lostOperations) Get(name string) (connectors.Connector, bool) {
	c, ok := l.conns.Get(name)
	return lostOperation{Connector: c, lostOperations: l}, ok
}

type lostOperation struct {
	connectors.Connector
	lostOperations
}

var errReset = connectors.Errorf(connectors.EUNKNOWN, "connection reset")

func (l lostOperation) Capture(ctx context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	if l.capture.Swap(true) {
		return l.Connector.Capture(ctx, r)
	}
	if l.reach {
		if _, err := l.Connector.Capture(ctx, r); err != nil {
			return connectors.OperationResponse{}, err
		}
	}
	return connectors.OperationResponse{Result: connectors.Unknown("connection reset")}, errReset
}

func (l lostOperation) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	if l.void.Swap(true) {
		return l.Connector.Void(ctx, r)
	}
	if l.reach {
		if _, err := l.Connector.Void(ctx, r); err != nil {
			return connectors.OperationResponse{}, err
		}
	}
	return connectors.OperationResponse{Result: connectors.Unknown("connection reset")}, errReset
}

// captureEntries counts the ledger entries of p's capture.
func (w *world) captureEntries(p *ent.Payment) int {
	w.t.Helper()
	n, err := w.db.Client.JournalEntry.Query().
		Where(journalentry.SourceType(ledger.SourceCapture), journalentry.SourceID(p.ID)).Count(w.sys)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// settle advances the clock past the janitor's first backoff step and
// sweeps, until p leaves requires_capture (or 20 sweeps).
func (w *world) settle(p *ent.Payment) *ent.Payment {
	w.t.Helper()
	for i := 0; i < 20; i++ {
		w.clock.Add(2 * time.Minute)
		if _, err := w.svc.Sweep(w.sys); err != nil {
			w.t.Fatal(err)
		}
		var err error
		if p, err = w.svc.Payment(w.ctx, p.ID); err != nil {
			w.t.Fatal(err)
		}
		if p.Status != paymentstatus.RequiresCapture {
			break
		}
	}
	return p
}

// TestCaptureOrVoidWhoseAnswerIsLost: a capture or void whose answer is
// lost answers EUNAVAILABLE and stays in flight on its attempt; the janitor
// then records what the network did (the capture that reached it, for the
// amount captured, with one ledger entry), or sends the operation that
// never arrived again under its key. A merchant's repeat afterwards moves
// no money: naming the captured amount returns the payment, capturing "all"
// of a captured payment is ECONFLICT, canceling a canceled one returns it.
func TestCaptureOrVoidWhoseAnswerIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "cardnet=cardnet")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, reached := range []bool{true, false} {
			name := map[bool]string{true: "it reached the network", false: "it never arrived"}[reached]
			t.Run("capture: "+name, func(t *testing.T) {
				w := cardWorldVia(t, db, n, loseFirstOperations(n.Host, reached), 5*time.Second)
				p := w.confirm(w.pay(3_400, payment.CaptureMethodMANUAL), "4242424242424242", "")
				if p.Status != paymentstatus.RequiresCapture {
					t.Fatalf("payment %s", p.Status)
				}
				a := w.attempts(p)[0]
				part := &money.Amount{Minor: 2_000, Currency: usd}
				if _, err := w.svc.Capture(w.ctx, p.ID, part); payments.ErrorCode(err) != payments.EUNAVAILABLE {
					t.Fatalf("capture with its answer lost: %v", err)
				}
				a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID)
				if a.Status != attemptstatus.Authorized || a.Operation == nil || *a.Operation != paymentattempt.OperationCAPTURE ||
					a.OperationAmount != 2_000 || a.NextCheckAt == nil {
					t.Fatalf("attempt %s, operation %v %d, next check %v", a.Status, a.Operation, a.OperationAmount, a.NextCheckAt)
				}
				if p = w.settle(p); p.Status != paymentstatus.Succeeded || p.AmountCaptured != 2_000 || p.AmountCapturable != 0 {
					t.Fatalf("resolved to %s, captured %d, capturable %d", p.Status, p.AmountCaptured, p.AmountCapturable)
				}
				a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID)
				if a.Status != attemptstatus.Captured || a.Operation != nil || a.NextCheckAt != nil {
					t.Fatalf("attempt %s, operation %v, next check %v", a.Status, a.Operation, a.NextCheckAt)
				}
				// The merchant repeats the capture: no money moves.
				if again, err := w.svc.Capture(w.ctx, p.ID, part); err != nil || again.AmountCaptured != 2_000 {
					t.Fatalf("repeated capture of 2,000: %v", err)
				}
				if _, err := w.svc.Capture(w.ctx, p.ID, nil); payments.ErrorCode(err) != payments.ECONFLICT {
					t.Fatalf("capture of all of a captured payment: %v", err)
				}
				if at := networkCard(t, n, a.ID); at.State != "captured" || at.CapturedAmount != 2_000 {
					t.Fatalf("the network holds %+v", at)
				}
				if got := w.captureEntries(p); got != 1 {
					t.Fatalf("%d capture entries", got)
				}
				if got := w.balance(w.pending()); got <= 0 || got > 2_000 {
					t.Fatalf("merchant pending %d", got)
				}
				w.balanced()
			})
			t.Run("void: "+name, func(t *testing.T) {
				w := cardWorldVia(t, db, n, loseFirstOperations(n.Host, reached), 5*time.Second)
				p := w.confirm(w.pay(2_600, payment.CaptureMethodMANUAL), "4242424242424242", "")
				a := w.attempts(p)[0]
				if _, err := w.svc.Cancel(w.ctx, p.ID); payments.ErrorCode(err) != payments.EUNAVAILABLE {
					t.Fatalf("cancel with its answer lost: %v", err)
				}
				if p = w.settle(p); p.Status != paymentstatus.Canceled || p.AmountCapturable != 0 {
					t.Fatalf("resolved to %s", p.Status)
				}
				if a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID); a.Status != attemptstatus.Voided || a.Operation != nil {
					t.Fatalf("attempt %s, operation %v", a.Status, a.Operation)
				}
				if again, err := w.svc.Cancel(w.ctx, p.ID); err != nil || again.Status != paymentstatus.Canceled {
					t.Fatalf("repeated cancel: %v", err)
				}
				if at := networkCard(t, n, a.ID); at.State != "voided" {
					t.Fatalf("the network holds %+v", at)
				}
				if got := w.captureEntries(p); got != 0 {
					t.Fatalf("%d capture entries", got)
				}
				w.balanced()
			})
		}
		t.Run("the merchant repeats a lost capture before the janitor", func(t *testing.T) {
			w := cardWorldVia(t, db, n, loseFirstOperations(n.Host, true), 5*time.Second)
			p := w.confirm(w.pay(2_200, payment.CaptureMethodMANUAL), "4242424242424242", "")
			if _, err := w.svc.Capture(w.ctx, p.ID, nil); payments.ErrorCode(err) != payments.EUNAVAILABLE {
				t.Fatalf("capture with its answer lost: %v", err)
			}
			p, err := w.svc.Capture(w.ctx, p.ID, nil) // the same capture: a replay at the network
			if err != nil || p.Status != paymentstatus.Succeeded || p.AmountCaptured != 2_200 {
				t.Fatalf("repeated capture: %v", err)
			}
			a := w.attempts(p)[0]
			if a.Status != attemptstatus.Captured || a.Operation != nil || a.NextCheckAt != nil {
				t.Fatalf("attempt %s, operation %v, next check %v", a.Status, a.Operation, a.NextCheckAt)
			}
			w.clock.Add(2 * time.Minute)
			if n, err := w.svc.Sweep(w.sys); err != nil || n != 0 {
				t.Fatalf("the janitor found %d to check: %v", n, err)
			}
			if got := w.captureEntries(p); got != 1 || networkCard(t, n, a.ID).CapturedAmount != 2_200 {
				t.Fatalf("%d capture entries, the network holds %+v", got, networkCard(t, n, a.ID))
			}
			w.balanced()
		})
		t.Run("a capture after a lost void finds the payment voided", func(t *testing.T) {
			lost := loseFirstOperations(n.Host, true)
			lost.capture.Store(true) // only the void's answer is lost
			w := cardWorldVia(t, db, n, lost, 5*time.Second)
			p := w.confirm(w.pay(1_800, payment.CaptureMethodMANUAL), "4242424242424242", "")
			if _, err := w.svc.Cancel(w.ctx, p.ID); payments.ErrorCode(err) != payments.EUNAVAILABLE {
				t.Fatalf("cancel with its answer lost: %v", err)
			}
			if _, err := w.svc.Capture(w.ctx, p.ID, nil); payments.ErrorCode(err) != payments.ECONFLICT {
				t.Fatalf("capture of a voided payment: %v", err)
			}
			if p, _ = w.svc.Payment(w.ctx, p.ID); p.Status != paymentstatus.Canceled {
				t.Fatalf("after the refused capture the payment is %s", p.Status)
			}
			w.balanced()
		})
	})
}
