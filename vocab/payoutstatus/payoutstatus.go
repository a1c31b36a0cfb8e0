// Package payoutstatus is a payout's state machine: its states, the events
// that move it, and the one table of allowed moves. A leaf of the
// vocabulary: ent stores Status (GoType), the API shows it (PayoutStatus),
// and payments/payouts decides with Next. It imports nothing of Strait's.
package payoutstatus

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Status is a payout's state; the value is the stored and shown one.
type Status string

// Payout states, in the stored enum's order (do not reorder).
const (
	// Pending: the funds are set aside (in transit in the ledger); the bank
	// has not accepted the payout yet: it is due later, not sent yet, or its
	// call's outcome is unknown.
	Pending Status = "PENDING"
	// InTransit: the bank accepted it; its result comes by event.
	InTransit Status = "IN_TRANSIT"
	// Paid: the bank reports the money reached the account.
	Paid Status = "PAID"
	// Failed: the bank refused or returned it; the funds are back in available.
	Failed Status = "FAILED"
	// Canceled: withdrawn before it was sent; the funds are back in available.
	Canceled Status = "CANCELED"
)

// All is every payout state, in the stored enum's order.
var All = []Status{Pending, InTransit, Paid, Failed, Canceled}

// Event is something that happens to a payout.
type Event string

// Payout events.
const (
	Accept Event = "accept" // the bank took the payout and will answer later
	Pay    Event = "pay"    // the bank reports it paid
	Fail   Event = "fail"   // the bank refused or returned it
	Cancel Event = "cancel" // the merchant withdrew it before it was sent
)

// Events is every payout event.
var Events = []Event{Accept, Pay, Fail, Cancel}

// transitions is the payout state machine; a pair not here is refused. The
// bank's result may come before its answer to the call (an event racing
// the response), so a pending payout may be paid or fail directly. Only a
// pending payout can be canceled (payouts.Cancel also requires it unsent).
var transitions = map[Status]map[Event]Status{
	Pending:   {Accept: InTransit, Pay: Paid, Fail: Failed, Cancel: Canceled},
	InTransit: {Pay: Paid, Fail: Failed},
	Paid:      {},
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
