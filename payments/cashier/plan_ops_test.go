package cashier

import (
	"context"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/agreement"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/agreementstatus"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/refundstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"
)

// The plans of the one-payment operations (apply.go), called with rows built
// in memory and no database.

func TestPlanRefund(t *testing.T) {
	captured := func() *ent.Payment {
		p, _ := planRows(paymentstatus.Succeeded, attemptstatus.Captured)
		p.AmountCaptured, p.FeeAmount = 10_000, 320
		return p
	}
	amt := func(v int64) *int64 { return &v }
	prior := &ent.Refund{ID: "ref_prior", Amount: 500, Status: refundstatus.Pending}
	for _, tc := range []struct {
		name     string
		prior    *ent.Refund
		disputed *ent.Dispute
		before   int64
		amount   *int64
		balances map[ledger.Kind]int64 // the merchant's, in the payment's currency
		drawn    ledger.Kind           // the account the merchant's share comes from
		code     string                // the refusal's code; "" is none
		field    string
		want     int64 // the new refund's amount
	}{
		{name: "all that is left", balances: map[ledger.Kind]int64{ledger.KindPending: 10_000}, drawn: ledger.KindPending, want: 10_000},
		{name: "after settlement, from available", balances: map[ledger.Kind]int64{ledger.KindAvailable: 9_680}, drawn: ledger.KindAvailable, want: 10_000},
		{name: "part", amount: amt(2_500), want: 2_500},
		{name: "what is left after others", before: 7_000, want: 3_000},
		{name: "above what is left", before: 7_000, amount: amt(3_001), code: payments.EINVALID, field: "amount"},
		{name: "nothing left", before: 10_000, code: payments.EINVALID, field: "amount"},
		{name: "an open dispute refuses", disputed: &ent.Dispute{ID: "dp_1", State: dispute.StateNEEDS_RESPONSE}, code: payments.ECONFLICT},
		{name: "a lost dispute refuses", disputed: &ent.Dispute{ID: "dp_1", State: dispute.StateLOST}, code: payments.ECONFLICT},
		{name: "the same key's refund is the answer", prior: prior, want: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := captured()
			w := newRecordWrites(planNow)
			r, err := planRefund(p, tc.prior, tc.disputed, tc.before, tc.balances, refundAsk{amount: tc.amount, reason: "why", key: "k1", connector: "cardnet"}, w)
			if tc.code != "" {
				if payments.ErrorCode(err) != tc.code || (tc.field != "" && payments.ErrorField(err) != tc.field) {
					t.Fatalf("err = %v, want %s %s", err, tc.code, tc.field)
				}
				if len(w.newRefunds)+len(w.entries)+len(w.events) != 0 {
					t.Fatalf("a refused refund wrote %+v", w)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 {
				if r != tc.prior || len(w.newRefunds)+len(w.entries)+len(w.events) != 0 {
					t.Fatalf("a repeated key must answer its refund and write nothing: %v %+v", r, w)
				}
				return
			}
			if r.Amount != tc.want || r.Status != refundstatus.Pending || *r.IdempotencyKey != "k1" || r.PaymentID != p.ID {
				t.Fatalf("refund = %+v", r)
			}
			if want := refundFee(320, 10_000, tc.before, tc.want); r.FeeReversed != want {
				t.Fatalf("fee reversed %d, want %d", r.FeeReversed, want)
			}
			if len(w.newRefunds) != 1 || w.newRefunds[0] != r {
				t.Fatalf("refund rows %v", w.newRefunds)
			}
			if len(w.entries) != 1 || w.entries[0].Source != (ledger.Source{Type: ledger.SourceRefund, ID: r.ID}) {
				t.Fatalf("entries %+v", w.entries)
			}
			if tc.drawn != "" {
				share := -(tc.want - r.FeeReversed)
				from := ledger.MerchantAccount(p.MerchantID, tc.drawn, money.MustCurrency(p.Currency))
				found := false
				for _, ps := range w.entries[0].Postings {
					found = found || ps.Account == from && ps.Amount.Minor == share
				}
				if !found {
					t.Fatalf("the merchant's share %d is not drawn on %s: %+v", share, tc.drawn, w.entries[0].Postings)
				}
			}
			if len(w.events) != 1 || w.events[0].typ != "refund.created" || w.events[0].objectID != r.ID {
				t.Fatalf("events %+v", w.events)
			}
		})
	}
}

func TestPlanAgreement(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from      agreementstatus.Status
		ref       string
		ev        agreementstatus.Event
		set       map[string]any
		eventID   string
		lastEvent string
		to        agreementstatus.Status
		event     string // the outbox event; "" is none
		writes    bool
	}{
		{name: "activated", from: agreementstatus.Pending, ref: "bank_1", ev: agreementstatus.Activate, to: agreementstatus.Active, event: "agreement.active", writes: true},
		{name: "declined keeps the code", from: agreementstatus.Pending, ref: "bank_1", ev: agreementstatus.Decline, to: agreementstatus.Failed, event: "agreement.failed", writes: true},
		{name: "terminated", from: agreementstatus.Active, ref: "bank_1", ev: agreementstatus.Terminate, to: agreementstatus.Terminated, event: "agreement.terminated", writes: true},
		{name: "no move, the reference learned", from: agreementstatus.Pending, set: map[string]any{"ref": "bank_9", "buyer_url": "https://bank/x"},
			to: agreementstatus.Pending, event: "agreement.pending", writes: true},
		{name: "no move, nothing new: no event", from: agreementstatus.Active, ref: "bank_1", ev: agreementstatus.Activate, to: agreementstatus.Active, writes: true},
		{name: "a redelivered event writes nothing", from: agreementstatus.Pending, ref: "bank_1", ev: agreementstatus.Activate,
			eventID: "bank:e1", lastEvent: "bank:e1", to: agreementstatus.Pending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &ent.Agreement{ID: "agr_1", MerchantID: "mer_1", Connector: "bank", Status: tc.from, ConnectorReference: tc.ref, LastEventID: tc.lastEvent}
			w := newRecordWrites(planNow)
			planAgreement(a, tc.ev, "do_not_honor", tc.set, tc.eventID, w)
			if a.Status != tc.to {
				t.Fatalf("status %s, want %s", a.Status, tc.to)
			}
			if (len(w.agreements) > 0) != tc.writes {
				t.Fatalf("agreement writes %v", w.agreements)
			}
			switch {
			case tc.event == "" && len(w.events) != 0:
				t.Fatalf("events %+v", w.events)
			case tc.event != "" && (len(w.events) != 1 || w.events[0].typ != tc.event):
				t.Fatalf("events %+v, want %s", w.events, tc.event)
			}
			if !tc.writes {
				return
			}
			set := w.agreements[0].Set
			if tc.to != tc.from && set[agreement.FieldStatus] != string(tc.to) {
				t.Fatalf("set %v", set)
			}
			if tc.to == agreementstatus.Failed && set[agreement.FieldFailureCode] != "do_not_honor" {
				t.Fatalf("failure code not kept: %v", set)
			}
			if tc.to == agreementstatus.Terminated && (a.TerminatedAt == nil || !a.TerminatedAt.Equal(planNow)) {
				t.Fatalf("terminated at %v", a.TerminatedAt)
			}
			if r, _ := tc.set["ref"].(string); r != "" && set[agreement.FieldConnectorReference] != r {
				t.Fatalf("reference not learned: %v", set)
			}
		})
	}
}

func TestPlanInFlight(t *testing.T) {
	capture := paymentattempt.OperationCAPTURE
	due := planNow.Add(inFlightGrace)
	for _, tc := range []struct {
		name   string
		status attemptstatus.Status
		mark   inFlightMark
		writes bool
	}{
		{name: "marked", status: attemptstatus.Authorized, mark: inFlightMark{op: &capture, amount: 4_000, due: &due}, writes: true},
		{name: "cleared", status: attemptstatus.Authorized, mark: inFlightMark{}, writes: true},
		{name: "recorded meanwhile: kept", status: attemptstatus.Captured, mark: inFlightMark{op: &capture, amount: 4_000, due: &due}},
		{name: "voided meanwhile: kept", status: attemptstatus.Voided, mark: inFlightMark{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, a := planRows(paymentstatus.RequiresCapture, tc.status)
			w := newRecordWrites(planNow)
			planInFlight(a, tc.mark, w)
			if !tc.writes {
				if len(w.attempts) != 0 {
					t.Fatalf("writes %v", w.attempts)
				}
				return
			}
			set := setOf(t, mustViews(w), a.ID)
			if tc.mark.op != nil {
				if set[paymentattempt.FieldOperation] != string(capture) || set[paymentattempt.FieldOperationAmount] != int64(4_000) ||
					set[paymentattempt.FieldNextCheckAt] != due {
					t.Fatalf("set %v", set)
				}
				return
			}
			if set[paymentattempt.FieldOperation] != nil || set[paymentattempt.FieldNextCheckAt] != nil || set[paymentattempt.FieldOperationAmount] != int64(0) {
				t.Fatalf("set %v", set)
			}
		})
	}
}

func mustViews(w *recordWrites) []rowUpdateView {
	atts, _ := views(w)
	return atts
}

func TestPlanCloseReview(t *testing.T) {
	open, approved := reviewstatus.Open, reviewstatus.Approved
	ctx := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: "mer_1"})
	for _, tc := range []struct {
		name    string
		review  *reviewstatus.Status
		closing reviewClosing
		cancel  bool // planCancelOp rather than planCloseReview
		code    string
		to      reviewstatus.Status
		audits  int
	}{
		{name: "approved", review: &open, closing: reviewClosing{event: reviewstatus.Approve, action: "payment_review.approve", note: "ok"}.by(ctx), to: reviewstatus.Approved, audits: 1},
		{name: "rejected", review: &open, closing: reviewClosing{event: reviewstatus.Reject, action: "payment_review.reject"}.by(ctx), to: reviewstatus.Rejected, audits: 1},
		{name: "closed already", review: &approved, closing: reviewClosing{event: reviewstatus.Reject}.by(ctx), code: payments.ECONFLICT},
		{name: "never reviewed", closing: reviewClosing{event: reviewstatus.Approve}.by(ctx), code: payments.ECONFLICT},
		{name: "a cancel rejects an open review", review: &open, cancel: true,
			closing: reviewClosing{event: reviewstatus.Reject, action: "payment_review.reject", note: "canceled", ifOpen: true}.by(ctx), to: reviewstatus.Rejected, audits: 1},
		{name: "a cancel of a payment never reviewed closes nothing", cancel: true,
			closing: reviewClosing{event: reviewstatus.Reject, ifOpen: true}.by(ctx)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := planRows(paymentstatus.RequiresPaymentMethod, attemptstatus.Declined)
			p.ReviewStatus = tc.review
			w := newRecordWrites(planNow)
			var err error
			if tc.cancel {
				err = planCancelOp(p, nil, attemptstatus.OutcomeVoid, tc.closing, w)
			} else {
				err = planCloseReview(p, tc.closing, w)
			}
			if tc.code != "" {
				if payments.ErrorCode(err) != tc.code || len(w.payments)+len(w.events)+len(w.audits) != 0 {
					t.Fatalf("err = %v, writes %+v", err, w)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(w.audits) != tc.audits {
				t.Fatalf("audits %+v", w.audits)
			}
			if tc.audits == 0 {
				if p.ReviewStatus != nil {
					t.Fatalf("review %v", *p.ReviewStatus)
				}
				return
			}
			_, pays := views(w)
			set := setOf(t, pays, p.ID)
			if *p.ReviewStatus != tc.to || set[payment.FieldReviewStatus] != string(tc.to) || set[payment.FieldReviewClosedBy] != "merchant_user:usr_1" {
				t.Fatalf("review %v, set %v", *p.ReviewStatus, set)
			}
			if w.events[0].typ != eventReviewClosed || w.audits[0].entry.Action != tc.closing.action || actorOf(w.audits[0].ctx) != "merchant_user:usr_1" {
				t.Fatalf("event %+v audit %+v", w.events[0], w.audits[0])
			}
		})
	}
}

func TestPlanBegin(t *testing.T) {
	s := planService()
	route := routing.Decision{PaymentID: "pay_1", Chosen: "cardnet", Attempted: []string{"cardnet"}}
	for _, tc := range []struct {
		name string
		from paymentstatus.Status
		code string
	}{
		{name: "a payment awaiting a method", from: paymentstatus.RequiresPaymentMethod},
		{name: "processing already", from: paymentstatus.Processing, code: payments.ECONFLICT},
		{name: "succeeded", from: paymentstatus.Succeeded, code: payments.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := planRows(tc.from, attemptstatus.Declined)
			p.FailureCode = "do_not_honor"
			w := newRecordWrites(planNow)
			pm := PaymentMethod{Type: routing.Card, CardFingerprint: "fp_1", Email: " Buyer@Example.COM ", IP: "203.0.113.9"}
			att, err := s.planBegin(p, route, map[string]any{"action": "allow"}, nil, pm, "key", 2, w)
			if tc.code != "" {
				if payments.ErrorCode(err) != tc.code || len(w.payments)+len(w.created)+len(w.reserve) != 0 {
					t.Fatalf("err = %v, writes %+v", err, w)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != paymentstatus.Processing || p.FailureCode != "" {
				t.Fatalf("payment %+v", p)
			}
			_, pays := views(w)
			set := setOf(t, pays, p.ID)
			if set[payment.FieldStatus] != string(paymentstatus.Processing) || set[payment.FieldFailureCode] != "" || set[payment.FieldConnector] != "cardnet" {
				t.Fatalf("set %v", set)
			}
			// The buyer's facts, kept for disputes, as a new payment keeps them.
			var want ent.Payment
			withBuyerFacts(&want, pm)
			if set[payment.FieldCardFingerprint] != "fp_1" || set[payment.FieldBuyerEmail] != want.BuyerEmail || set[payment.FieldBuyerIP] != want.BuyerIP ||
				want.BuyerEmail == "" {
				t.Fatalf("buyer facts %v, want %+v", set, want)
			}
			if len(w.created) != 1 || w.created[0] != (attemptRow{att, "cs_1"}) || att.Status != attemptstatus.Pending || att.ChannelIdempotencyKey != channelKey(p, "key", 2) {
				t.Fatalf("attempt %+v", att)
			}
			if len(w.reserve) != 1 || w.reserve[0] != (Reservation{SessionID: "cs_1", PaymentID: p.ID}) {
				t.Fatalf("reservations %v", w.reserve)
			}
		})
	}
}

func TestPlanRefundRecheck(t *testing.T) {
	for _, st := range []refundstatus.Status{refundstatus.Pending, refundstatus.Succeeded, refundstatus.Failed} {
		w := newRecordWrites(planNow)
		planRefundRecheck(&ent.Refund{ID: "ref_1", Status: st}, w)
		if got := len(w.refunds); (st == refundstatus.Pending) != (got == 1) {
			t.Fatalf("%s: writes %v", st, w.refunds)
		}
	}
}

func TestPlanCharge(t *testing.T) {
	usd, eur := money.MustCurrency("USD"), money.MustCurrency("EUR")
	key := "charge-1"
	prior := func(agreementID string, minor int64) *ent.Payment {
		return &ent.Payment{ID: "pay_prior", AgreementID: agreementID, Amount: minor, Currency: "USD", IdempotencyKey: &key}
	}
	for _, tc := range []struct {
		name   string
		status agreementstatus.Status
		max    int64
		prior  *ent.Payment
		amount money.Amount
		code   string // the refusal's code; "" is none
		field  string // the refused field, for EINVALID
		replay bool
	}{
		{name: "a new charge", status: agreementstatus.Active, amount: money.Amount{Minor: 2_500, Currency: usd}},
		{name: "at the cap", status: agreementstatus.Active, max: 2_500, amount: money.Amount{Minor: 2_500, Currency: usd}},
		{name: "above the cap", status: agreementstatus.Active, max: 2_499, amount: money.Amount{Minor: 2_500, Currency: usd},
			code: payments.EINVALID, field: "amount"},
		{name: "another currency", status: agreementstatus.Active, amount: money.Amount{Minor: 2_500, Currency: eur},
			code: payments.EINVALID, field: "amount"},
		{name: "not positive", status: agreementstatus.Active, amount: money.Amount{Minor: 0, Currency: usd},
			code: payments.EINVALID, field: "amount"},
		{name: "pending", status: agreementstatus.Pending, amount: money.Amount{Minor: 2_500, Currency: usd}, code: payments.ECONFLICT},
		{name: "terminated", status: agreementstatus.Terminated, amount: money.Amount{Minor: 2_500, Currency: usd}, code: payments.ECONFLICT},
		{name: "the key's payment is the answer", status: agreementstatus.Active, prior: prior("agr_1", 2_500),
			amount: money.Amount{Minor: 2_500, Currency: usd}, replay: true},
		{name: "the key's payment is the answer, the agreement ended since", status: agreementstatus.Terminated,
			prior: prior("agr_1", 2_500), amount: money.Amount{Minor: 2_500, Currency: usd}, replay: true},
		{name: "the key used for another amount", status: agreementstatus.Active, prior: prior("agr_1", 2_000),
			amount: money.Amount{Minor: 2_500, Currency: usd}, code: payments.ECONFLICT},
		{name: "the key used on another agreement", status: agreementstatus.Active, prior: prior("agr_2", 2_500),
			amount: money.Amount{Minor: 2_500, Currency: usd}, code: payments.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &ent.Agreement{ID: "agr_1", MerchantID: "mer_1", CustomerID: "cus_1", Connector: "bank", Currency: "USD",
				Status: tc.status, MaxAmount: tc.max}
			w := newRecordWrites(planNow)
			ask := chargeAsk{paymentID: "pay_new", amount: tc.amount, description: "rent", reference: "inv-7", key: key}
			p, replay, err := planCharge(a, tc.prior, ask, w)
			if payments.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("err %v, want code %q", err, tc.code)
			}
			if tc.field != "" && payments.ErrorField(err) != tc.field {
				t.Fatalf("err %v, want field %s", err, tc.field)
			}
			if err != nil || replay {
				if len(w.newPayments) != 0 {
					t.Fatalf("a refusal or a replay inserts %+v", w.newPayments)
				}
				if replay != tc.replay || (replay && p != tc.prior) {
					t.Fatalf("replay %v (%v), want %v", replay, p, tc.replay)
				}
				return
			}
			if tc.replay {
				t.Fatal("no replay")
			}
			if len(w.newPayments) != 1 || w.newPayments[0] != p {
				t.Fatalf("inserts %+v", w.newPayments)
			}
			if p.ID != "pay_new" || p.MerchantID != "mer_1" || p.AgreementID != "agr_1" || p.CustomerID != "cus_1" ||
				p.Amount != 2_500 || p.Currency != "USD" || p.Status != paymentstatus.RequiresPaymentMethod ||
				p.CaptureMethod != payment.CaptureMethodAUTOMATIC || p.Description != "rent" || p.MerchantReference != "inv-7" ||
				p.IdempotencyKey == nil || *p.IdempotencyKey != key {
				t.Fatalf("payment %+v", p)
			}
		})
	}
}
