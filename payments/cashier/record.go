package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/routing"
)

// paymentEventTypes names the outbox event of each state a payment enters.
// Back in requires_payment_method means the attempt failed and the buyer may
// try again; failed means the payment is over.
var paymentEventTypes = map[State]string{
	RequiresAction:        "payment.requires_action",
	Processing:            "payment.processing",
	RequiresCapture:       "payment.requires_capture",
	Succeeded:             "payment.succeeded",
	RequiresPaymentMethod: "payment.failed",
	Failed:                "payment.failed",
	Canceled:              "payment.canceled",
}

// record is step 7: in one transaction, the attempt takes the result, the
// payment takes the matching event, a capture posts to the ledger, and the
// outbox gets the event. Every source of results (the connector's answer,
// the janitor's QueryPayment, a channel event) comes through here, so an
// attempt's story is told by one state machine.
//
// With route set (the live pipeline), a soft decline or retryable error
// cascades: the failed attempt is recorded, the payment stays processing,
// and the next attempt is written in the same transaction and returned.
//
// A result that arrives late, for an attempt that has moved on (a duplicate
// event, the janitor racing a webhook), changes nothing. A result that
// contradicts a final state is logged as a disagreement and changes nothing.
func (s *Service) record(ctx context.Context, attemptID string, res result, route *routing.Decision) (*ent.Payment, *cascade, error) {
	att, err := s.cfg.Client.PaymentAttempt.Get(ctx, attemptID)
	if err != nil {
		return nil, nil, fmt.Errorf("record %s: %w", attemptID, err)
	}
	return s.recordAttempt(ctx, att, res, route)
}

// recordAttempt is record for an attempt the caller holds (the pipeline
// wrote it): its payment, merchant, connector and amount never change, and
// its state is read again under the payment's lock.
func (s *Service) recordAttempt(ctx context.Context, att *ent.PaymentAttempt, res result, route *routing.Decision) (*ent.Payment, *cascade, error) {
	attemptID := att.ID
	var err error
	var capture *captureMove
	if res.outcome == OutcomeCaptured {
		if capture, err = s.prepareCapture(ctx, att.MerchantID, att.Connector, att.Amount, att.Currency); err != nil {
			return nil, nil, fmt.Errorf("record %s: %w", attemptID, err)
		}
	}
	var out *ent.Payment
	var next *cascade
	err = s.tx(ctx, func(tx *ent.Tx) error {
		p, err := s.lockPayment(ctx, tx, att.PaymentID)
		if err != nil {
			return err
		}
		out = p
		a, err := tx.PaymentAttempt.Get(ctx, attemptID)
		if err != nil {
			return err
		}
		if res.eventID != "" && a.LastEventID == res.eventID {
			return nil // a redelivered channel event
		}
		from := attemptStateOf(a.Status)
		// An UPDATE by id, not UpdateOne: MySQL has no RETURNING, so ent would
		// read the row back, and nothing below needs the columns it changes.
		upd := tx.PaymentAttempt.Update().Where(paymentattempt.ID(a.ID))
		if res.channelID != "" && a.ConnectorReference == "" {
			upd.SetConnectorReference(res.channelID)
		}
		if res.eventID != "" {
			upd.SetLastEventID(res.eventID)
		}
		if res.outcome == "" {
			// Still in flight at the channel: look again later.
			n := a.CheckCount
			if res.check {
				n++
			}
			return upd.SetCheckCount(n).SetNextCheckAt(s.nextCheck(n)).Exec(ctx)
		}
		to, err := NextAttempt(from, res.outcome)
		if err != nil {
			if stale(from, res.outcome) {
				s.log.InfoContext(ctx, "stale result ignored", "attempt", a.ID, "state", from, "outcome", res.outcome)
				if res.check && a.NextCheckAt != nil {
					return upd.SetCheckCount(a.CheckCount + 1).SetNextCheckAt(s.nextCheck(a.CheckCount + 1)).Exec(ctx)
				}
				return nil
			}
			s.log.ErrorContext(ctx, "channel disagrees with a final attempt", "attempt", a.ID, "state", from,
				"outcome", res.outcome, "code", res.code)
			return payments.Errorf(payments.ECONFLICT, "attempt %s is %s and cannot become %s", a.ID, from, res.outcome)
		}
		upd.SetStatus(entAttemptState(to))
		checks := a.CheckCount
		if res.check {
			checks++
			upd.SetCheckCount(checks)
		}
		switch {
		case to == AttemptUnknown:
			upd.SetNextCheckAt(s.nextCheck(checks))
		case to == AttemptActionRequired:
			upd.SetNextCheckAt(s.now().Add(s.cfg.ActionTTL))
		case to == AttemptPending:
		default:
			upd.ClearNextCheckAt().SetResolvedAt(s.now())
		}
		if to == AttemptDeclined || to == AttemptErrored || to == AttemptExpired {
			upd.SetDeclineCode(clip(res.code, 64)).SetErrorMessage(clip(res.message, 500))
			if to == AttemptDeclined && res.declineType.String() != "" {
				upd.SetDeclineType(paymentattempt.DeclineType(upperASCII(res.declineType.String())))
			}
		}
		if err := upd.Exec(ctx); err != nil {
			return fmt.Errorf("attempt %s: %w", attemptID, err)
		}
		a.Status = entAttemptState(to)

		if route != nil && (to == AttemptDeclined || to == AttemptErrored) {
			if moved, ok := routing.NextAfter(*route, res.failure()); ok {
				na, err := s.createAttempt(ctx, tx, p, moved, a.RiskDecision, seedOf(a), len(moved.Attempted))
				if err != nil {
					return err
				}
				if _, err := tx.Payment.UpdateOne(p).SetConnector(moved.Chosen).Save(ctx); err != nil {
					return err
				}
				s.log.InfoContext(ctx, "cascading", "payment", p.ID, "from", a.Connector, "to", moved.Chosen, "code", res.code)
				next = &cascade{attempt: na, route: moved}
				return nil
			}
		}
		out, err = s.applyToPayment(ctx, tx, p, a, to, res, capture)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("record %s: %w", attemptID, err)
	}
	// The payment as the transaction left it (read under its lock, or
	// written by it), detached from the committed transaction.
	return out.Unwrap(), next, nil
}

// stale reports whether a result that the attempt machine refuses is only
// late news: the attempt already took this outcome or moved past it.
func stale(from AttemptState, o Outcome) bool {
	switch {
	case from.Terminal():
		return true
	case from == AttemptAuthorized:
		return o == OutcomeApproved || o == OutcomeActionRequired || o == OutcomeUnknown || o == OutcomeError
	case from == AttemptActionRequired:
		return o == OutcomeActionRequired || o == OutcomeError
	}
	return false
}

// applyToPayment moves the payment by the attempt's new state and writes what
// goes with it: the capture's ledger entry and the outbox event.
func (s *Service) applyToPayment(ctx context.Context, tx *ent.Tx, p *ent.Payment, a *ent.PaymentAttempt,
	to AttemptState, res result, capture *captureMove) (*ent.Payment, error) {
	ev, ok := PaymentEvent(to)
	if !ok {
		return p, nil // pending or unknown: the payment stays processing
	}
	if ev == Decline && p.AgreementID != "" {
		ev = Fail // a merchant-initiated charge has no buyer to try again
	}
	pto, err := Next(stateOf(p.Status), ev)
	if err != nil {
		s.log.ErrorContext(ctx, "attempt result does not fit the payment", "payment", p.ID, "state", p.Status,
			"attempt", a.ID, "attempt_state", to)
		return p, nil
	}
	now := s.now()
	upd := tx.Payment.UpdateOne(p).SetStatus(entState(pto)).SetConnector(a.Connector)
	switch pto {
	case RequiresAction:
		upd.SetNextAction(nextActionData(res.action))
	case RequiresCapture:
		upd.ClearNextAction().SetAmountCapturable(a.Amount).SetCaptureBefore(now.Add(s.cfg.AuthorizationWindow))
	case Succeeded:
		if capture == nil {
			return nil, fmt.Errorf("payment %s captured without a prepared capture", p.ID)
		}
		upd.ClearNextAction().SetAmountCapturable(0).SetAmountCaptured(capture.amount.Minor).SetFeeAmount(capture.fee)
	case RequiresPaymentMethod, Failed:
		upd.ClearNextAction().SetFailureCode(clip(res.code, 64)).SetFailureMessage(clip(res.message, 500))
	case Canceled:
		upd.ClearNextAction().SetAmountCapturable(0).SetCanceledAt(now)
	case Processing:
		upd.ClearNextAction()
	}
	p, err = upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", p.ID, err)
	}
	if p.CheckoutSessionID != "" && s.cfg.Sessions != nil {
		if err := s.cfg.Sessions.Settle(ctx, tx, p.CheckoutSessionID, pto); err != nil {
			return nil, fmt.Errorf("payment %s: session %s: %w", p.ID, p.CheckoutSessionID, err)
		}
	}
	data := map[string]any{"attempt_id": a.ID, "connector": a.Connector}
	if res.code != "" && (pto == RequiresPaymentMethod || pto == Failed) {
		data["failure_code"] = res.code
	}
	if pto == RequiresAction && res.action != nil {
		data["next_action"] = nextActionData(res.action)
	}
	if err := s.emit(ctx, tx, p, paymentEventTypes[pto], data); err != nil {
		return nil, err
	}
	// The ledger posts last. Its accounts (the channel's receivable, the
	// platform's fees) are shared by every payment, and their row locks last
	// until the commit: every statement after the post would hold every other
	// capture up (docs/performance.md). The payment row, locked first, still
	// comes before the accounts, as everywhere.
	if pto == Succeeded {
		if err := s.postCapture(ctx, tx, p, capture); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// emit writes an outbox event about a payment in tx.
func (s *Service) emit(ctx context.Context, tx *ent.Tx, p *ent.Payment, typ string, extra map[string]any) error {
	data := map[string]any{
		"payment_id": p.ID, "status": string(stateOf(p.Status)), "amount": p.Amount, "currency": p.Currency,
		"amount_captured": p.AmountCaptured, "amount_refunded": p.AmountRefunded,
	}
	for k, v := range extra {
		data[k] = v
	}
	return s.emitRaw(ctx, tx, p.MerchantID, typ, p.ID, data)
}

func (s *Service) emitRaw(ctx context.Context, tx *ent.Tx, merchantID, typ, objectID string, data map[string]any) error {
	if _, err := tx.Event.Create().SetMerchantID(merchantID).SetType(typ).SetObjectID(objectID).
		SetData(data).SetCreatedAt(s.now()).Save(ctx); err != nil {
		return fmt.Errorf("outbox %s: %w", typ, err)
	}
	return nil
}

// seedOf recovers nothing secret: cascades derive their key from the failed
// attempt's, so a replayed confirmation finds the same second attempt.
func seedOf(a *ent.PaymentAttempt) string { return a.ChannelIdempotencyKey }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
