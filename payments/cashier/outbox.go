package cashier

import (
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
)

// The outbox events of attempts, captures and checkout sessions, beside
// the payment's own (paymentEvent). Each is added to the writes of the step
// that makes its change, so it commits with it and is written once per
// change: a replayed request or a redelivered result changes nothing and
// writes none. No event carries card data or the channel's free-text
// message, only codes.
const (
	// eventPaymentCaptured follows payment.succeeded in the capture's
	// transaction: the amount captured (partial captures included).
	eventPaymentCaptured = "payment.captured"
	// eventAttemptCreated: an attempt is written (a confirm's first, a
	// cascade's next).
	eventAttemptCreated = "payment_attempt.created"
	// eventAttemptFailed: an attempt declined, errored or expired; the
	// payment may be retried (or cascades), or is over (payment.failed
	// says which).
	eventAttemptFailed = "payment_attempt.failed"
	// eventSessionCompleted: a checkout session's payment was authorized
	// or succeeded, completing the session.
	eventSessionCompleted = "checkout_session.completed"
)

// capturedEvent is payment.captured for p, just captured on attempt a for
// amount (minor units of p's currency).
func capturedEvent(p *ent.Payment, a *ent.PaymentAttempt, amount int64) eventRow {
	return paymentEvent(p, eventPaymentCaptured, map[string]any{
		"amount": amount, "attempt_id": a.ID, "connector": a.Connector,
	})
}

// attemptCreatedEvents are the payment_attempt.created events of new
// attempts.
func attemptCreatedEvents(atts []attemptRow) []eventRow {
	out := make([]eventRow, len(atts))
	for i, a := range atts {
		out[i] = eventRow{merchantID: a.MerchantID, typ: eventAttemptCreated, objectID: a.ID, sessionID: a.sessionID, data: map[string]any{
			"attempt_id": a.ID, "payment_id": a.PaymentID, "connector": a.Connector,
			"amount": a.Amount, "currency": a.Currency, "capture": a.Capture,
		}}
	}
	return out
}

// attemptFailedEvent is payment_attempt.failed for attempt a of payment p,
// which entered the failed state to with the channel's result res.
func attemptFailedEvent(p *ent.Payment, a *ent.PaymentAttempt, to attemptstatus.Status, res result) eventRow {
	data := map[string]any{
		"attempt_id": a.ID, "payment_id": a.PaymentID, "connector": a.Connector,
		"status": to.Name(), "amount": a.Amount, "currency": a.Currency,
		"decline_code": clip(res.code, 64),
	}
	if to == attemptstatus.Declined && res.declineType.String() != "" {
		data["decline_type"] = upperASCII(res.declineType.String())
	}
	return eventRow{merchantID: a.MerchantID, typ: eventAttemptFailed, objectID: a.ID, sessionID: p.CheckoutSessionID, data: data}
}

// attemptFailed reports whether an attempt entering to has failed.
func attemptFailed(to attemptstatus.Status) bool {
	return to == attemptstatus.Declined || to == attemptstatus.Errored || to == attemptstatus.Expired
}

// sessionCompletedEvent is checkout_session.completed for p's session, if
// p entering to from from completes it: the payment's first authorization.
// A session is completed only by its payment's authorization (a session
// has at most one payment not failed or canceled), so this is the one
// transition of the session's row to COMPLETE (settleSessions).
func sessionCompletedEvent(p *ent.Payment, from, to paymentstatus.Status) (eventRow, bool) {
	if p.CheckoutSessionID == "" || sessionEffects[to] != completeSession || authorized(from) {
		return eventRow{}, false
	}
	return eventRow{merchantID: p.MerchantID, typ: eventSessionCompleted, objectID: p.CheckoutSessionID, sessionID: p.CheckoutSessionID, data: map[string]any{
		"checkout_session_id": p.CheckoutSessionID, "payment_id": p.ID, "status": sessionstatus.Complete.Name(),
		"amount": p.Amount, "currency": p.Currency,
	}}, true
}
