// Package attemptstatus is the state machine of a payment attempt (one
// connector call for a payment): its states, the outcomes that move it, the
// one table of allowed moves, and the payment event each state maps to. A
// leaf of the vocabulary: ent stores Status (GoType), the API shows it
// (PaymentAttemptStatus), the payment core decides with Next. It imports
// nothing of Strait's but the payment machine.
package attemptstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/straitpay/strait/vocab/paymentstatus"
)

// Status is an attempt's state; the value is the stored and shown one.
type Status string

// Attempt states, in the stored enum's order (do not reorder).
const (
	// Pending: recorded, the connector call not answered yet.
	Pending Status = "PENDING"
	// ActionRequired: the channel waits for the buyer.
	ActionRequired Status = "ACTION_REQUIRED"
	// Authorized: approved, not captured (manual capture).
	Authorized Status = "AUTHORIZED"
	// Captured: approved and captured.
	Captured Status = "CAPTURED"
	// Declined: the channel said no (hard or soft).
	Declined Status = "DECLINED"
	// Errored: the connector reported a retryable error; no money moved.
	// Stored and shown as FAILED; its Name is "errored".
	Errored Status = "FAILED"
	// Unknown: nobody knows whether money moved (timeout, plugin crash).
	// Never retried blindly; the janitor asks QueryPayment on a backoff schedule.
	Unknown Status = "UNKNOWN"
	// Voided: an authorization released without capture, or lapsed.
	Voided Status = "VOIDED"
	// Expired: the buyer never finished the action.
	Expired Status = "EXPIRED"
)

// All is every attempt state, in the stored enum's order.
var All = []Status{Pending, ActionRequired, Authorized, Captured, Declined, Errored, Unknown, Voided, Expired}

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

// Outcomes is every attempt outcome.
var Outcomes = []Outcome{OutcomeApproved, OutcomeCaptured, OutcomeActionRequired, OutcomeDeclined, OutcomeError, OutcomeUnknown, OutcomeVoid, OutcomeExpire}

// transitions is the attempt state machine. The janitor resolves an unknown
// attempt through QueryPayment into whatever the channel recorded; a channel
// that never saw the request makes it errored. A repeated unknown keeps it
// unknown (the next backoff step). A payment waiting for the buyer is voided
// at the channel when the merchant cancels it; a void whose answer is lost
// leaves the attempt unknown until QueryPayment says voided (or that the buyer
// finished first).
var transitions = map[Status]map[Outcome]Status{
	Pending: {
		OutcomeApproved: Authorized, OutcomeCaptured: Captured,
		OutcomeActionRequired: ActionRequired, OutcomeDeclined: Declined,
		OutcomeError: Errored, OutcomeUnknown: Unknown,
	},
	ActionRequired: {
		OutcomeApproved: Authorized, OutcomeCaptured: Captured,
		OutcomeDeclined: Declined, OutcomeUnknown: Unknown, OutcomeExpire: Expired,
		OutcomeVoid: Voided,
	},
	Unknown: {
		OutcomeApproved: Authorized, OutcomeCaptured: Captured,
		OutcomeActionRequired: ActionRequired, OutcomeDeclined: Declined,
		OutcomeError: Errored, OutcomeUnknown: Unknown, OutcomeVoid: Voided,
	},
	// An authorization that lapses before capture is voided like a released one.
	Authorized: {OutcomeCaptured: Captured, OutcomeVoid: Voided},
	Captured:   {},
	Declined:   {},
	Errored:    {},
	Voided:     {},
	Expired:    {},
}

// paymentEvents maps an attempt's new state to the event its payment takes:
// the one place where the two machines meet. Pending and Unknown are absent:
// they do not move the payment (an unknown outcome leaves it processing until
// the janitor knows more). Errored maps to Decline: the pipeline cascades first
// and only applies it when no cascade is left.
var paymentEvents = map[Status]paymentstatus.Event{
	ActionRequired: paymentstatus.NeedAction,
	Authorized:     paymentstatus.Authorize,
	Captured:       paymentstatus.Capture,
	Declined:       paymentstatus.Decline,
	Errored:        paymentstatus.Decline,
	Voided:         paymentstatus.Cancel,
	Expired:        paymentstatus.Decline,
}

// Next returns the attempt state after o, and false if o is not allowed in s
// (a late callback for a voided attempt, a capture of a declined one) or s is
// not a state. Callers deduplicate channel events by id first, so a refusal
// is a real disagreement worth an alert.
func Next(s Status, o Outcome) (Status, bool) {
	to, ok := transitions[s][o]
	return to, ok
}

// PaymentEvent is the event a payment takes when its attempt becomes s, and
// false for states that do not move the payment.
func (s Status) PaymentEvent() (paymentstatus.Event, bool) {
	e, ok := paymentEvents[s]
	return e, ok
}

// Valid reports whether s is an attempt state.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no outcome can move an attempt out of s.
func (s Status) Terminal() bool { return len(transitions[s]) == 0 }

// Name is the lower-case spelling events and messages use; Errored's is
// "errored" although it is stored as FAILED.
func (s Status) Name() string {
	if s == Errored {
		return "errored"
	}
	return strings.ToLower(string(s))
}

// Values lists the stored enum's values, for ent.
func (Status) Values() []string {
	out := make([]string, len(All))
	for i, s := range All {
		out[i] = string(s)
	}
	return out
}

// MarshalGQL writes s as the GraphQL enum value.
func (s Status) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads a GraphQL enum value; anything but an attempt state is
// an error.
func (s *Status) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("enum %T must be a string", v)
	}
	if !Status(str).Valid() {
		return fmt.Errorf("%s is not a valid Status", str)
	}
	*s = Status(str)
	return nil
}
