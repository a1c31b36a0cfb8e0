package cashier

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/refundstatus"
)

// The record step's decision (plan) is a function of the rows read under
// the payment's lock and the result: these tests call it with rows built in
// memory and no database, and look at the writes it returns.

var planNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func planService() *Service {
	now := func() time.Time { return planNow }
	return New(Config{NoBatching: true, Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Risk: risk.NewEngine(rulebook.NewMem().RiskRules(), risk.NewMemCounters(now), now)})
}

func planRows(ps paymentstatus.Status, as attemptstatus.Status) (*ent.Payment, *ent.PaymentAttempt) {
	p := &ent.Payment{ID: "pay_1", MerchantID: "mer_1", Amount: 10_000, Currency: "USD", Status: ps,
		CaptureMethod: payment.CaptureMethodAUTOMATIC, CheckoutSessionID: "cs_1", Connector: "cardnet"}
	a := &ent.PaymentAttempt{ID: "att_1", PaymentID: p.ID, MerchantID: p.MerchantID, Connector: "cardnet",
		Amount: p.Amount, Currency: p.Currency, Status: as, Capture: true, ChannelIdempotencyKey: "ck_1",
		RiskDecision: map[string]any{volumeKeysField: []string{"merchant:mer_1"}}}
	return p, a
}

func planCaptureMove() *captureMove {
	return &captureMove{amount: money.Amount{Minor: 10_000, Currency: money.MustCurrency("USD")}, fee: 320}
}

func setOf(t *testing.T, rows []rowUpdateView, id string) row {
	t.Helper()
	for _, r := range rows {
		if r.ID == id {
			return r.Set
		}
	}
	t.Fatalf("no write for %s in %v", id, rows)
	return nil
}

type rowUpdateView = struct {
	ID  string
	Set row
}

func views(w *recordWrites) (attempts, pays []rowUpdateView) {
	for _, u := range w.attempts {
		attempts = append(attempts, rowUpdateView{u.ID, u.Set})
	}
	for _, u := range w.payments {
		pays = append(pays, rowUpdateView{u.ID, u.Set})
	}
	return attempts, pays
}

func TestPlanCaptureSettlesEverything(t *testing.T) {
	s := planService()
	p, a := planRows(paymentstatus.Processing, attemptstatus.Pending)
	w := newRecordWrites(planNow)
	rec, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeCaptured, channelID: "ch_9"}, capture: planCaptureMove()}, p, a, w)
	if err != nil {
		t.Fatal(err)
	}
	atts, pays := views(w)
	as, ps := setOf(t, atts, "att_1"), setOf(t, pays, "pay_1")
	if as[paymentattempt.FieldStatus] != "CAPTURED" || as[paymentattempt.FieldConnectorReference] != "ch_9" ||
		as[paymentattempt.FieldResolvedAt] != planNow {
		t.Errorf("attempt writes %v", as)
	}
	if ps[payment.FieldStatus] != "SUCCEEDED" || ps[payment.FieldAmountCaptured] != int64(10_000) || ps[payment.FieldFeeAmount] != int64(320) {
		t.Errorf("payment writes %v", ps)
	}
	if rec.payment.Status != paymentstatus.Succeeded || rec.next != nil {
		t.Errorf("recorded %+v", rec)
	}
	if len(w.settle) != 1 || w.settle[0] != (Settlement{SessionID: "cs_1", State: paymentstatus.Succeeded}) {
		t.Errorf("session effects %v", w.settle)
	}
	// The payment's success, its capture, and its session's completion.
	if len(w.events) != 3 || w.events[0].typ != "payment.succeeded" || w.events[0].data["status"] != "succeeded" ||
		w.events[1].typ != eventPaymentCaptured || w.events[1].data["amount"] != int64(10_000) ||
		w.events[2].typ != eventSessionCompleted || w.events[2].objectID != "cs_1" || w.events[2].data["payment_id"] != "pay_1" {
		t.Errorf("events %+v", w.events)
	}
	if len(w.entries) != 1 || w.entries[0].Source != (ledger.Source{Type: ledger.SourceCapture, ID: "pay_1"}) {
		t.Errorf("ledger entries %+v", w.entries)
	}
	if len(w.counts) == 0 {
		t.Error("the authorization was not counted toward the daily volume")
	}
}

func TestPlanActionRequiredAndUnknown(t *testing.T) {
	s := planService()
	p, a := planRows(paymentstatus.Processing, attemptstatus.Pending)
	w := newRecordWrites(planNow)
	action := &connectors.NextAction{Type: "THREE_DS_CHALLENGE", URL: "https://acs.example/3ds"}
	if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeActionRequired, action: action}}, p, a, w); err != nil {
		t.Fatal(err)
	}
	atts, pays := views(w)
	if as := setOf(t, atts, "att_1"); as[paymentattempt.FieldStatus] != "ACTION_REQUIRED" ||
		as[paymentattempt.FieldNextCheckAt] != planNow.Add(time.Hour) {
		t.Errorf("attempt writes %v", as)
	}
	if ps := setOf(t, pays, "pay_1"); ps[payment.FieldStatus] != "REQUIRES_ACTION" || ps[payment.FieldNextAction] == nil {
		t.Errorf("payment writes %v", ps)
	}
	if len(w.settle) != 0 || len(w.entries) != 0 || len(w.events) != 1 || w.events[0].typ != "payment.requires_action" {
		t.Errorf("settle %v, entries %v, events %+v", w.settle, w.entries, w.events)
	}

	// An unknown outcome: the attempt waits for the janitor, the payment
	// stays processing, nothing is settled or posted.
	p, a = planRows(paymentstatus.Processing, attemptstatus.Pending)
	w = newRecordWrites(planNow)
	if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeUnknown, code: "timeout"}}, p, a, w); err != nil {
		t.Fatal(err)
	}
	atts, pays = views(w)
	if as := setOf(t, atts, "att_1"); as[paymentattempt.FieldStatus] != "UNKNOWN" || as[paymentattempt.FieldNextCheckAt] == nil {
		t.Errorf("attempt writes %v", as)
	}
	if len(pays) != 0 || len(w.settle) != 0 || len(w.events) != 0 || len(w.entries) != 0 {
		t.Errorf("an unknown outcome moved the payment: %v %v %v", pays, w.settle, w.events)
	}
}

func TestPlanSoftDeclineCascades(t *testing.T) {
	s := planService()
	p, a := planRows(paymentstatus.Processing, attemptstatus.Pending)
	route := routing.Decision{PaymentID: p.ID, Chosen: "cardnet", Attempted: []string{"cardnet"},
		Candidates: []routing.Candidate{{Connector: "cardnet", Eligible: true}, {Connector: "backup", Eligible: true}}}
	w := newRecordWrites(planNow)
	rec, err := s.plan(&recordReq{ctx: context.Background(), attempt: a, route: &route,
		res: result{outcome: attemptstatus.OutcomeDeclined, declineType: connectors.DeclineSoft, code: "try_again"}}, p, a, w)
	if err != nil {
		t.Fatal(err)
	}
	if rec.next == nil || rec.next.attempt.Connector != "backup" || len(w.created) != 1 || w.created[0] != (attemptRow{rec.next.attempt, p.CheckoutSessionID}) {
		t.Fatalf("cascade %+v, created %v", rec.next, w.created)
	}
	atts, pays := views(w)
	if as := setOf(t, atts, "att_1"); as[paymentattempt.FieldStatus] != "DECLINED" || as[paymentattempt.FieldDeclineType] != "SOFT" {
		t.Errorf("attempt writes %v", as)
	}
	if ps := setOf(t, pays, "pay_1"); ps[payment.FieldConnector] != "backup" || ps[payment.FieldStatus] != nil {
		t.Errorf("payment writes %v: a cascading payment stays processing", ps)
	}
	// Only the attempt's failure is told (with its code); the payment
	// goes on.
	if len(w.events) != 1 || w.events[0].typ != eventAttemptFailed || w.events[0].objectID != "att_1" ||
		w.events[0].data["decline_code"] != "try_again" || len(w.settle) != 0 {
		t.Errorf("a cascade told the world: %v %v", w.events, w.settle)
	}

	// Without a route (the janitor, an event) the decline is the payment's.
	p, a = planRows(paymentstatus.Processing, attemptstatus.Pending)
	w = newRecordWrites(planNow)
	if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeDeclined, declineType: connectors.DeclineSoft, code: "try_again"}}, p, a, w); err != nil {
		t.Fatal(err)
	}
	_, pays = views(w)
	if ps := setOf(t, pays, "pay_1"); ps[payment.FieldStatus] != "REQUIRES_PAYMENT_METHOD" || ps[payment.FieldFailureCode] != "try_again" {
		t.Errorf("payment writes %v", ps)
	}
	if len(w.settle) != 1 || w.settle[0].State != paymentstatus.RequiresPaymentMethod {
		t.Errorf("the coupon was not given back: %v", w.settle)
	}
}

func TestPlanLateNewsAndDisagreements(t *testing.T) {
	s := planService()
	// A redelivered channel event writes nothing.
	p, a := planRows(paymentstatus.Succeeded, attemptstatus.Captured)
	a.LastEventID = "cardnet:ev_1"
	w := newRecordWrites(planNow)
	if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeCaptured, eventID: "cardnet:ev_1"}}, p, a, w); err != nil {
		t.Fatal(err)
	}
	if len(w.attempts)+len(w.payments)+len(w.events)+len(w.entries) != 0 {
		t.Errorf("a redelivered event wrote %+v", w)
	}
	// Late news about a final attempt is ignored.
	p, a = planRows(paymentstatus.Succeeded, attemptstatus.Captured)
	w = newRecordWrites(planNow)
	if _, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeApproved}}, p, a, w); err != nil {
		t.Fatalf("stale result: %v", err)
	}
	if len(w.attempts)+len(w.payments)+len(w.events) != 0 {
		t.Errorf("a stale result wrote %+v", w)
	}
	// An authorization the channel says is declined: a disagreement with a
	// state that cannot take it, refused with ECONFLICT and nothing written.
	p, a = planRows(paymentstatus.RequiresCapture, attemptstatus.Authorized)
	w = newRecordWrites(planNow)
	_, err := s.plan(&recordReq{ctx: context.Background(), attempt: a,
		res: result{outcome: attemptstatus.OutcomeDeclined}}, p, a, w)
	if payments.ErrorCode(err) != payments.ECONFLICT || len(w.attempts)+len(w.payments) != 0 {
		t.Errorf("disagreement: %v, writes %+v", err, w)
	}
}

func TestPlanCancel(t *testing.T) {
	// An authorization voided at the channel.
	p, a := planRows(paymentstatus.RequiresCapture, attemptstatus.Authorized)
	p.AmountCapturable = 10_000
	w := newRecordWrites(planNow)
	if err := planCancel(p, a, attemptstatus.OutcomeVoid, w); err != nil {
		t.Fatal(err)
	}
	atts, pays := views(w)
	if as := setOf(t, atts, "att_1"); as[paymentattempt.FieldStatus] != "VOIDED" || as[paymentattempt.FieldResolvedAt] != planNow {
		t.Errorf("attempt writes %v", as)
	}
	if ps := setOf(t, pays, "pay_1"); ps[payment.FieldStatus] != "CANCELED" || ps[payment.FieldAmountCapturable] != int64(0) ||
		ps[payment.FieldCanceledAt] != planNow {
		t.Errorf("payment writes %v", ps)
	}
	if len(w.settle) != 1 || w.settle[0].State != paymentstatus.Canceled {
		t.Errorf("the coupon was not given back: %v", w.settle)
	}
	if len(w.events) != 1 || w.events[0].typ != "payment.canceled" || w.events[0].data["attempt_id"] != "att_1" {
		t.Errorf("events %+v", w.events)
	}
	if len(w.entries) != 0 {
		t.Errorf("a cancel posted to the ledger: %v", w.entries)
	}

	// A payment waiting for the buyer: its attempt expires.
	p, a = planRows(paymentstatus.RequiresAction, attemptstatus.ActionRequired)
	w = newRecordWrites(planNow)
	if err := planCancel(p, a, attemptstatus.OutcomeExpire, w); err != nil {
		t.Fatal(err)
	}
	if atts, _ := views(w); setOf(t, atts, "att_1")[paymentattempt.FieldStatus] != "EXPIRED" {
		t.Errorf("attempt writes %v", atts)
	}
	// A payment awaiting a payment method has no attempt to resolve.
	p, _ = planRows(paymentstatus.RequiresPaymentMethod, attemptstatus.Pending)
	w = newRecordWrites(planNow)
	if err := planCancel(p, nil, attemptstatus.OutcomeVoid, w); err != nil || len(w.attempts) != 0 || p.Status != paymentstatus.Canceled {
		t.Errorf("cancel without an attempt: %v, %v", err, w.attempts)
	}
	// Processing and succeeded payments cannot be canceled: nothing is added.
	for _, st := range []paymentstatus.Status{paymentstatus.Processing, paymentstatus.Succeeded} {
		p, a = planRows(st, attemptstatus.Captured)
		w = newRecordWrites(planNow)
		err := planCancel(p, a, attemptstatus.OutcomeVoid, w)
		if payments.ErrorCode(err) != payments.ECONFLICT || len(w.attempts)+len(w.payments)+len(w.events) != 0 {
			t.Errorf("%s: %v, writes %+v", st, err, w)
		}
	}
}

func TestPlanCapture(t *testing.T) {
	p, a := planRows(paymentstatus.RequiresCapture, attemptstatus.Authorized)
	p.AmountCapturable = 10_000
	move := planCaptureMove()
	move.amount.Minor, move.fee = 6_000, 204 // a partial capture
	w := newRecordWrites(planNow)
	if err := planCapture(p, a, move, w); err != nil {
		t.Fatal(err)
	}
	atts, pays := views(w)
	if as := setOf(t, atts, "att_1"); as[paymentattempt.FieldStatus] != "CAPTURED" || as[paymentattempt.FieldOperation] != nil {
		t.Errorf("attempt writes %v", as)
	}
	if ps := setOf(t, pays, "pay_1"); ps[payment.FieldStatus] != "SUCCEEDED" || ps[payment.FieldAmountCaptured] != int64(6_000) ||
		ps[payment.FieldAmountCapturable] != int64(0) || ps[payment.FieldFeeAmount] != int64(204) {
		t.Errorf("payment writes %v", ps)
	}
	if len(w.entries) != 1 || w.entries[0].Source != (ledger.Source{Type: ledger.SourceCapture, ID: "pay_1"}) {
		t.Errorf("ledger entries %+v", w.entries)
	}
	// A partial capture's event names the amount captured; the session
	// was completed by the authorization.
	if len(w.events) != 2 || w.events[0].typ != "payment.succeeded" || w.events[0].data["amount_captured"] != int64(6_000) ||
		w.events[1].typ != eventPaymentCaptured || w.events[1].data["amount"] != int64(6_000) || w.events[1].data["currency"] != "USD" {
		t.Errorf("events %+v", w.events)
	}
	// A payment that is not authorized, or an attempt that is not, is
	// refused with nothing added.
	for _, c := range []struct {
		p paymentstatus.Status
		a attemptstatus.Status
	}{{paymentstatus.Canceled, attemptstatus.Voided}, {paymentstatus.RequiresCapture, attemptstatus.Declined}} {
		p, a = planRows(c.p, c.a)
		w = newRecordWrites(planNow)
		err := planCapture(p, a, planCaptureMove(), w)
		if payments.ErrorCode(err) != payments.ECONFLICT || len(w.attempts)+len(w.payments)+len(w.entries) != 0 {
			t.Errorf("%s/%s: %v, writes %+v", c.p, c.a, err, w)
		}
	}
}

func TestPlanRefundResult(t *testing.T) {
	refundRow := func() *ent.Refund {
		return &ent.Refund{ID: "ref_1", MerchantID: "mer_1", PaymentID: "pay_1", Amount: 2_500, Currency: "USD",
			Status: refundstatus.Pending, Reason: "requested_by_customer"}
	}
	// The channel refunded: counted on the payment, nothing reversed.
	p, _ := planRows(paymentstatus.Succeeded, attemptstatus.Captured)
	p.AmountCaptured, p.AmountRefunded = 10_000, 1_000
	r := refundRow()
	w := newRecordWrites(planNow)
	if !planRefundResult(p, r, refundstatus.Succeed, "re_9", "", ledger.Entry{}, w) {
		t.Fatal("a pending refund refused the channel's success")
	}
	if len(w.refunds) != 1 || w.refunds[0].Set[refund.FieldStatus] != "SUCCEEDED" || w.refunds[0].Set[refund.FieldConnectorReference] != "re_9" {
		t.Errorf("refund writes %+v", w.refunds)
	}
	if _, pays := views(w); setOf(t, pays, "pay_1")[payment.FieldAmountRefunded] != int64(3_500) {
		t.Errorf("payment writes %v", pays)
	}
	if len(w.entries) != 0 || len(w.events) != 1 || w.events[0].typ != "refund.succeeded" || w.events[0].data["status"] != "SUCCEEDED" {
		t.Errorf("entries %v, events %+v", w.entries, w.events)
	}
	// The channel refused: the refund's ledger entry is reversed, the
	// payment's refunded amount unchanged.
	p, _ = planRows(paymentstatus.Succeeded, attemptstatus.Captured)
	r = refundRow()
	reversal := ledger.Entry{Source: ledger.Source{Type: SourceRefundReversal, ID: "ref_1"}}
	w = newRecordWrites(planNow)
	if !planRefundResult(p, r, refundstatus.Fail, "", "insufficient_funds", reversal, w) {
		t.Fatal("a pending refund refused the channel's refusal")
	}
	if len(w.payments) != 0 || len(w.entries) != 1 || w.entries[0].Source != reversal.Source ||
		w.refunds[0].Set[refund.FieldFailureCode] != "insufficient_funds" || w.events[0].typ != "refund.failed" {
		t.Errorf("payments %v, entries %v, refunds %+v, events %+v", w.payments, w.entries, w.refunds, w.events)
	}
	// Late news about a refund that is not pending adds nothing.
	r = refundRow()
	r.Status = refundstatus.Succeeded
	w = newRecordWrites(planNow)
	if planRefundResult(p, r, refundstatus.Fail, "", "late", reversal, w) || len(w.refunds)+len(w.entries)+len(w.events) != 0 {
		t.Errorf("late news wrote %+v", w)
	}
}
