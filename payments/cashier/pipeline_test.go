package cashier_test

import (
	"encoding/json"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"slices"
	"sync"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

func TestApprovedSaleCapturesAndPostsOnceWithTheFee(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(10_000, ""), approveCard, "k1")
		if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 10_000 || p.Connector != "acq_a" {
			t.Fatalf("payment = %s captured %d via %s", p.Status, p.AmountCaptured, p.Connector)
		}
		// acq_a: 30 + ⌈10000 × 290 / 10000⌉ = 320.
		if p.FeeAmount != 320 {
			t.Fatalf("fee = %d, want 320", p.FeeAmount)
		}
		as := w.attempts(p)
		if len(as) != 1 || as[0].Status != attemptstatus.Captured || as[0].RiskDecision["action"] != "allow" ||
			routeOf(t, as[0]).Chosen != "acq_a" || as[0].ConnectorReference == "" || as[0].NextCheckAt != nil {
			t.Fatalf("attempt = %+v", as[0])
		}
		if got := w.balance(w.pending()); got != 9_680 {
			t.Fatalf("merchant pending = %d, want 9680", got)
		}
		if got := w.balance(ledger.PlatformAccount(ledger.KindFees, usd)); got != 320 {
			t.Fatalf("platform fees = %d", got)
		}
		if got := w.balance(ledger.ChannelAccount("acq_a", usd)); got != -10_000 {
			t.Fatalf("channel receivable = %d", got)
		}
		w.balanced()
		if evs := w.events(p); !slices.Equal(evs, []string{"payment.succeeded", "payment.captured"}) {
			t.Fatalf("events = %v", evs)
		}
		// Confirming again with the same key neither charges nor posts again.
		again, err := w.svc.ConfirmPayment(w.ctx, p.ID, card(approveCard), "k1")
		if payments.ErrorCode(err) != payments.ECONFLICT && (err != nil || again.ID != p.ID) {
			t.Fatalf("replay: %v", err)
		}
		if w.a.charges() != 1 || w.balance(w.pending()) != 9_680 {
			t.Fatalf("replay charged again: %d charges", w.a.charges())
		}
	})
}

func TestManualCaptureHoldsWithoutPosting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		p := w.confirm(w.pay(5_000, payment.CaptureMethodMANUAL), approveCard, "")
		if p.Status != paymentstatus.RequiresCapture || p.AmountCapturable != 5_000 || p.AmountCaptured != 0 || p.CaptureBefore == nil {
			t.Fatalf("payment = %s capturable %d captured %d", p.Status, p.AmountCapturable, p.AmountCaptured)
		}
		if w.a.calls[0].Capture {
			t.Fatal("a manual-capture payment was sent as a sale")
		}
		if got := w.balance(w.pending()); got != 0 {
			t.Fatalf("an authorization posted %d", got)
		}
		if evs := w.events(p); !slices.Equal(evs, []string{"payment.requires_capture"}) {
			t.Fatalf("events = %v", evs)
		}
	})
}

func TestSoftDeclineCascadesOnceWithANewKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		// acq_b approves what acq_a soft-declines.
		delete(w.b.answers, softCard)
		p := w.confirm(w.pay(2_000, ""), softCard, "k1")
		if p.Status != paymentstatus.Succeeded || p.Connector != "acq_b" {
			t.Fatalf("payment = %s via %s", p.Status, p.Connector)
		}
		as := w.attempts(p)
		if len(as) != 2 || as[0].Status != attemptstatus.Declined || *as[0].DeclineType != paymentattempt.DeclineTypeSOFT ||
			as[1].Status != attemptstatus.Captured || as[0].ChannelIdempotencyKey == as[1].ChannelIdempotencyKey {
			t.Fatalf("attempts: %s/%s, %s/%s", as[0].Connector, as[0].Status, as[1].Connector, as[1].Status)
		}
		if attempted := routeOf(t, as[1]).Attempted; len(attempted) != 2 {
			t.Fatalf("second attempt's routing decision: %s", as[1].RoutingDecision)
		}
		// The fee is the capturing connector's: 50 + 70.
		if p.FeeAmount != 120 || w.balance(ledger.ChannelAccount("acq_b", usd)) != -2_000 {
			t.Fatalf("fee %d", p.FeeAmount)
		}
		w.balanced()
	})
}

func TestSoftDeclineTwiceFailsTheAttemptAfterOneCascade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		p := w.confirm(w.pay(2_000, ""), softCard, "")
		if p.Status != paymentstatus.RequiresPaymentMethod || p.FailureCode != "insufficient_funds" {
			t.Fatalf("payment = %s (%s)", p.Status, p.FailureCode)
		}
		if n := len(w.attempts(p)); n != 2 {
			t.Fatalf("%d attempts, want 2 (one cascade)", n)
		}
		if evs := w.events(p); !slices.Equal(evs, []string{"payment.failed"}) {
			t.Fatalf("events = %v", evs)
		}
	})
}

func TestHardDeclineNeverCascades(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		p := w.confirm(w.pay(2_000, ""), hardCard, "")
		if p.Status != paymentstatus.RequiresPaymentMethod || p.FailureCode != "stolen_card" || len(w.b.calls) != 0 {
			t.Fatalf("payment = %s (%s), acq_b calls %d", p.Status, p.FailureCode, len(w.b.calls))
		}
		// The buyer may try another card.
		p = w.confirm(p, approveCard, "")
		if p.Status != paymentstatus.Succeeded {
			t.Fatalf("second confirmation: %s", p.Status)
		}
	})
}

func TestUnknownOutcomeStaysProcessingAndNeverCascades(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		p := w.confirm(w.pay(2_000, ""), unknownCard, "")
		as := w.attempts(p)
		if p.Status != paymentstatus.Processing || len(as) != 1 || as[0].Status != attemptstatus.Unknown ||
			as[0].NextCheckAt == nil || len(w.b.calls) != 0 {
			t.Fatalf("payment %s, attempts %d (%s), acq_b calls %d", p.Status, len(as), as[0].Status, len(w.b.calls))
		}
		if w.balance(w.pending()) != 0 || len(w.events(p)) != 0 {
			t.Fatal("an unknown outcome moved money or announced something")
		}
		// Confirming a processing payment is refused.
		if _, err := w.svc.ConfirmPayment(w.ctx, p.ID, card(approveCard), ""); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("confirm while processing: %v", err)
		}
	})
}

func TestRiskDenyRecordsTheDecisionAndCallsNoConnector(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		err := w.rules.UpsertRiskRule(risk.Rule{ID: "usd-cap", Kind: risk.AmountLimit, Action: risk.Deny, Enabled: true, Score: 90,
			Params: risk.Params{Currency: usd, MaxMinor: 100_000}})
		if err != nil {
			t.Fatal(err)
		}
		p := w.confirm(w.pay(500_000, ""), approveCard, "")
		as := w.attempts(p)
		if p.Status != paymentstatus.RequiresPaymentMethod || p.FailureCode != "risk_deny" || len(w.a.calls) != 0 ||
			as[0].RiskDecision["action"] != "deny" || as[0].RiskDecision["score"] != float64(90) {
			t.Fatalf("payment %s (%s), calls %d, risk %v", p.Status, p.FailureCode, len(w.a.calls), as[0].RiskDecision)
		}
		if reasons := as[0].RiskDecision["reasons"].([]any); len(reasons) != 1 {
			t.Fatalf("reasons = %v", reasons)
		}
	})
}

func TestBadAmountsAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		for _, minor := range []int64{0, -5, cashier.MaxAmountMinor + 1} {
			_, err := w.svc.CreatePayment(w.ctx, cashier.PaymentInput{Amount: money.Amount{Minor: minor, Currency: usd}})
			if payments.ErrorCode(err) != payments.EINVALID || payments.ErrorField(err) != "amount" {
				t.Errorf("amount %d: %v", minor, err)
			}
		}
		if _, err := w.svc.CreatePayment(w.ctx, cashier.PaymentInput{Amount: money.Amount{Minor: 100}}); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("no currency: %v", err)
		}
	})
}

func TestLargeIDRAmountAboveInt32(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		idr := money.MustCurrency("IDR")
		p, err := w.svc.CreatePayment(w.ctx, cashier.PaymentInput{Amount: money.Amount{Minor: 5_000_000_000_00, Currency: idr}})
		if err != nil {
			t.Fatal(err)
		}
		p = w.confirm(p, approveCard, "")
		if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 5_000_000_000_00 {
			t.Fatalf("payment %s captured %d", p.Status, p.AmountCaptured)
		}
		w.balanced()
	})
}

// TestConcurrentConfirmsOfEveryOutcomeShareRecordBatches confirms payments
// of every outcome at once, so that their record steps share batches that
// mix approvals, cascades, declines, unknown outcomes and next actions. Each
// payment ends exactly as it would alone, the ledger balances, and the
// record step ran fewer batches than results.
func TestConcurrentConfirmsOfEveryOutcomeShareRecordBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		delete(w.b.answers, softCard) // acq_b approves what acq_a soft-declines: a cascade
		want := map[string]paymentstatus.Status{
			approveCard: paymentstatus.Succeeded, softCard: paymentstatus.Succeeded,
			hardCard: paymentstatus.RequiresPaymentMethod, unknownCard: paymentstatus.Processing,
			actionCard: paymentstatus.RequiresAction,
		}
		cards := []string{approveCard, softCard, hardCard, unknownCard, actionCard}
		const n = 60
		ps := make([]*ent.Payment, n)
		for i := range ps {
			ps[i] = w.pay(int64(1_000+i), "")
		}
		before := w.svc.BatchStats()["record"]
		var wg sync.WaitGroup
		got := make([]*ent.Payment, n)
		errs := make([]error, n)
		for i := range ps {
			wg.Go(func() {
				got[i], errs[i] = w.svc.ConfirmPayment(w.ctx, ps[i].ID, card(cards[i%len(cards)]), fmt.Sprintf("k%d", i))
			})
		}
		wg.Wait()
		var captured int64
		for i, p := range got {
			c := cards[i%len(cards)]
			if errs[i] != nil || p.Status != want[c] {
				t.Fatalf("payment %d (%s): %v, %v; want %s", i, c, p, errs[i], want[c])
			}
			stored := db.Client.Payment.GetX(w.sys, p.ID)
			if stored.Status != p.Status || stored.AmountCaptured != p.AmountCaptured || stored.Connector != p.Connector {
				t.Fatalf("payment %d: answered %s/%d/%s, stored %s/%d/%s", i, p.Status, p.AmountCaptured, p.Connector,
					stored.Status, stored.AmountCaptured, stored.Connector)
			}
			if p.Status == paymentstatus.Succeeded {
				captured += p.AmountCaptured
				if evs := w.events(p); !slices.Equal(evs, []string{"payment.succeeded", "payment.captured"}) {
					t.Fatalf("payment %d events %v", i, evs)
				}
			}
			if c == softCard && (len(w.attempts(p)) != 2 || p.Connector != "acq_b") {
				t.Fatalf("payment %d did not cascade once to acq_b", i)
			}
		}
		if got := w.balance(ledger.ChannelAccount("acq_a", usd)) + w.balance(ledger.ChannelAccount("acq_b", usd)); -got != captured {
			t.Fatalf("channels owe %d, captured %d", -got, captured)
		}
		w.balanced()
		after := w.svc.BatchStats()["record"]
		if results := after.Requests - before.Requests; results < n || after.Batches-before.Batches >= results {
			t.Fatalf("%d record batches for %d results: none shared", after.Batches-before.Batches, results)
		}
	})
}

// routeOf decodes the routing decision stored on an attempt.
func routeOf(t *testing.T, a *ent.PaymentAttempt) routing.Decision {
	t.Helper()
	var d routing.Decision
	if err := json.Unmarshal(a.RoutingDecision, &d); err != nil {
		t.Fatalf("attempt %s routing decision %s: %v", a.ID, a.RoutingDecision, err)
	}
	return d
}
