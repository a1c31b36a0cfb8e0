package cashier

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// The merchant's operations on a payment. Each loads the payment through the
// caller's view (another merchant's payment is ENOTFOUND), checks the state
// machine, calls the connector with no transaction open, and records in one
// transaction. Captures and voids are keyed at the channel by the payment (a
// payment is captured or voided once), so repeating one after an unknown
// outcome is a replay, never a second capture.

// Capture captures amount (all of the authorization when nil) of a payment
// in requires_capture; a partial capture releases the rest. Returns EINVALID
// (field "amount") for an amount that is not positive or above the
// authorized amount, ECONFLICT when the payment is not awaiting capture
// (a succeeded payment captured without naming the amount included) or
// its authorization window has closed, or the channel refuses, and
// EUNAVAILABLE when the channel's answer is unknown: the capture stays in
// flight, the janitor records what the channel did (inflight.go), and
// repeating the request is a replay at the channel. Capturing again an
// already captured payment naming the captured amount returns it
// unchanged. A payment under review is captured only by approving its
// review (ApproveReview): capturing it is ECONFLICT.
func (s *Service) Capture(ctx context.Context, id string, in *money.Amount) (*ent.Payment, error) {
	p, err := s.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	amount, err := minorIn(p, in)
	if err != nil {
		return nil, err
	}
	if p.Status == paymentstatus.Succeeded && p.AmountCaptured > 0 && amount != nil && *amount == p.AmountCaptured {
		return p, nil // a repeated capture
	}
	if underReview(p) {
		return nil, payments.Errorf(payments.ECONFLICT, "payment %s is under review: approve the review to capture it", p.ID)
	}
	return s.capture(ctx, p, amount, nil)
}

// capture captures amount (all that is capturable when nil) of p, read as
// the caller sees it. With closing set, the capture approves p's open
// review: the review closes in the capture's transaction, so a capture
// whose answer is unknown leaves the review open for the approval to be
// repeated.
func (s *Service) capture(ctx context.Context, p *ent.Payment, amount *int64, closing *reviewClosing) (*ent.Payment, error) {
	want := p.AmountCapturable
	if amount != nil {
		want = *amount
	}
	if _, err := nextPayment(p.Status, paymentstatus.Capture); err != nil || p.Status != paymentstatus.RequiresCapture {
		return nil, payments.Errorf(payments.ECONFLICT, "a payment that is %s cannot be captured", p.Status.Name())
	}
	switch {
	case want <= 0:
		return nil, payments.FieldErrorf("amount", "amount must be positive")
	case want > p.AmountCapturable:
		return nil, payments.FieldErrorf("amount", "amount %d is above the authorized %d", want, p.AmountCapturable)
	case p.CaptureBefore != nil && !s.now().Before(*p.CaptureBefore):
		return nil, payments.Errorf(payments.ECONFLICT, "the authorization expired at %s", p.CaptureBefore.Format("2006-01-02T15:04:05Z"))
	}
	att, err := s.liveAttempt(ctx, p, attemptstatus.Authorized)
	if err != nil {
		return nil, err
	}
	c, err := s.connector(att.Connector)
	if err != nil {
		return nil, err
	}
	if err := s.markInFlight(ctx, att, paymentattempt.OperationCAPTURE, want); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Capture(cctx, connectors.CaptureRequest{IdempotencyKey: captureKey(p.ID), Reference: att.ID,
		PaymentID: att.ConnectorReference, Amount: contractMoney(want, p.Currency)})
	cancel()
	if err := operationError("capture", resp.Result, err); err != nil {
		return nil, s.afterOperation(ctx, att, err)
	}
	move, err := s.prepareCapture(ctx, p.MerchantID, att.Connector, want, p.Currency)
	if err != nil {
		return nil, err
	}
	err = s.apply(ctx, "capture "+p.ID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		cur, err := s.lockPayment(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		return planCaptureOp(cur, att, move, closing, w)
	})
	if err != nil {
		return nil, err
	}
	return s.Payment(ctx, p.ID)
}

// Cancel cancels a payment that has not been captured. One awaiting a
// payment method is canceled here. One awaiting the buyer's action (3-D
// Secure, redirect) is canceled at the channel first (cancel.go), so that
// the buyer can no longer complete it; if the buyer finished first, Cancel
// goes on from where that left the payment. An authorization is voided at
// the channel first. Canceling a canceled payment returns it unchanged.
//
// Canceling a payment under review rejects its review.
//
// Returns ECONFLICT for a payment that is processing, succeeded or failed
// (including one the buyer completed before the cancel reached the
// channel: refund it instead), or when the channel refuses the void, and
// EUNAVAILABLE when the channel was not reached or its answer is unknown
// (repeating the request is safe: the channel replays it).
func (s *Service) Cancel(ctx context.Context, id string) (*ent.Payment, error) {
	p, err := s.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.cancel(ctx, p, nil)
}

// cancel is Cancel of p, read as the caller sees it. With closing set, the
// cancel rejects p's open review (ECONFLICT when it is not open under the
// payment's lock); without, an open review is rejected as canceled.
func (s *Service) cancel(ctx context.Context, p *ent.Payment, closing *reviewClosing) (*ent.Payment, error) {
	id := p.ID
	var err error
	if p.Status == paymentstatus.RequiresAction {
		unsupported, err := s.cancelWaiting(ctx, p)
		if err != nil {
			return nil, err
		}
		if !unsupported {
			// Canceled, or moved on by the buyer: read as the caller sees it.
			if p, err = s.Payment(ctx, id); err != nil {
				return nil, err
			}
			switch p.Status {
			case paymentstatus.Canceled:
				return p, nil
			case paymentstatus.Succeeded:
				return nil, payments.Errorf(payments.ECONFLICT,
					"the buyer completed payment %s before the cancel reached the channel; refund it instead", id)
			case paymentstatus.RequiresAction:
				// Never expire here what the channel may still complete.
				return nil, payments.Errorf(payments.EUNAVAILABLE, "payment %s still waits for the buyer at the channel; try again", id)
			}
		}
	}
	from := p.Status
	if from == paymentstatus.Canceled {
		return p, nil
	}
	if _, err := nextPayment(from, paymentstatus.Cancel); err != nil {
		return nil, err
	}
	att, outcome, err := s.releaseAtChannel(ctx, p)
	if err != nil {
		return nil, err
	}
	// Without a person's decision, a cancel rejects an open review as
	// canceled.
	c := reviewClosing{event: reviewstatus.Reject, action: "payment_review.reject", note: "canceled", ifOpen: true}.by(ctx)
	if closing != nil {
		c = *closing
	}
	err = s.apply(ctx, "cancel "+p.ID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		cur, err := s.lockPayment(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		var a *ent.PaymentAttempt
		if att != nil {
			if a, err = tx.PaymentAttempt.Get(ctx, att.ID); err != nil {
				return err
			}
		}
		return planCancelOp(cur, a, outcome, c, w)
	})
	if err != nil {
		return nil, err
	}
	return s.Payment(ctx, p.ID)
}

// planCaptureOp decides the merchant's capture of p (or a person's approval
// of its review, closing set) from the payment read under its lock and its
// authorized attempt a as the capture found it: the review closed (ECONFLICT if it is not open), and
// the capture planned (planCapture) unless a concurrent capture of the same
// amount recorded it already.
func planCaptureOp(p *ent.Payment, a *ent.PaymentAttempt, move *captureMove, closing *reviewClosing, w *recordWrites) error {
	if closing != nil {
		if err := planCloseReview(p, *closing, w); err != nil {
			return err
		}
	}
	if p.Status == paymentstatus.Succeeded && p.AmountCaptured == move.amount.Minor {
		return nil // a concurrent capture of the same amount recorded it
	}
	return planCapture(p, a, move, w)
}

// planCancelOp decides the cancel of p, read under its lock, whose attempt
// a takes outcome (planCancel), and closing's rejection of p's review
// (ECONFLICT when it is not open; a closing ifOpen rejects only an open
// review). A payment canceled meanwhile changes nothing more.
func planCancelOp(p *ent.Payment, a *ent.PaymentAttempt, outcome attemptstatus.Outcome, closing reviewClosing, w *recordWrites) error {
	if !closing.ifOpen || underReview(p) {
		if err := planCloseReview(p, closing, w); err != nil {
			return err
		}
	}
	if p.Status == paymentstatus.Canceled {
		return nil
	}
	return planCancel(p, a, outcome, w)
}

// planCapture decides the merchant's capture of payment p, read under its
// lock, which the channel has captured on attempt a (authorized) for move's
// amount and fee: the attempt captured and its operation answered, the
// payment succeeded, the outbox event, and the capture's ledger entry, which
// the writer posts last (the ledger's accounts are shared by every capture).
// Its session was completed by the authorization already. It adds them to w
// and changes p and a in memory; nothing is written. Returns ECONFLICT when
// either machine refuses.
func planCapture(p *ent.Payment, a *ent.PaymentAttempt, move *captureMove, w *recordWrites) error {
	to, err := nextPayment(p.Status, paymentstatus.Capture)
	if err != nil {
		return err
	}
	ato, err := nextAttempt(a.Status, attemptstatus.OutcomeCaptured)
	if err != nil {
		return err
	}
	a.Status, a.ResolvedAt, a.NextCheckAt, a.Operation, a.OperationAmount = ato, &w.now, nil, nil, 0
	w.attempt(a.ID, row{paymentattempt.FieldStatus: string(ato), paymentattempt.FieldResolvedAt: w.now,
		paymentattempt.FieldNextCheckAt: nil, paymentattempt.FieldOperation: nil, paymentattempt.FieldOperationAmount: int64(0)})
	captured := move.amount.Minor
	p.Status, p.AmountCaptured, p.AmountCapturable, p.FeeAmount, p.UpdatedAt = to, captured, 0, move.fee, w.now
	w.payment(p.ID, row{payment.FieldStatus: string(to), payment.FieldAmountCaptured: captured,
		payment.FieldAmountCapturable: int64(0), payment.FieldFeeAmount: move.fee})
	w.events = append(w.events, paymentEvent(p, paymentEventTypes[to], map[string]any{"attempt_id": a.ID, "connector": a.Connector}),
		capturedEvent(p, a, captured))
	e := move.entry
	e.Source = ledger.Source{Type: ledger.SourceCapture, ID: p.ID}
	w.entries = append(w.entries, e)
	return nil
}

// releaseAtChannel is the channel's part of canceling p: an authorization
// is voided at the channel (its attempt marked in flight first, resolved by
// the janitor if the answer is lost); a payment waiting for the buyer, which
// the connector cannot cancel, has its attempt expire here (a late approval
// of it is logged as a disagreement for an operator to refund). It returns
// the attempt and the outcome it takes; no attempt for a payment awaiting a
// payment method.
func (s *Service) releaseAtChannel(ctx context.Context, p *ent.Payment) (*ent.PaymentAttempt, attemptstatus.Outcome, error) {
	switch p.Status {
	case paymentstatus.RequiresCapture:
		att, err := s.liveAttempt(ctx, p, attemptstatus.Authorized)
		if err != nil {
			return nil, "", err
		}
		c, err := s.connector(att.Connector)
		if err != nil {
			return nil, "", err
		}
		if err := s.markInFlight(ctx, att, paymentattempt.OperationVOID, 0); err != nil {
			return nil, "", err
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
		resp, err := c.Void(cctx, connectors.VoidRequest{IdempotencyKey: voidKey(p.ID), Reference: att.ID, PaymentID: att.ConnectorReference})
		cancel()
		if err := operationError("void", resp.Result, err); err != nil {
			return nil, "", s.afterOperation(ctx, att, err)
		}
		return att, attemptstatus.OutcomeVoid, nil
	case paymentstatus.RequiresAction:
		att, err := s.liveAttempt(ctx, p, attemptstatus.ActionRequired)
		return att, attemptstatus.OutcomeExpire, err
	}
	return nil, attemptstatus.OutcomeVoid, nil
}

// planCancel decides the cancel of payment p, read under its lock, whose
// attempt a (nil for a payment awaiting a payment method) takes outcome
// (void: the channel released it; expire: the buyer can no longer finish
// it): the payment canceled, the attempt resolved, the session's coupon
// given back, the outbox event. It adds them to w and changes p and a in
// memory as the writes will change the rows; nothing is written. Returns
// ECONFLICT when either machine refuses.
func planCancel(p *ent.Payment, a *ent.PaymentAttempt, outcome attemptstatus.Outcome, w *recordWrites) error {
	to, err := nextPayment(p.Status, paymentstatus.Cancel)
	if err != nil {
		return err
	}
	data := map[string]any{}
	if a != nil {
		ato, err := nextAttempt(a.Status, outcome)
		if err != nil {
			return err
		}
		a.Status, a.ResolvedAt, a.NextCheckAt, a.Operation, a.OperationAmount = ato, &w.now, nil, nil, 0
		w.attempt(a.ID, row{paymentattempt.FieldStatus: string(ato), paymentattempt.FieldResolvedAt: w.now,
			paymentattempt.FieldNextCheckAt: nil, paymentattempt.FieldOperation: nil, paymentattempt.FieldOperationAmount: int64(0)})
		data["attempt_id"] = a.ID
	}
	p.Status, p.AmountCapturable, p.CanceledAt, p.NextAction, p.UpdatedAt = to, 0, &w.now, nil, w.now
	w.payment(p.ID, row{payment.FieldStatus: string(to), payment.FieldAmountCapturable: int64(0),
		payment.FieldCanceledAt: w.now, payment.FieldNextAction: nil})
	if p.CheckoutSessionID != "" && sessionEffects[to] != 0 {
		w.settle = append(w.settle, Settlement{SessionID: p.CheckoutSessionID, State: to})
	}
	w.events = append(w.events, paymentEvent(p, paymentEventTypes[to], data))
	return nil
}

// minorIn reads an optional amount given for an operation on p: it must be
// in p's currency. Returns EINVALID naming "amount".
func minorIn(p *ent.Payment, a *money.Amount) (*int64, error) {
	if a == nil {
		return nil, nil
	}
	if a.Currency.Code() != p.Currency {
		return nil, payments.FieldErrorf("amount", "the payment is in %s, not %s", p.Currency, a.Currency.Code())
	}
	if a.Minor > MaxAmountMinor {
		return nil, payments.FieldErrorf("amount", "amount is above the limit of %d minor units", int64(MaxAmountMinor))
	}
	return &a.Minor, nil
}

// liveAttempt returns the payment's newest attempt in status.
func (s *Service) liveAttempt(ctx context.Context, p *ent.Payment, status attemptstatus.Status) (*ent.PaymentAttempt, error) {
	a, err := s.cfg.Client.PaymentAttempt.Query().
		Where(paymentattempt.PaymentID(p.ID), paymentattempt.StatusEQ(status)).
		Order(ent.Desc(paymentattempt.FieldID)).First(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ECONFLICT, "payment %s has no %s attempt", p.ID, status)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt of %s: %w", p.ID, err)
	}
	return a, nil
}

// operationError turns the answer to a capture, void or refund into the
// caller's error: nil when approved, ECONFLICT when the channel refused,
// EUNAVAILABLE when the request did not get through or its outcome is
// unknown (repeating it is safe: the channel key is the same).
func operationError(op string, r connectors.Result, err error) error {
	if err == nil && r.Outcome == connectors.OutcomeApproved {
		return nil
	}
	switch {
	case err == nil && r.Outcome == connectors.OutcomeDeclined:
		return payments.Errorf(payments.ECONFLICT, "the channel refused the %s: %s %s", op, r.Code, r.Message)
	case err != nil && (connectors.ErrorCode(err) == connectors.EINVALID || connectors.ErrorCode(err) == connectors.EUNSUPPORTED):
		return payments.Errorf(payments.ECONFLICT, "the channel refused the %s: %s", op, connectors.ErrorCode(err))
	}
	return payments.Errorf(payments.EUNAVAILABLE, "the %s's outcome is not known yet; repeat the request", op)
}
