package cashier

import (
	"context"
	"errors"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"

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
//     here), finished by the buyer (recorded as such), or still waiting,
//     the void never having arrived (finishCancel sends the same void again
//     under the same key: a replay, never a blind second operation);
//   - not sent (connector down): nothing changes;
//   - unsupported: the connector cannot cancel a waiting payment, and the
//     attempt expires here as before (Cancel's fallback).

// cancelKey is the channel idempotency key of the cancel of waiting attempt
// a, the merchant's or the janitor's at expiry alike: one per attempt, and
// distinct from the key of a later void of the same payment's authorization
// ("void:" + payment), which a replay of this one must never answer.
func cancelKey(a *ent.PaymentAttempt) string { return "cancel:" + a.ID }

// voidAnswer classifies the channel's answer to the void of a waiting
// payment.
type voidAnswer int

const (
	voidApproved    voidAnswer = iota // canceled: the buyer can no longer complete it
	voidRefused                       // declined: the payment moved on (the buyer finished first)
	voidUnsupported                   // the connector cannot cancel a waiting payment
	voidInvalid                       // the channel refused the request itself
	voidNotSent                       // certainly not reached (connector down, circuit open)
	voidUnknown                       // may have reached the channel: timeout, crash, pending
)

// voidWaiting asks the channel to cancel waiting attempt a, with no
// transaction open. err carries the connector's error, if any.
func (s *Service) voidWaiting(ctx context.Context, a *ent.PaymentAttempt) (voidAnswer, connectors.Result, error) {
	c, err := s.connector(a.Connector)
	if err != nil {
		return voidNotSent, connectors.Result{}, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Void(cctx, connectors.VoidRequest{IdempotencyKey: cancelKey(a), Reference: a.ID, PaymentID: a.ConnectorReference})
	cancel()
	switch code := connectors.ErrorCode(err); {
	case err == nil && resp.Result.Outcome == connectors.OutcomeApproved:
		return voidApproved, resp.Result, nil
	case err == nil && resp.Result.Outcome == connectors.OutcomeDeclined:
		return voidRefused, resp.Result, nil
	case code == connectors.EUNSUPPORTED:
		return voidUnsupported, resp.Result, err
	case code == connectors.EINVALID:
		return voidInvalid, resp.Result, err
	case code == connectors.EUNAVAILABLE:
		return voidNotSent, resp.Result, err
	}
	return voidUnknown, resp.Result, err
}

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
	answer, refusal, err := s.voidWaiting(ctx, att)
	switch answer {
	case voidApproved:
		_, _, err = s.record(sys, att.ID, result{outcome: attemptstatus.OutcomeVoid, code: "canceled",
			message: "canceled by the merchant while the buyer's action was pending"}, nil)
	case voidRefused:
		err = s.learn(ctx, att, refusal)
	case voidUnsupported:
		return true, nil
	case voidNotSent:
		return false, payments.Errorf(payments.EUNAVAILABLE, "the channel could not be reached to cancel %s; try again", p.ID)
	case voidInvalid:
		return false, payments.Errorf(payments.ECONFLICT, "the channel refused to cancel %s: %v", p.ID, err)
	default:
		// It may have reached the channel: the janitor finds out.
		msg := "the channel's answer to the cancel is not known"
		if err != nil {
			msg += ": " + err.Error()
		}
		if _, _, err := s.record(sys, att.ID, result{outcome: attemptstatus.OutcomeUnknown, code: "cancel_unknown", message: msg}, nil); err != nil {
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

// expireWaiting is the janitor's end of an action the buyer did not finish
// within ActionTTL. Like a cancel, it voids the payment at the channel
// first, so that a buyer who comes back later cannot complete it; then the
// attempt expires (the payment goes back to requires_payment_method). A
// channel that already released the payment (voided: an earlier expiry
// whose answer was lost) is not asked again. When the buyer finished
// first, that is recorded instead. When the void does not get through or
// its answer is unknown, nothing expires: the attempt is checked again
// later and the void replayed under the same key. A connector that cannot
// cancel a waiting payment gets the local expiry alone.
func (s *Service) expireWaiting(ctx context.Context, a *ent.PaymentAttempt, voided bool) error {
	expire := result{outcome: attemptstatus.OutcomeExpire, code: "action_expired", message: "the buyer did not complete the next action in time", check: true}
	if voided {
		_, _, err := s.record(ctx, a.ID, expire, nil)
		return err
	}
	answer, refusal, err := s.voidWaiting(ctx, a)
	switch answer {
	case voidApproved, voidUnsupported, voidInvalid:
		_, _, err = s.record(ctx, a.ID, expire, nil)
		return err
	case voidRefused:
		if err = s.learn(ctx, a, refusal); err == nil {
			return nil
		}
	}
	// Look again at the next step of the backoff.
	_, _, rerr := s.record(ctx, a.ID, result{check: true}, nil)
	return errors.Join(err, rerr)
}

// finishCancel takes up a cancel whose void's answer was lost and which the
// channel shows never arrived: the payment still waits for the buyer there.
// The merchant asked for it to be canceled, so the same void is sent again
// under the same key (a replay at the channel, never a second operation),
// and its answer is recorded like the first one's would have been.
func (s *Service) finishCancel(ctx context.Context, a *ent.PaymentAttempt) error {
	answer, refusal, err := s.voidWaiting(ctx, a)
	switch answer {
	case voidApproved:
		_, _, err = s.record(ctx, a.ID, result{outcome: attemptstatus.OutcomeVoid, code: "canceled",
			message: "canceled by the merchant while the buyer's action was pending", check: true}, nil)
		return err
	case voidRefused:
		if err = s.learn(ctx, a, refusal); err == nil {
			return nil
		}
	}
	// Unknown again, not sent, or refused while still waiting: the next
	// step of the backoff.
	_, _, rerr := s.record(ctx, a.ID, result{outcome: attemptstatus.OutcomeUnknown, check: true}, nil)
	return errors.Join(err, rerr)
}

// waitingAttempt returns p's newest attempt waiting for the buyer, or
// unknown after a cancel whose answer was lost. Returns ECONFLICT when
// there is none.
func (s *Service) waitingAttempt(ctx context.Context, p *ent.Payment) (*ent.PaymentAttempt, error) {
	a, err := s.cfg.Client.PaymentAttempt.Query().
		Where(paymentattempt.PaymentID(p.ID),
			paymentattempt.StatusIn(attemptstatus.ActionRequired, attemptstatus.Unknown)).
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
	case res.outcome == attemptstatus.OutcomeActionRequired || res.outcome == "":
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
		return result{outcome: attemptstatus.OutcomeVoid, code: "voided", message: "the channel voided the payment", channelID: st.PaymentID}, true
	}
	r := resultOf(st.Result, capture)
	if r.outcome == attemptstatus.OutcomeError || r.outcome == attemptstatus.OutcomeUnknown {
		return result{}, false
	}
	r.channelID = st.PaymentID
	return r, true
}
