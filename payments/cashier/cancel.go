package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Canceling a payment that waits for the buyer (3-D Secure, a wallet page, a
// bank transfer). The channel holds a live request the buyer can still
// complete, so Strait cancels it there first: were it only expired here, a
// buyer finishing 3-D Secure a minute later would be charged for a payment
// Strait calls canceled.
//
// The void goes out with no transaction open, keyed by the attempt (a
// repeat is a replay at the channel), and its answer takes the record path
// like any other:
//
//   - approved: the attempt is voided and the payment canceled;
//   - declined: the channel's payment moved on (the buyer finished first,
//     or failed authentication). QueryPayment says where it stands and that
//     is recorded: succeeded, requires_capture, back to
//     requires_payment_method. Cancel then goes on from there;
//   - unknown (timeout, crash, pending): the attempt is unknown and the
//     janitor asks QueryPayment, which reports the payment voided (canceled
//     here) or finished by the buyer. Nothing is sent blindly again;
//   - not sent (connector down): nothing changes;
//   - unsupported: the connector cannot cancel a waiting payment, and the
//     attempt expires here as before (Cancel's fallback).

// cancelKey is the channel idempotency key of the cancel of attempt a: one
// per attempt, and distinct from the key of a later void of the same
// payment's authorization ("void:" + payment), which a replay of this one
// must never answer.
func cancelKey(a *ent.PaymentAttempt) string { return "cancel:" + a.ID }

// cancelWaiting voids p's waiting attempt at the channel and records the
// answer; the payment is then canceled, or wherever the buyer took it
// first. It returns unsupported true, having changed nothing, when the
// connector cannot cancel a waiting payment. Returns EUNAVAILABLE
// when the void did not get through or its answer is unknown (the attempt
// is then unknown and the janitor resolves it; repeating the request is a
// replay), and ECONFLICT when the channel refuses the void of a payment it
// still shows waiting.
func (s *Service) cancelWaiting(ctx context.Context, p *ent.Payment) (unsupported bool, err error) {
	sys := viewer.SystemContext(ctx)
	att, err := s.waitingAttempt(sys, p)
	if err != nil {
		return false, err
	}
	c, err := s.connector(att.Connector)
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Void(cctx, connectors.VoidRequest{IdempotencyKey: cancelKey(att), Reference: att.ID, PaymentID: att.ConnectorReference})
	cancel()
	code := connectors.ErrorCode(err)
	switch {
	case err == nil && resp.Result.Outcome == connectors.OutcomeApproved:
		_, _, err = s.record(sys, att.ID, result{outcome: OutcomeVoid, code: "canceled",
			message: "canceled by the merchant while the buyer's action was pending"}, nil)
	case err == nil && resp.Result.Outcome == connectors.OutcomeDeclined:
		err = s.learn(ctx, att, resp.Result)
	case code == connectors.EUNSUPPORTED:
		return true, nil
	case code == connectors.EUNAVAILABLE:
		return false, payments.Errorf(payments.EUNAVAILABLE, "the channel could not be reached to cancel %s; try again", p.ID)
	case code == connectors.EINVALID:
		return false, payments.Errorf(payments.ECONFLICT, "the channel refused to cancel %s: %v", p.ID, err)
	default:
		// Unknown, pending, or an error that may have reached the channel:
		// the janitor finds out.
		msg := "the channel's answer to the cancel is not known"
		if err != nil {
			msg += ": " + err.Error()
		}
		if _, _, err := s.record(sys, att.ID, result{outcome: OutcomeUnknown, code: "cancel_unknown", message: msg}, nil); err != nil {
			return false, fmt.Errorf("cancel %s: %w", p.ID, err)
		}
		return false, payments.Errorf(payments.EUNAVAILABLE,
			"the channel's answer to the cancel of %s is not known yet; Strait asks the channel and records the result, and repeating the request is safe", p.ID)
	}
	if err != nil {
		return false, fmt.Errorf("cancel %s: %w", p.ID, err)
	}
	return false, nil
}

// waitingAttempt returns p's newest attempt waiting for the buyer, or
// unknown after a cancel whose answer was lost. Returns ECONFLICT when
// there is none.
func (s *Service) waitingAttempt(ctx context.Context, p *ent.Payment) (*ent.PaymentAttempt, error) {
	a, err := s.cfg.Client.PaymentAttempt.Query().
		Where(paymentattempt.PaymentID(p.ID),
			paymentattempt.StatusIn(paymentattempt.StatusACTION_REQUIRED, paymentattempt.StatusUNKNOWN)).
		Order(ent.Desc(paymentattempt.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ECONFLICT, "payment %s has no attempt waiting for the buyer", p.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt of %s: %w", p.ID, err)
	}
	return a, nil
}

// learn asks the channel where a payment stands after it refused the void
// (refusal), and records the answer. Returns ECONFLICT when the channel
// still shows it waiting, EUNAVAILABLE when it cannot say.
func (s *Service) learn(ctx context.Context, att *ent.PaymentAttempt, refusal connectors.Result) error {
	c, err := s.connector(att.Connector)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	st, err := c.QueryPayment(cctx, connectors.QueryPaymentRequest{PaymentID: att.ConnectorReference, Reference: att.ID})
	cancel()
	res, ok := statusResult(st, err, att.Capture)
	switch {
	case !ok:
		return payments.Errorf(payments.EUNAVAILABLE, "the channel refused the cancel (%s) and cannot say why yet; try again", refusal.Code)
	case res.outcome == OutcomeActionRequired || res.outcome == "":
		return payments.Errorf(payments.ECONFLICT, "the channel refused the cancel: %s %s", refusal.Code, refusal.Message)
	}
	_, _, err = s.record(viewer.SystemContext(ctx), att.ID, res, nil)
	return err
}

// statusResult reads QueryPayment's answer for the record path. ok is false
// when the answer says nothing (an error, an unknown outcome). A payment the
// channel released without capture is voided whatever its authorization
// said.
func statusResult(st connectors.PaymentStatus, err error, capture bool) (result, bool) {
	if err != nil {
		return result{}, false
	}
	if st.Voided {
		return result{outcome: OutcomeVoid, code: "voided", message: "the channel voided the payment", channelID: st.PaymentID}, true
	}
	r := resultOf(st.Result, capture)
	if r.outcome == OutcomeError || r.outcome == OutcomeUnknown {
		return result{}, false
	}
	r.channelID = st.PaymentID
	return r, true
}
