// Package paymentstatus is a payment's state machine: its states, the events
// that move it, and the one table that says which moves are allowed. It is a
// leaf of the vocabulary: the data model stores Status (ent's GoType), the API
// shows it (the GraphQL enum PaymentStatus), and the payment core decides
// with Next. It imports nothing of Strait's.
package paymentstatus

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Status is a payment's state, named as frontends know them from Stripe's
// PaymentIntent. The value is what the database and the API store and show;
// Name is Stripe's lower-case spelling that events and messages use.
type Status string

// Payment states, in the order of the stored enum (its column type depends on
// it: do not reorder).
const (
	RequiresPaymentMethod Status = "REQUIRES_PAYMENT_METHOD"
	RequiresAction        Status = "REQUIRES_ACTION"
	Processing            Status = "PROCESSING"
	RequiresCapture       Status = "REQUIRES_CAPTURE"
	Succeeded             Status = "SUCCEEDED"
	Canceled              Status = "CANCELED"
	Failed                Status = "FAILED"
)

// All is every payment state, in the stored enum's order.
var All = []Status{RequiresPaymentMethod, RequiresAction, Processing, RequiresCapture, Succeeded, Canceled, Failed}

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

// Events is every payment event.
var Events = []Event{Confirm, NeedAction, ActionDone, Authorize, Capture, Decline, Fail, Cancel}

// transitions is the payment state machine. A pair that is not here is refused.
// There is no way out of Processing except through the channel's answer: an
// unknown outcome keeps the payment Processing until the janitor learns it.
var transitions = map[Status]map[Event]Status{
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

// Next returns the state after e, and false if e is not allowed in s
// (confirming twice, capturing a canceled payment) or s is not a state.
func Next(s Status, e Event) (Status, bool) {
	to, ok := transitions[s][e]
	return to, ok
}

// Valid reports whether s is a payment state.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no event can move a payment out of s.
func (s Status) Terminal() bool { return len(transitions[s]) == 0 }

// Events returns the events allowed in s, sorted, for error messages and UIs.
func (s Status) Events() []Event {
	var es []Event
	for e := range transitions[s] {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i] < es[j] })
	return es
}

// Name is Stripe's spelling of s ("requires_capture"): the one events and
// error messages use.
func (s Status) Name() string { return strings.ToLower(string(s)) }

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

// UnmarshalGQL reads a GraphQL enum value; anything but a payment state is an
// error.
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
