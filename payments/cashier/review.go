package cashier

import (
	"context"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/viewer"
)

// Manual review, as Stripe Radar's reviews and Adyen's case management do
// it. A payment that risk sends to review (an AML threshold, a velocity
// rule) is not refused: its attempt only authorizes, whatever the capture
// method (newAttempt), and the record step that sees the authorization
// opens the review (reviewOnRecord), whether the answer came at once or
// after 3-D Secure. The payment is then REQUIRES_CAPTURE with its review
// OPEN: the buyer has paid and the checkout session completes, but the
// merchant must not fulfil the order, and nothing captures it (Capture is
// ECONFLICT) until a person closes the review:
//
//   - approved: a payment whose capture is automatic is captured in full,
//     the review closing in the capture's transaction; one whose capture is
//     manual stays REQUIRES_CAPTURE for the merchant to capture;
//   - rejected: the authorization is voided, the review closing in the
//     cancel's transaction. Canceling the payment rejects its review too.
//
// Closing happens with the channel's answer in hand, so an answer that is
// unknown (EUNAVAILABLE) leaves the review open and the decision can be
// repeated: the channel keys ("capture:" and "void:" + payment) make the
// repeat a replay. A review is closed once; closing it again is ECONFLICT.

// Outbox events of a payment's review.
const (
	eventReviewOpened = "payment.review_opened"
	eventReviewClosed = "payment.review_closed"
)

// inReview reports whether an attempt's risk decision (as stored: a JSON
// map) sent its payment to review.
func inReview(riskDecision map[string]any) bool {
	a, _ := riskDecision["action"].(string)
	return a == string(risk.Review)
}

// underReview reports whether p's review is open.
func underReview(p *ent.Payment) bool {
	return p.ReviewStatus != nil && *p.ReviewStatus == reviewstatus.Open
}

// reviewOpen returns nil when p's review is open, and ECONFLICT otherwise.
func reviewOpen(p *ent.Payment) error {
	switch {
	case p.ReviewStatus == nil:
		return payments.Errorf(payments.ECONFLICT, "payment %s is not under review", p.ID)
	case *p.ReviewStatus != reviewstatus.Open:
		return payments.Errorf(payments.ECONFLICT, "the review of payment %s is closed already (%s)", p.ID, *p.ReviewStatus)
	}
	return nil
}

// maxReviewReason is the review_reason column's size; maxReviewCloser is
// review_closed_by's.
const (
	maxReviewReason = 1000
	maxReviewCloser = 200
	// maxCloseNote bounds the note a person gives with a decision, kept on
	// the payment (review_close_note), in the audit log and the event.
	maxCloseNote = 500
)

// reviewReason is the text of the reasons of a stored risk decision, in the
// order the rules fired.
func reviewReason(riskDecision map[string]any) string {
	reasons, _ := riskDecision["reasons"].([]any)
	texts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		m, _ := r.(map[string]any)
		if t, _ := m["text"].(string); t != "" {
			texts = append(texts, t)
		}
	}
	return clip(strings.Join(texts, "; "), maxReviewReason)
}

// openedReview opens p's review at now: it changes p in memory and returns
// the columns to write.
func openedReview(p *ent.Payment, reason string, now time.Time) row {
	open := reviewstatus.Opened
	p.ReviewStatus, p.ReviewReason, p.ReviewOpenedAt = &open, reason, &now
	return row{payment.FieldReviewStatus: string(open), payment.FieldReviewReason: reason, payment.FieldReviewOpenedAt: now}
}

// closedReview closes p's open review by ev (the review machine's approve or
// reject) at now, by whom, with a note saying why: it changes p in memory and
// returns the columns to write. Callers check the review is open first.
func closedReview(p *ent.Payment, ev reviewstatus.Event, by, note string, now time.Time) row {
	status, _ := reviewstatus.Next(*p.ReviewStatus, ev)
	by, note = clip(by, maxReviewCloser), clip(note, maxCloseNote)
	p.ReviewStatus, p.ReviewClosedAt, p.ReviewClosedBy, p.ReviewCloseNote = &status, &now, by, note
	return row{payment.FieldReviewStatus: string(status), payment.FieldReviewClosedAt: now,
		payment.FieldReviewClosedBy: by, payment.FieldReviewCloseNote: note}
}

// reviewEvent is the outbox event of p's review as it now stands.
func reviewEvent(p *ent.Payment, typ string, extra map[string]any) eventRow {
	data := map[string]any{"review_status": string(*p.ReviewStatus), "review_reason": p.ReviewReason}
	if p.ReviewClosedBy != "" {
		data["closed_by"] = p.ReviewClosedBy
	}
	for k, v := range extra {
		data[k] = v
	}
	return paymentEvent(p, typ, data)
}

// reviewOnRecord is what the record step does to p's review as attempt a
// moves p to state to: an authorization on a review decision opens it; a
// payment under review that the channel voids or captures without a
// person's decision (late news, a lapsed authorization) has its review
// closed, so that an open review always means a payment held for capture.
// It changes p in memory and returns the columns to write and the event,
// or nothing.
func (s *Service) reviewOnRecord(ctx context.Context, p *ent.Payment, a *ent.PaymentAttempt, to paymentstatus.Status, now time.Time) (row, *eventRow) {
	var r row
	var extra map[string]any
	switch {
	case to == paymentstatus.RequiresCapture && p.ReviewStatus == nil && inReview(a.RiskDecision):
		r, extra = openedReview(p, reviewReason(a.RiskDecision), now), map[string]any{"attempt_id": a.ID}
	case to == paymentstatus.Canceled && underReview(p):
		const why = "the channel released the authorization"
		r = closedReview(p, reviewstatus.Reject, "connector:"+a.Connector, why, now)
		extra = map[string]any{"reason": why}
	case to == paymentstatus.Succeeded && underReview(p):
		s.log.ErrorContext(ctx, "the channel captured a payment under review", "payment", p.ID, "attempt", a.ID, "connector", a.Connector)
		const why = "captured at the channel without an approval"
		r = closedReview(p, reviewstatus.Approve, "connector:"+a.Connector, why, now)
		extra = map[string]any{"reason": why}
	default:
		return nil, nil
	}
	typ := eventReviewClosed
	if *p.ReviewStatus == reviewstatus.Open {
		typ = eventReviewOpened
	}
	e := reviewEvent(p, typ, extra)
	return r, &e
}

// reviewClosing is a person's decision on a review, planned under the
// payment's lock by planCloseReview.
type reviewClosing struct {
	event  reviewstatus.Event // approve or reject
	action string             // the audit log's action
	note   string             // why, in the person's words or the operation's
	// ifOpen closes the review only if it is open (a cancel rejects an open
	// review; a payment never reviewed has none to close).
	ifOpen bool
	// actor (kind:subject) and ctx name who decided: ctx's viewer is the
	// audit log's actor.
	actor string
	ctx   context.Context
}

// by is c decided by the viewer in ctx (kept without ctx's cancel: the
// audit entry is written with the decision, even if the caller hangs up).
func (c reviewClosing) by(ctx context.Context) reviewClosing {
	c.actor, c.ctx = actorOf(ctx), context.WithoutCancel(ctx)
	return c
}

// planCloseReview decides the closing of p's open review, p read under its
// lock, as c says: the payment's columns, the outbox event and the audit
// entry. It adds them to w and changes p in memory. Returns ECONFLICT when
// the review is not open.
func planCloseReview(p *ent.Payment, c reviewClosing, w *recordWrites) error {
	if err := reviewOpen(p); err != nil {
		return err
	}
	w.payment(p.ID, closedReview(p, c.event, c.actor, c.note, w.now))
	var extra map[string]any
	details := map[string]string{"review_status": string(*p.ReviewStatus)}
	if c.note != "" {
		extra, details["reason"] = map[string]any{"reason": c.note}, c.note
	}
	w.events = append(w.events, reviewEvent(p, eventReviewClosed, extra))
	w.audits = append(w.audits, auditWrite{ctx: c.ctx, entry: audit.Entry{MerchantID: p.MerchantID, Action: c.action,
		TargetType: "payment", TargetID: p.ID, Details: details}})
	return nil
}

// closeNote is a person's note on a decision, trimmed; EINVALID (field
// note) above maxCloseNote bytes.
func closeNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	if len(note) > maxCloseNote {
		return "", payments.FieldErrorf("note", "at most %d bytes", maxCloseNote)
	}
	return note, nil
}

// actorOf names the viewer in ctx as kind:subject, for review_closed_by.
func actorOf(ctx context.Context) string {
	v, ok := viewer.FromContext(ctx)
	if !ok {
		return ""
	}
	return string(v.Kind) + ":" + v.Subject
}

// ApproveReview approves the open review of payment id. A payment whose
// capture is automatic is captured in full through Capture's path (the
// same channel key), and the review closes with the capture; one whose
// capture is manual stays REQUIRES_CAPTURE, for the merchant to capture.
// Returns ENOTFOUND for a payment that is not the viewer's, ECONFLICT when
// the payment is not under review (never reviewed, or closed already) or
// the channel refuses the capture (or its authorization has expired:
// reject the review instead), and EUNAVAILABLE when the capture's answer is
// unknown: the review stays open, and approving again is safe.
func (s *Service) ApproveReview(ctx context.Context, id, note string) (*ent.Payment, error) {
	note, err := closeNote(note)
	if err != nil {
		return nil, err
	}
	p, err := s.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := reviewOpen(p); err != nil {
		return nil, err
	}
	closing := reviewClosing{event: reviewstatus.Approve, action: "payment_review.approve", note: note}.by(ctx)
	if p.CaptureMethod == payment.CaptureMethodAUTOMATIC {
		return s.capture(ctx, p, nil, &closing)
	}
	err = s.apply(ctx, "approve review of "+p.ID, p.ID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		cur, err := s.lockPayment(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		return planCloseReview(cur, closing, w)
	})
	if err != nil {
		return nil, err
	}
	return s.Payment(ctx, p.ID)
}

// RejectReview rejects the open review of payment id: the authorization is
// voided at the channel through Cancel's path and the payment is CANCELED,
// the review closing with the cancel. reason (optional, at most 500
// characters) goes to the audit log and the event. Returns EINVALID (field
// "reason") for a reason too long, ENOTFOUND for a payment that is not the
// viewer's, ECONFLICT when it is not under review or the channel refuses
// the void, and EUNAVAILABLE when the void's answer is unknown: the review
// stays open, and rejecting again is safe.
func (s *Service) RejectReview(ctx context.Context, id, reason string) (*ent.Payment, error) {
	reason, err := closeNote(reason)
	if err != nil {
		return nil, payments.FieldErrorf("reason", "%s", payments.ErrorMessage(err))
	}
	p, err := s.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := reviewOpen(p); err != nil {
		return nil, err
	}
	closing := reviewClosing{event: reviewstatus.Reject, action: "payment_review.reject", note: reason}.by(ctx)
	return s.cancel(ctx, p, &closing)
}
