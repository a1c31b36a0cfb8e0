package connectors

import "fmt"

// Outcome is the normalized result of a channel call.
type Outcome int

// The zero Outcome is OutcomeUnknown: an answer that forgot to set an
// outcome must never be read as a success or a safe failure.
const (
	// OutcomeUnknown means the channel may or may not have acted. The
	// attempt is resolved later through QueryPayment; it is never retried.
	OutcomeUnknown Outcome = iota
	// OutcomeApproved means the channel did what was asked.
	OutcomeApproved
	// OutcomePending means the channel accepted the request and will
	// report the result asynchronously (an Event, or QueryPayment).
	OutcomePending
	// OutcomeActionRequired means the buyer must act first (NextAction).
	OutcomeActionRequired
	// OutcomeDeclined means the channel refused; see DeclineType and Code.
	OutcomeDeclined
	// OutcomeError means the request did not take effect; it may be
	// retried when Result.Retryable is true.
	OutcomeError
)

var outcomeNames = [...]string{"unknown", "approved", "pending", "action_required", "declined", "error"}

// String returns the lower-case name of o, as used in logs and metrics.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// Final reports whether o settles the call: approved or declined.
func (o Outcome) Final() bool { return o == OutcomeApproved || o == OutcomeDeclined }

// DeclineType says whether a decline may succeed on a later attempt.
type DeclineType int

const (
	// DeclineNone is the DeclineType of anything that is not a decline.
	DeclineNone DeclineType = iota
	// DeclineHard means retrying the same instrument will not succeed
	// (stolen card, closed account, invalid number).
	DeclineHard
	// DeclineSoft means a later or different attempt may succeed
	// (insufficient funds, issuer unavailable, authentication required).
	DeclineSoft
)

// String returns "hard", "soft" or "" for DeclineNone.
func (d DeclineType) String() string {
	switch d {
	case DeclineHard:
		return "hard"
	case DeclineSoft:
		return "soft"
	}
	return ""
}

// Result is the normalized outcome every answer carries, with the
// channel's own code and message kept as the channel sent them.
type Result struct {
	Outcome     Outcome
	DeclineType DeclineType
	Code        string
	Message     string
	Retryable   bool
}

// Approved returns a Result with OutcomeApproved.
func Approved() Result { return Result{Outcome: OutcomeApproved} }

// Pending returns a Result with OutcomePending.
func Pending() Result { return Result{Outcome: OutcomePending} }

// ActionRequired returns a Result with OutcomeActionRequired.
func ActionRequired() Result { return Result{Outcome: OutcomeActionRequired} }

// Declined returns a Result with OutcomeDeclined and the channel's code.
func Declined(t DeclineType, code, message string) Result {
	return Result{Outcome: OutcomeDeclined, DeclineType: t, Code: code, Message: message}
}

// Failed returns a Result with OutcomeError; retryable says whether the
// same request may be sent again.
func Failed(retryable bool, code, message string) Result {
	return Result{Outcome: OutcomeError, Code: code, Message: message, Retryable: retryable}
}

// Unknown returns a Result with OutcomeUnknown.
func Unknown(message string) Result { return Result{Outcome: OutcomeUnknown, Message: message} }
