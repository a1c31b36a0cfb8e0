package cashier

import (
	"context"
	"errors"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Operations in flight: a capture or void of an authorization whose answer
// is not known. Before the channel is called, the operation is marked on
// the authorized attempt (operation, operation_amount) with a check due
// after the call's deadline, so that a crash of Strait mid-call leaves it
// for the janitor. The answer clears the mark: approved, in the
// operation's own transaction; refused, here (after asking the channel
// where the payment stands, since a refusal often means an earlier
// operation got there first). An answer that is not known keeps the mark
// and makes the check due at the first step of the backoff.
//
// The janitor then asks QueryPayment, and inFlightStep decides:
//
//   - captured: the capture is recorded for the amount the channel
//     captured, through the record path (the ledger entry posts once: its
//     source is the payment's capture);
//   - voided: the void is recorded, the payment canceled;
//   - still authorized: the operation never arrived (or is still queued at
//     the channel). The merchant asked for it, so it is sent again under
//     the same channel key (capture:<payment>, void:<payment>): a replay at
//     the channel, never a second capture;
//   - no answer: the next step of the backoff.
//
// A merchant who repeats the operation meanwhile sends it under the same
// key, and records its answer as the first call would have.

// captureKey and voidKey are the channel keys of a payment's capture and of
// the void of its authorization: one of each per payment.
func captureKey(paymentID string) string { return "capture:" + paymentID }
func voidKey(paymentID string) string    { return "void:" + paymentID }

// markInFlight records on authorized attempt a that op (for amount, a
// capture) is about to be sent, due for the janitor once the call's
// deadline and the grace have passed.
func (s *Service) markInFlight(ctx context.Context, a *ent.PaymentAttempt, op paymentattempt.Operation, amount int64) error {
	due := s.now().Add(s.cfg.CallTimeout + inFlightGrace)
	return s.inFlight(ctx, fmt.Sprintf("%s of %s in flight", op, a.PaymentID), a, func(a *ent.PaymentAttempt, w *recordWrites) {
		planInFlight(a, inFlightMark{op: &op, amount: amount, due: &due}, w)
	})
}

// operationUnknown makes the operation in flight on a due at the next step
// of the backoff: its answer did not come.
func (s *Service) operationUnknown(ctx context.Context, a *ent.PaymentAttempt) error {
	due := s.nextCheck(a.CheckCount)
	return s.inFlight(ctx, "operation of "+a.PaymentID+" unknown", a, func(a *ent.PaymentAttempt, w *recordWrites) {
		if a.Operation != nil {
			planInFlight(a, inFlightMark{op: a.Operation, amount: a.OperationAmount, due: &due}, w)
		}
	})
}

// operationRefused clears the mark of an operation the channel refused: no
// money moved, and the authorization stays as it is.
func (s *Service) operationRefused(ctx context.Context, a *ent.PaymentAttempt) error {
	return s.inFlight(ctx, "operation of "+a.PaymentID+" refused", a, func(a *ent.PaymentAttempt, w *recordWrites) {
		planInFlight(a, inFlightMark{}, w)
	})
}

// inFlight runs plan over attempt a, read again under its payment's lock,
// as one payment's operation.
func (s *Service) inFlight(ctx context.Context, what string, a *ent.PaymentAttempt, plan func(*ent.PaymentAttempt, *recordWrites)) error {
	return s.apply(viewer.SystemContext(ctx), what, a.PaymentID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		if _, err := s.lockPayment(ctx, tx, a.PaymentID); err != nil {
			return err
		}
		cur, err := tx.PaymentAttempt.Get(ctx, a.ID)
		if err != nil {
			return err
		}
		plan(cur, w)
		return nil
	})
}

// inFlightMark is the mark of an operation in flight on an authorized
// attempt: the operation (nil: none), its amount, and when the janitor
// checks it (nil: never).
type inFlightMark struct {
	op     *paymentattempt.Operation
	amount int64
	due    *time.Time
}

// planInFlight sets the mark of authorized attempt a to m, read under its
// payment's lock; an attempt that is no longer authorized (its operation
// was recorded meanwhile) keeps what it has. It adds the write to w and
// changes a in memory.
func planInFlight(a *ent.PaymentAttempt, m inFlightMark, w *recordWrites) {
	if a.Status != attemptstatus.Authorized {
		return
	}
	a.Operation, a.OperationAmount, a.NextCheckAt = m.op, m.amount, m.due
	set := row{paymentattempt.FieldOperation: nil, paymentattempt.FieldOperationAmount: m.amount,
		paymentattempt.FieldNextCheckAt: nil}
	if m.op != nil {
		set[paymentattempt.FieldOperation] = string(*m.op)
	}
	if m.due != nil {
		set[paymentattempt.FieldNextCheckAt] = *m.due
	}
	w.attempt(a.ID, set)
}

// afterOperation deals with an operation's answer that was not an
// approval (opErr, operationError's): a refusal clears the mark once the
// channel has been asked where the payment stands (an earlier capture or
// void whose answer was lost is then recorded); anything else leaves it to
// the janitor. opErr is returned, joined with what went wrong here.
func (s *Service) afterOperation(ctx context.Context, a *ent.PaymentAttempt, opErr error) error {
	sys := viewer.SystemContext(ctx)
	if payments.ErrorCode(opErr) != payments.ECONFLICT {
		if err := s.operationUnknown(sys, a); err != nil {
			s.log.ErrorContext(ctx, "operation in flight not scheduled", "attempt", a.ID, "err", err)
		}
		return opErr
	}
	c, err := s.connector(a.Connector)
	if err == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
		st, qerr := c.QueryPayment(cctx, connectors.QueryPaymentRequest{PaymentID: a.ConnectorReference, Reference: a.ID})
		cancel()
		if res, ok := settledResult(inFlightStep(st, qerr), st); ok {
			if _, _, err := s.record(sys, a.ID, res, nil); err != nil {
				s.log.ErrorContext(ctx, "channel's answer not recorded", "attempt", a.ID, "err", err)
			}
			// The payment moved on: the caller's error names what it was.
			return opErr
		}
	}
	if err := s.operationRefused(sys, a); err != nil {
		s.log.ErrorContext(ctx, "refused operation not cleared", "attempt", a.ID, "err", err)
	}
	return opErr
}

// inFlightAction is what the janitor does about an operation in flight.
type inFlightAction int

const (
	inFlightWait     inFlightAction = iota // nothing learned: the next step of the backoff
	inFlightCaptured                       // the channel captured: record the capture
	inFlightVoided                         // the channel voided: record the void
	inFlightResend                         // the channel still holds the authorization: send the operation again
)

// inFlightStep decides, from QueryPayment's answer (st, err), what becomes
// of an operation in flight on an authorized attempt. It decides nothing
// but that: the caller records or sends. A channel that cannot be asked,
// or answers anything but an authorization (pending, unknown, a decline
// that contradicts the authorization Strait holds), leaves it for later.
func inFlightStep(st connectors.PaymentStatus, err error) inFlightAction {
	switch {
	case err != nil:
		return inFlightWait
	case st.Voided:
		return inFlightVoided
	case st.Captured.Minor > 0:
		return inFlightCaptured
	case st.Result.Outcome == connectors.OutcomeApproved:
		return inFlightResend
	}
	return inFlightWait
}

// settledResult is the record path's result for a step that found the
// operation settled at the channel; ok is false for the other steps.
func settledResult(step inFlightAction, st connectors.PaymentStatus) (result, bool) {
	switch step {
	case inFlightCaptured:
		return result{outcome: attemptstatus.OutcomeCaptured, captured: st.Captured.Minor, code: "captured",
			message: "the channel captured the payment", channelID: st.PaymentID, check: true}, true
	case inFlightVoided:
		return result{outcome: attemptstatus.OutcomeVoid, code: "voided", message: "the channel voided the payment",
			channelID: st.PaymentID, check: true}, true
	}
	return result{}, false
}

// checkOperation is the janitor's check of authorized attempt a, which has
// an operation in flight.
func (s *Service) checkOperation(ctx context.Context, a *ent.PaymentAttempt) error {
	wait := func(err error) error {
		_, _, rerr := s.record(ctx, a.ID, result{check: true}, nil)
		return errors.Join(err, rerr)
	}
	c, err := s.connector(a.Connector)
	if err != nil {
		return wait(nil) // not running: not an error of this check
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	st, qerr := c.QueryPayment(cctx, connectors.QueryPaymentRequest{PaymentID: a.ConnectorReference, Reference: a.ID})
	cancel()
	step := inFlightStep(st, qerr)
	if res, ok := settledResult(step, st); ok {
		_, _, err := s.record(ctx, a.ID, res, nil)
		return err
	}
	if step != inFlightResend || a.Operation == nil {
		return wait(nil)
	}
	return s.resendOperation(ctx, c, a)
}

// resendOperation sends a's operation in flight again, under its channel
// key, and records the answer.
func (s *Service) resendOperation(ctx context.Context, c connectors.Connector, a *ent.PaymentAttempt) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	var resp connectors.OperationResponse
	var err error
	res := result{check: true, channelID: a.ConnectorReference}
	switch *a.Operation {
	case paymentattempt.OperationCAPTURE:
		resp, err = c.Capture(cctx, connectors.CaptureRequest{IdempotencyKey: captureKey(a.PaymentID), Reference: a.ID,
			PaymentID: a.ConnectorReference, Amount: contractMoney(a.OperationAmount, a.Currency)})
		res.outcome, res.captured, res.code = attemptstatus.OutcomeCaptured, a.OperationAmount, "captured"
	case paymentattempt.OperationVOID:
		resp, err = c.Void(cctx, connectors.VoidRequest{IdempotencyKey: voidKey(a.PaymentID), Reference: a.ID, PaymentID: a.ConnectorReference})
		res.outcome, res.code = attemptstatus.OutcomeVoid, "voided"
	}
	cancel()
	opErr := operationError(string(*a.Operation), resp.Result, err)
	switch payments.ErrorCode(opErr) {
	case "":
		_, _, err := s.record(ctx, a.ID, res, nil)
		return err
	case payments.ECONFLICT:
		s.log.ErrorContext(ctx, "the channel refused an operation sent again", "attempt", a.ID, "operation", *a.Operation, "err", opErr)
		return s.operationRefused(ctx, a)
	}
	_, _, rerr := s.record(ctx, a.ID, result{check: true}, nil)
	return rerr
}
