package routing

import "slices"

// Outcome is the normalized result of a connector call, as the connector
// contract reports it.
type Outcome string

// Outcomes.
const (
	Approved       Outcome = "approved"
	Pending        Outcome = "pending"
	ActionRequired Outcome = "action_required"
	// SoftDecline is a decline another acquirer might approve (issuer
	// unavailable, do-not-honor from a risk model, try again).
	SoftDecline Outcome = "soft_decline"
	// HardDecline is a decline no retry will change (stolen card, closed
	// account, insufficient funds, invalid number).
	HardDecline Outcome = "hard_decline"
	// RetryableError means the connector says the request did not reach the
	// channel or was refused before any money moved.
	RetryableError Outcome = "error"
	// Unknown means nobody knows whether money moved (timeout, plugin crash).
	Unknown Outcome = "unknown"
)

// Failure is what went wrong with the chosen connector.
type Failure struct {
	Outcome Outcome `json:"outcome"`
	// Code is the channel's own code, kept for the record.
	Code string `json:"code,omitempty"`
}

// cascades is the cascade policy as a table: may the payment move to the next
// connector after this outcome? Only when the first call certainly did not move
// money and another acquirer could succeed. A hard decline would be declined
// again (and looks like card testing); an unknown outcome may already have
// charged the buyer, so a second call could charge twice: the janitor resolves
// it through QueryPayment instead. Success and in-flight outcomes are not
// failures at all.
var cascades = map[Outcome]bool{
	SoftDecline:    true,
	RetryableError: true,
	HardDecline:    false,
	Unknown:        false,
	Approved:       false,
	Pending:        false,
	ActionRequired: false,
}

// MaxAttempts is the number of connectors one payment may use: the first
// choice plus one cascade. More would multiply authorization holds on the
// buyer's card and the latency of a checkout that is failing anyway.
const MaxAttempts = 2

// NextAfter applies the cascade policy to a decision whose chosen connector
// failed. It returns the decision moved to the next eligible candidate not yet
// attempted, and true, only if the failure's outcome cascades (see the table
// above) and the payment has not cascaded already. Otherwise it returns d
// unchanged and false. It is pure: it uses the candidates ranked at Route time
// and does not call the connectors' health again.
func NextAfter(d Decision, f Failure) (Decision, bool) {
	if !cascades[f.Outcome] || len(d.Attempted) >= MaxAttempts {
		return d, false
	}
	for _, c := range d.Candidates {
		if c.Eligible && !slices.Contains(d.Attempted, c.Connector) {
			next := d
			next.Chosen = c.Connector
			next.Attempted = append(slices.Clone(d.Attempted), c.Connector)
			return next, true
		}
	}
	return d, false
}
