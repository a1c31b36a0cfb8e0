package cashier_test

import (
	"context"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"
	"slices"
	"strings"
	"testing"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/auditlog"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// reviewAbove sends USD payments of more than maxMinor to review.
func (w *world) reviewAbove(maxMinor int64) {
	w.t.Helper()
	if err := w.rules.UpsertRiskRule(risk.Rule{ID: "aml-usd", Kind: risk.AMLThreshold, Action: risk.Review, Enabled: true,
		Score: 60, Params: risk.Params{Currency: usd, MaxMinor: maxMinor}}); err != nil {
		w.t.Fatal(err)
	}
}

// admin is the context of an admin of the world's merchant.
func (w *world) admin() context.Context {
	return viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_admin",
		MerchantID: w.merchant.ID, Role: viewer.RoleAdmin})
}

func (w *world) reload(p *ent.Payment) *ent.Payment {
	w.t.Helper()
	out, err := w.db.Client.Payment.Get(w.sys, p.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) audits(p *ent.Payment) []string {
	w.t.Helper()
	logs, err := w.db.Client.AuditLog.Query().Where(auditlog.TargetID(p.ID)).Order(auditlog.ByID()).All(w.sys)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, l := range logs {
		out = append(out, l.Action+" by "+l.ActorKind+":"+l.ActorID)
	}
	return out
}

// stored reads p again from the database.
func (w *world) stored(p *ent.Payment) *ent.Payment {
	w.t.Helper()
	return w.db.Client.Payment.GetX(w.sys, p.ID)
}

func reviewIs(p *ent.Payment, s reviewstatus.Status) bool {
	return p.ReviewStatus != nil && *p.ReviewStatus == s
}

// TestReviewAuthorizesWithoutCaptureAndHoldsThePayment: a review decision
// authorizes an automatic-capture payment without capturing it and opens
// its review; nothing is posted and the payment cannot be captured, until
// an approval captures it once, through the capture path.
func TestReviewAuthorizesWithoutCaptureAndHoldsThePayment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.reviewAbove(100_000)
		p := w.confirm(w.pay(250_000, ""), approveCard, "k1")
		as := w.attempts(p)
		if p.Status != paymentstatus.RequiresCapture || !reviewIs(p, reviewstatus.Open) || p.AmountCapturable != 250_000 ||
			p.ReviewOpenedAt == nil || p.ReviewReason == "" || len(as) != 1 || as[0].Capture ||
			as[0].Status != attemptstatus.Authorized || as[0].RiskDecision["action"] != "review" {
			t.Fatalf("payment %s review %v %q, attempts %+v", p.Status, p.ReviewStatus, p.ReviewReason, as)
		}
		if len(w.a.calls) != 1 || w.a.calls[0].Capture {
			t.Fatalf("authorize calls %+v", w.a.calls)
		}
		if got := w.reload(p); !reviewIs(got, reviewstatus.Open) || got.ReviewReason != p.ReviewReason {
			t.Fatalf("stored review %v %q", got.ReviewStatus, got.ReviewReason)
		}
		if ev := w.events(p); !slices.Equal(ev, []string{"payment.requires_capture", "payment.review_opened"}) {
			t.Fatalf("events %v", ev)
		}
		if w.balance(w.pending()) != 0 {
			t.Fatal("a payment under review was posted")
		}
		if _, err := w.svc.Capture(w.ctx, p.ID, nil); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("capture under review: %v", err)
		}
		if _, err := w.svc.ApproveReview(newWorldSameDB(t, w), p.ID, ""); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Fatalf("another merchant's approval: %v", err)
		}

		if _, err := w.svc.ApproveReview(w.admin(), p.ID, strings.Repeat("x", 501)); payments.ErrorField(err) != "note" {
			t.Fatalf("a note of 501 bytes: %v", err)
		}
		p, err := w.svc.ApproveReview(w.admin(), p.ID, "  ID documents checked ")
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 250_000 || !reviewIs(p, reviewstatus.Approved) ||
			p.ReviewClosedAt == nil || p.ReviewClosedBy != "merchant_user:usr_admin" {
			t.Fatalf("approved: %s captured %d review %v by %q", p.Status, p.AmountCaptured, p.ReviewStatus, p.ReviewClosedBy)
		}
		if stored := w.stored(p); stored.ReviewCloseNote != "ID documents checked" {
			t.Fatalf("close note %q", stored.ReviewCloseNote)
		}
		if !slices.Equal(w.a.ops, []string{"capture capture:" + p.ID}) {
			t.Fatalf("channel operations %v", w.a.ops)
		}
		if w.balance(w.pending()) != 250_000-(30+7_250) {
			t.Fatalf("pending %d", w.balance(w.pending()))
		}
		if ev := w.events(p); !slices.Equal(ev, []string{"payment.requires_capture", "payment.review_opened",
			"payment.review_closed", "payment.succeeded", "payment.captured"}) {
			t.Fatalf("events %v", ev)
		}
		if a := w.audits(p); !slices.Equal(a, []string{"payment_review.approve by merchant_user:usr_admin"}) {
			t.Fatalf("audit %v", a)
		}
		if _, err := w.svc.ApproveReview(w.admin(), p.ID, ""); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("approved twice: %v", err)
		}
		if _, err := w.svc.RejectReview(w.admin(), p.ID, ""); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("rejected after the approval: %v", err)
		}
		if len(w.a.ops) != 1 {
			t.Fatalf("channel operations %v", w.a.ops)
		}
		w.balanced()
	})
}

// TestReviewRejectionVoidsTheAuthorization: rejecting a review voids the
// authorization through the cancel path; canceling a payment under review
// rejects its review; neither posts anything.
func TestReviewRejectionVoidsTheAuthorization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.reviewAbove(100_000)
		if _, err := w.svc.RejectReview(w.admin(), w.confirm(w.pay(500, ""), approveCard, "").ID, ""); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("reject of a payment never reviewed: %v", err)
		}
		p := w.confirm(w.pay(200_000, ""), approveCard, "")
		p, err := w.svc.RejectReview(w.admin(), p.ID, "  buyer on a sanctions list ")
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != paymentstatus.Canceled || !reviewIs(p, reviewstatus.Rejected) || p.AmountCaptured != 0 {
			t.Fatalf("rejected: %s review %v", p.Status, p.ReviewStatus)
		}
		if stored := w.stored(p); stored.ReviewCloseNote != "buyer on a sanctions list" {
			t.Fatalf("close note %q", stored.ReviewCloseNote)
		}
		if as := w.attempts(p); as[0].Status != attemptstatus.Voided {
			t.Fatalf("attempt %s", as[0].Status)
		}
		if ev := w.events(p); !slices.Equal(ev, []string{"payment.requires_capture", "payment.review_opened",
			"payment.review_closed", "payment.canceled"}) {
			t.Fatalf("events %v", ev)
		}
		if _, err := w.svc.RejectReview(w.admin(), p.ID, ""); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("rejected twice: %v", err)
		}

		q := w.confirm(w.pay(300_000, ""), approveCard, "")
		if q, err = w.svc.Cancel(w.ctx, q.ID); err != nil {
			t.Fatal(err)
		}
		if q.Status != paymentstatus.Canceled || !reviewIs(q, reviewstatus.Rejected) || q.ReviewClosedBy != "api_key:key_test" ||
			w.stored(q).ReviewCloseNote != "canceled" {
			t.Fatalf("canceled: %s review %v by %q (%q)", q.Status, q.ReviewStatus, q.ReviewClosedBy, w.stored(q).ReviewCloseNote)
		}
		if a := w.audits(q); !slices.Equal(a, []string{"payment_review.reject by api_key:key_test"}) {
			t.Fatalf("audit %v", a)
		}
		if !slices.Equal(w.a.ops, []string{"void void:" + p.ID, "void void:" + q.ID}) {
			t.Fatalf("channel operations %v", w.a.ops)
		}
		if w.balance(w.pending()) != 500-(30+15) {
			t.Fatalf("pending %d", w.balance(w.pending()))
		}
		w.balanced()
	})
}

// TestReviewOfManualCaptureApprovesWithoutCapturing: approving the review
// of a manual-capture payment leaves it for the merchant to capture.
func TestReviewOfManualCaptureApprovesWithoutCapturing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.reviewAbove(100_000)
		p := w.confirm(w.pay(200_000, payment.CaptureMethodMANUAL), approveCard, "")
		p, err := w.svc.ApproveReview(w.admin(), p.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != paymentstatus.RequiresCapture || !reviewIs(p, reviewstatus.Approved) || len(w.a.ops) != 0 {
			t.Fatalf("approved: %s review %v, channel %v", p.Status, p.ReviewStatus, w.a.ops)
		}
		if p, err = w.svc.Capture(w.ctx, p.ID, nil); err != nil || p.Status != paymentstatus.Succeeded {
			t.Fatalf("capture after the approval: %v %v", p, err)
		}
		w.balanced()
	})
}

// TestReviewOpensWhenThreeDSCompletesLater: a reviewed payment the issuer
// challenges is authorized by a channel event; the record step opens the
// review then.
func TestReviewOpensWhenThreeDSCompletesLater(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		w.reviewAbove(100_000)
		p := w.confirm(w.pay(200_000, ""), actionCard, "")
		if p.Status != paymentstatus.RequiresAction || p.ReviewStatus != nil {
			t.Fatalf("payment %s review %v", p.Status, p.ReviewStatus)
		}
		a := w.attempts(p)[0]
		err := w.svc.HandleEvent(w.sys, connectors.Event{ID: "evt_3ds", Connector: a.Connector, Type: connectors.EventPaymentResult,
			PaymentID: "acq_a_" + a.ID, Reference: a.ID, Result: connectors.Approved()})
		if err != nil {
			t.Fatal(err)
		}
		p = w.reload(p)
		if p.Status != paymentstatus.RequiresCapture || !reviewIs(p, reviewstatus.Open) || p.ReviewReason == "" {
			t.Fatalf("after 3-D Secure: %s review %v", p.Status, p.ReviewStatus)
		}
		if w.attempts(p)[0].Status != attemptstatus.Authorized || w.balance(w.pending()) != 0 {
			t.Fatal("the reviewed payment was captured")
		}
	})
}

// TestAnApprovalForLessThanTheAmountIsNotASuccess: a channel event that
// approves a waiting payment for less than its amount (a first part of a
// transfer reported as the payment) records nothing: the payment keeps
// waiting. The same approval for the whole amount then succeeds.
func TestAnApprovalForLessThanTheAmountIsNotASuccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.program()
		p := w.confirm(w.pay(20_000, ""), actionCard, "")
		if p.Status != paymentstatus.RequiresAction {
			t.Fatalf("payment %s", p.Status)
		}
		a := w.attempts(p)[0]
		approve := func(id string, minor int64) {
			t.Helper()
			err := w.svc.HandleEvent(w.sys, connectors.Event{ID: id, Connector: a.Connector, Type: connectors.EventPaymentResult,
				PaymentID: "acq_a_" + a.ID, Reference: a.ID, Result: connectors.Approved(),
				Amount: connectors.Money{Minor: minor, Currency: a.Currency, Exponent: connectors.Exp(2)}})
			if err != nil {
				t.Fatal(err)
			}
		}
		approve("evt_part", 5_000)
		if p = w.reload(p); p.Status != paymentstatus.RequiresAction || p.AmountCaptured != 0 || w.balance(w.pending()) != 0 {
			t.Fatalf("after an approval of part: %s, captured %d", p.Status, p.AmountCaptured)
		}
		approve("evt_whole", 20_000)
		if p = w.reload(p); p.Status != paymentstatus.Succeeded || p.AmountCaptured != 20_000 {
			t.Fatalf("after the whole approval: %s, captured %d", p.Status, p.AmountCaptured)
		}
		w.balanced()
	})
}
