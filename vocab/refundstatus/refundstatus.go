// Package refundstatus is a refund's state machine: its states, the events
// that move it, and the one table of allowed moves. A leaf of the vocabulary:
// ent stores Status (GoType), the API shows it (RefundStatus), and the payment
// core decides with Next. It imports nothing of Strait's.
package refundstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is a refund's state; the value is the stored and shown one.
type Status string

// Refund states, in the stored enum's order (do not reorder).
const (
	// Pending: recorded; the channel has not answered yet, or answered pending.
	Pending Status = "PENDING"
	// Succeeded: the channel refunded the money.
	Succeeded Status = "SUCCEEDED"
	// Failed: the channel refused; the amount is refundable again.
	Failed Status = "FAILED"
	// Canceled: withdrawn before the channel acted.
	Canceled Status = "CANCELED"
)

// All is every refund state, in the stored enum's order.
var All = []Status{Pending, Succeeded, Failed, Canceled}

// Event is something that happens to a refund.
type Event string

// Refund events.
const (
	Succeed Event = "succeed" // the channel refunded
	Fail    Event = "fail"    // the channel refused
	Cancel  Event = "cancel"  // withdrawn before the channel acted
)

// Events is every refund event.
var Events = []Event{Succeed, Fail, Cancel}

// transitions is the refund state machine; a pair not here is refused. Only
// a pending refund moves: an answer about a finished one is late news.
var transitions = map[Status]map[Event]Status{
	Pending:   {Succeed: Succeeded, Fail: Failed, Cancel: Canceled},
	Succeeded: {},
	Failed:    {},
	Canceled:  {},
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
