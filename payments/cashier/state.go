// Package cashier is the payment pipeline: checkout sessions, payments and their
// attempts. This file holds the two state machines, as tables.
package cashier

import (
	"sort"

	"github.com/straitpay/strait/payments"
)

// State is a payment's state, named as frontends know them from Stripe's
// PaymentIntent.
type State string

// Payment states.
const (
	RequiresPaymentMethod State = "requires_payment_method"
	RequiresAction        State = "requires_action"
	Processing            State = "processing"
	RequiresCapture       State = "requires_capture"
	Succeeded             State = "succeeded"
	Canceled              State = "canceled"
	Failed                State = "failed"
)

// Event is something that happens to a payment.
type Event string

// Payment events.
const (
	// Confirm: the buyer confirmed with a payment method; an attempt starts.
	Confirm Event = "confirm"
	// NeedAction: the channel asked for 3-D Secure, a redirect, a QR code or a
	// bank transfer.
	NeedAction Event = "need_action"
	// ActionDone: the buyer finished the action; the channel is deciding.
	ActionDone Event = "action_done"
	// Authorize: the channel approved a manual-capture payment.
	Authorize Event = "authorize"
	// Capture: the money is captured (an automatic-capture approval, or the
	// merchant's capture of an authorization).
	Capture Event = "capture"
	// Decline: the attempt was declined or the action failed; the buyer may try
	// another method.
	Decline Event = "decline"
	// Fail: the payment cannot succeed any more (attempts exhausted, or a
	// decline the merchant chose not to retry).
	Fail Event = "fail"
	// Cancel: the merchant canceled, the session expired, or an authorization
	// was voided or lapsed.
	Cancel Event = "cancel"
)

// transitions is the payment state machine. A pair that is not here is refused.
// There is no way out of Processing except through the channel's answer: an
// unknown outcome keeps the payment Processing until the janitor learns it.
var transitions = map[State]map[Event]State{
	RequiresPaymentMethod: {Confirm: Processing, Fail: Failed, Cancel: Canceled},
	Processing: {
		NeedAction: RequiresAction, Authorize: RequiresCapture, Capture: Succeeded,
		Decline: RequiresPaymentMethod, Fail: Failed,
	},
	RequiresAction: {
		ActionDone: Processing, Authorize: RequiresCapture, Capture: Succeeded,
		Decline: RequiresPaymentMethod, Fail: Failed, Cancel: Canceled,
	},
	RequiresCapture: {Capture: Succeeded, Cancel: Canceled},
	Succeeded:       {},
	Canceled:        {},
	Failed:          {},
}

// Next returns the state after e. Returns ECONFLICT if e is not allowed in s
// (confirming twice, capturing a canceled payment), EINVALID for an unknown
// state.
func Next(s State, e Event) (State, error) {
	out, ok := transitions[s]
	if !ok {
		return "", payments.Errorf(payments.EINVALID, "unknown payment state %q", s)
	}
	to, ok := out[e]
	if !ok {
		return "", payments.Errorf(payments.ECONFLICT, "a payment that is %s cannot %s", s, e)
	}
	return to, nil
}

// Terminal reports whether no event can move a payment out of s.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Events returns the events allowed in s, sorted, for error messages and UIs.
func (s State) Events() []Event {
	var es []Event
	for e := range transitions[s] {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i] < es[j] })
	return es
}

// AttemptState is the state of one connector call for a payment.
type AttemptState string

// Attempt states.
const (
	// AttemptPending: recorded, the connector call not answered yet.
	AttemptPending AttemptState = "pending"
	// AttemptActionRequired: the channel waits for the buyer.
	AttemptActionRequired AttemptState = "action_required"
	// AttemptAuthorized: approved, not captured (manual capture).
	AttemptAuthorized AttemptState = "authorized"
	// AttemptCaptured: approved and captured.
	AttemptCaptured AttemptState = "captured"
	// AttemptDeclined: the channel said no (hard or soft).
	AttemptDeclined AttemptState = "declined"
	// AttemptErrored: the connector reported a retryable error; no money moved.
	AttemptErrored AttemptState = "errored"
	// AttemptUnknown: nobody knows whether money moved (timeout, plugin crash).
	// Never retried blindly; the janitor asks QueryPayment on a backoff schedule.
	AttemptUnknown AttemptState = "unknown"
	// AttemptVoided: an authorization released without capture, or lapsed.
	AttemptVoided AttemptState = "voided"
	// AttemptExpired: the buyer never finished the action.
	AttemptExpired AttemptState = "expired"
)

// Outcome is the connector's normalized answer (or the janitor's finding)
// applied to an attempt, plus the merchant's capture and void.
type Outcome string

// Attempt outcomes.
const (
	OutcomeApproved       Outcome = "approved"        // authorized, manual capture
	OutcomeCaptured       Outcome = "captured"        // approved with capture, or captured later
	OutcomeActionRequired Outcome = "action_required" // 3-D Secure, redirect, QR, transfer
	OutcomeDeclined       Outcome = "declined"
	OutcomeError          Outcome = "error"   // retryable, no money moved
	OutcomeUnknown        Outcome = "unknown" // timeout or crash
	OutcomeVoid           Outcome = "void"    // released or canceled at the channel by the merchant, or lapsed
	OutcomeExpire         Outcome = "expire"  // the buyer abandoned the action
)

// attemptTransitions is the attempt state machine. The janitor resolves an
// unknown attempt through QueryPayment into whatever the channel recorded; a
// channel that never saw the request makes it errored. A repeated unknown keeps
// it unknown (the next backoff step). A payment waiting for the buyer is
// voided at the channel when the merchant cancels it; a void whose answer is
// lost leaves the attempt unknown until QueryPayment says voided (or that the
// buyer finished first).
var attemptTransitions = map[AttemptState]map[Outcome]AttemptState{
	AttemptPending: {
		OutcomeApproved: AttemptAuthorized, OutcomeCaptured: AttemptCaptured,
		OutcomeActionRequired: AttemptActionRequired, OutcomeDeclined: AttemptDeclined,
		OutcomeError: AttemptErrored, OutcomeUnknown: AttemptUnknown,
	},
	AttemptActionRequired: {
		OutcomeApproved: AttemptAuthorized, OutcomeCaptured: AttemptCaptured,
		OutcomeDeclined: AttemptDeclined, OutcomeUnknown: AttemptUnknown, OutcomeExpire: AttemptExpired,
		OutcomeVoid: AttemptVoided,
	},
	AttemptUnknown: {
		OutcomeApproved: AttemptAuthorized, OutcomeCaptured: AttemptCaptured,
		OutcomeActionRequired: AttemptActionRequired, OutcomeDeclined: AttemptDeclined,
		OutcomeError: AttemptErrored, OutcomeUnknown: AttemptUnknown, OutcomeVoid: AttemptVoided,
	},
	// An authorization that lapses before capture is voided like a released one.
	AttemptAuthorized: {OutcomeCaptured: AttemptCaptured, OutcomeVoid: AttemptVoided},
	AttemptCaptured:   {},
	AttemptDeclined:   {},
	AttemptErrored:    {},
	AttemptVoided:     {},
	AttemptExpired:    {},
}

// NextAttempt returns the attempt state after o. Returns ECONFLICT if o is not
// allowed in s (a late callback for a voided attempt, a capture of a declined
// one), EINVALID for an unknown state. Callers deduplicate channel events by id
// before calling, so ECONFLICT here means a real disagreement worth an alert.
func NextAttempt(s AttemptState, o Outcome) (AttemptState, error) {
	out, ok := attemptTransitions[s]
	if !ok {
		return "", payments.Errorf(payments.EINVALID, "unknown attempt state %q", s)
	}
	to, ok := out[o]
	if !ok {
		return "", payments.Errorf(payments.ECONFLICT, "an attempt that is %s cannot become %s", s, o)
	}
	return to, nil
}

// Terminal reports whether no outcome can move an attempt out of s.
func (s AttemptState) Terminal() bool { return len(attemptTransitions[s]) == 0 }

// PaymentEvent maps an attempt's new state to the event its payment takes:
// the one place where the two machines meet. It returns false for states that
// do not move the payment (pending, and unknown, which leaves the payment
// processing until the janitor knows more). Errored maps to Decline: the
// pipeline cascades first (routing.NextAfter) and only applies it when no
// cascade is left.
func PaymentEvent(s AttemptState) (Event, bool) {
	e, ok := map[AttemptState]Event{
		AttemptActionRequired: NeedAction,
		AttemptAuthorized:     Authorize,
		AttemptCaptured:       Capture,
		AttemptDeclined:       Decline,
		AttemptErrored:        Decline,
		AttemptVoided:         Cancel,
		AttemptExpired:        Decline,
	}[s]
	return e, ok
}
