package cashier

import (
	"context"
	"fmt"
	"strings"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// HandleEvent applies an asynchronous channel event: a payment's result
// after 3-D Secure, a wallet payment or a bank transfer; a refund's result;
// an agreement's activation or rejection. Each takes the same record path as
// a connector's direct answer, in one transaction with its ledger postings
// and outbox event.
//
// Delivery is at least once, so HandleEvent is idempotent: a redelivered
// event (same connector and id) changes nothing, nor does late news about an
// attempt that has moved on. Events the payment core does not own
// (chargebacks, payouts, settlements) are ignored. Returns ENOTFOUND when the
// event names nothing Strait knows, so the inbox can keep it and retry (an
// event may overtake the record of the call it answers).
func (s *Service) HandleEvent(ctx context.Context, ev connectors.Event) error {
	sys := viewer.SystemContext(ctx)
	eventID := ev.Connector + ":" + ev.ID
	switch ev.Type {
	case connectors.EventPaymentResult:
		a, err := s.attemptFor(sys, ev)
		if err != nil {
			return err
		}
		if short, got := paidLess(ev, a); short {
			// Never a success for less than the price: the payment keeps
			// waiting, and the janitor's QueryPayment, or the channel's
			// next event, tells when it is paid in full.
			s.log.WarnContext(ctx, "channel reported a payment approved for less than its amount; not recorded",
				"attempt", a.ID, "connector", a.Connector, "event", eventID, "amount", got.String())
			return nil
		}
		res := resultOf(ev.Result, a.Capture)
		res.eventID, res.channelID = eventID, ev.PaymentID
		_, _, err = s.record(sys, a.ID, res, nil)
		return err
	case connectors.EventRefundResult:
		r, err := s.refundFor(sys, ev)
		if err != nil {
			return err
		}
		_, err = s.recordRefund(sys, r.ID, refundResult(ev.Result, nil), ev.ObjectID, ev.Result.Code)
		return err
	case connectors.EventAgreementResult:
		return s.agreementEvent(sys, ev, eventID)
	}
	return nil
}

// paidLess reports whether ev approves attempt a for less than a's amount,
// or in another currency: a buyer's first part of a bank transfer reported
// as the payment, say. An event without an amount says nothing about it.
func paidLess(ev connectors.Event, a *ent.PaymentAttempt) (bool, connectors.Money) {
	if ev.Result.Outcome != connectors.OutcomeApproved || ev.Amount.Currency == "" {
		return false, ev.Amount
	}
	want := contractMoney(a.Amount, a.Currency)
	e, ok := want.Scale()
	if !ok || !strings.EqualFold(ev.Amount.Currency, a.Currency) {
		return true, ev.Amount
	}
	got, err := ev.Amount.In(e)
	return err != nil || got < a.Amount, ev.Amount
}

// attemptFor finds the attempt an event is about: by Strait's reference (the
// attempt id, which every reference connector echoes), else by the channel's
// payment id. An event only speaks for its own connector's attempts.
func (s *Service) attemptFor(ctx context.Context, ev connectors.Event) (*ent.PaymentAttempt, error) {
	q := s.cfg.Client.PaymentAttempt.Query()
	switch {
	case strings.HasPrefix(ev.Reference, "att_"):
		q.Where(paymentattempt.ID(ev.Reference))
	case ev.PaymentID != "":
		q.Where(paymentattempt.ConnectorReference(ev.PaymentID))
	default:
		return nil, payments.Errorf(payments.EINVALID, "event %s names no payment", ev.ID)
	}
	if ev.Connector != "" {
		q.Where(paymentattempt.Connector(ev.Connector))
	}
	a, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "event %s: no attempt %q / %q at %s", ev.ID, ev.Reference, ev.PaymentID, ev.Connector)
	}
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return a, nil
}

func (s *Service) refundFor(ctx context.Context, ev connectors.Event) (*ent.Refund, error) {
	q := s.cfg.Client.Refund.Query()
	switch {
	case strings.HasPrefix(ev.Reference, "ref_"):
		q.Where(refund.ID(ev.Reference))
	case ev.ObjectID != "":
		q.Where(refund.ConnectorReference(ev.ObjectID))
	default:
		return nil, payments.Errorf(payments.EINVALID, "event %s names no refund", ev.ID)
	}
	r, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "event %s: no refund %q / %q", ev.ID, ev.Reference, ev.ObjectID)
	}
	return r, err
}
