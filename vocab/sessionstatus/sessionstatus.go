// Package sessionstatus is a checkout session's state machine: its states,
// the events that move it, and the one table of allowed moves. A leaf of the
// vocabulary: ent stores Status (GoType), the API shows it
// (CheckoutSessionStatus), checkout decides with Next. It imports nothing of
// Strait's.
package sessionstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is a checkout session's state; the value is the stored and shown one.
type Status string

// Session states, in the stored enum's order (do not reorder).
const (
	// Open: the buyer may confirm (again, after a decline).
	Open Status = "OPEN"
	// Complete: its payment succeeded or was authorized.
	Complete Status = "COMPLETE"
	// Expired: its time ran out before a payment completed it.
	Expired Status = "EXPIRED"
	// Canceled: the merchant withdrew it.
	Canceled Status = "CANCELED"
)

// All is every session state, in the stored enum's order.
var All = []Status{Open, Complete, Expired, Canceled}

// Event is something that happens to a session.
type Event string

// Session events.
const (
	// Pay: its payment succeeded or was authorized. The money decides, never
	// the session's clock: a session that expired while the buyer was at 3-D
	// Secure completes too.
	Pay    Event = "pay"
	Expire Event = "expire" // its time ran out
	Cancel Event = "cancel" // the merchant withdrew it
)

// Events is every session event.
var Events = []Event{Pay, Expire, Cancel}

// transitions is the session state machine; a pair not here is refused.
var transitions = map[Status]map[Event]Status{
	Open:     {Pay: Complete, Expire: Expired, Cancel: Canceled},
	Complete: {},
	Expired:  {Pay: Complete},
	Canceled: {Pay: Complete},
}

// Next returns the state after e, and false if e is not allowed in s or s is
// not a state.
func Next(s Status, e Event) (Status, bool) {
	to, ok := transitions[s][e]
	return to, ok
}

// From returns the states e moves out of, in the stored enum's order: the
// WHERE of a conditional UPDATE that applies e to many sessions at once.
func From(e Event) []Status {
	var out []Status
	for _, s := range All {
		if _, ok := transitions[s][e]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Valid reports whether s is a state of this machine.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Terminal reports whether no event can move out of s.
func (s Status) Terminal() bool { return len(transitions[s]) == 0 }

// Name is the lower-case spelling events and messages use.
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

// UnmarshalGQL reads a GraphQL enum value; anything but a state of this
// machine is an error.
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
