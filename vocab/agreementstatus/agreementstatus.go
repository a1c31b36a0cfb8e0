// Package agreementstatus is a recurring-payment agreement's state machine:
// its states, the events that move it, and the one table of allowed moves. A
// leaf of the vocabulary: ent stores Status (GoType), the API shows it
// (AgreementStatus), the payment core decides with Next. It imports nothing
// of Strait's.
package agreementstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is an agreement's state; the value is the stored and shown one.
type Status string

// Agreement states, in the stored enum's order (do not reorder).
const (
	// Pending: created; the buyer has not approved it at the channel yet.
	Pending Status = "PENDING"
	// Active: approved; it may be charged.
	Active Status = "ACTIVE"
	// Terminated: ended by the merchant, the buyer or the channel.
	Terminated Status = "TERMINATED"
	// Failed: the buyer or the channel refused it.
	Failed Status = "FAILED"
)

// All is every agreement state, in the stored enum's order.
var All = []Status{Pending, Active, Terminated, Failed}

// Event is something that happens to an agreement.
type Event string

// Agreement events.
const (
	Activate Event = "activate" // the channel says the buyer approved
	// Decline: the buyer or the channel refused it, or revoked it once active.
	Decline   Event = "decline"
	Terminate Event = "terminate" // ended by the merchant
)

// Events is every agreement event.
var Events = []Event{Activate, Decline, Terminate}

// transitions is the agreement state machine; a pair not here is refused.
var transitions = map[Status]map[Event]Status{
	Pending:    {Activate: Active, Decline: Failed, Terminate: Terminated},
	Active:     {Decline: Terminated, Terminate: Terminated},
	Terminated: {},
	Failed:     {},
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
