// Package reviewstatus is the state machine of a payment's manual review: its
// states, the events that move it, and the one table of allowed moves. A
// payment never sent to review has no review status (a null column); Opened is
// the one way in. A leaf of the vocabulary: it imports nothing of Strait's.
package reviewstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is a review's state; the value is the stored one.
type Status string

// Review states, in the stored enum's order (do not reorder).
const (
	// Open: the payment is authorized and waits for a person (or the channel).
	Open Status = "OPEN"
	// Approved: captured, or left to capture.
	Approved Status = "APPROVED"
	// Rejected: the authorization is voided.
	Rejected Status = "REJECTED"
)

// All is every review state, in the stored enum's order.
var All = []Status{Open, Approved, Rejected}

// Opened is the state a review starts in.
const Opened = Open

// Event is something that happens to a review.
type Event string

// Review events.
const (
	Approve Event = "approve" // an operator or the channel approved
	Reject  Event = "reject"  // an operator or the channel rejected
)

// Events is every review event.
var Events = []Event{Approve, Reject}

// transitions is the review state machine; a pair not here is refused: a
// closed review stays closed.
var transitions = map[Status]map[Event]Status{
	Open:     {Approve: Approved, Reject: Rejected},
	Approved: {},
	Rejected: {},
}

// Next returns the state after e, and false if e is not allowed in s or s is
// not a state.
func Next(s Status, e Event) (Status, bool) {
	to, ok := transitions[s][e]
	return to, ok
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
