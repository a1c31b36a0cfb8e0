// Package disputes turns a channel's dispute notifications (an inquiry, a
// chargeback, a pre-arbitration, a decision) into Strait's disputes: one row
// per network dispute with its timeline, the merchant's funds held in the
// ledger while a chargeback is open and settled when it ends, and an outbox
// event for every change.
//
// It has the shape of the payment core: a pure step (decide) reads the rows
// and the event and returns the writes (the dispute's fields, timeline lines,
// ledger entries, outbox events); apply writes them in one transaction.
package disputes

import (
	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/dispute"
)

// State is a dispute's state (docs/disputes.md has the lifecycle).
type State = dispute.State

// States.
const (
	WarningNeedsResponse = dispute.StateWARNING_NEEDS_RESPONSE
	WarningUnderReview   = dispute.StateWARNING_UNDER_REVIEW
	WarningClosed        = dispute.StateWARNING_CLOSED
	NeedsResponse        = dispute.StateNEEDS_RESPONSE
	UnderReview          = dispute.StateUNDER_REVIEW
	Won                  = dispute.StateWON
	Lost                 = dispute.StateLOST
	Accepted             = dispute.StateACCEPTED
)

// Stage is how far a dispute has gone with the network.
type Stage = dispute.Stage

// stageRank orders the stages: a dispute's stage never goes back.
var stageRank = map[Stage]int{dispute.StageINQUIRY: 0, dispute.StageCHARGEBACK: 1, dispute.StagePRE_ARBITRATION: 2}

// stageRule is the condition a transition puts on the stage.
type stageRule int

const (
	// sameOrLater: the stage stays or moves on (a decision may skip a
	// notification that was lost or is still on its way).
	sameOrLater stageRule = iota + 1
	// later: only a new stage makes this move (a chargeback after an
	// inquiry, a pre-arbitration after the evidence).
	later
)

// transitions is the state machine, the only place that says which move is
// allowed. A move absent from it is refused: so a notification that arrives
// late or out of order (an "under review" after the decision, a chargeback
// opening after its pre-arbitration) never moves a dispute backwards.
// WON, LOST and ACCEPTED are final.
var transitions = map[State]map[State]stageRule{
	WarningNeedsResponse: {WarningUnderReview: sameOrLater, WarningClosed: sameOrLater,
		NeedsResponse: later, UnderReview: later, Won: later, Lost: later, Accepted: later},
	WarningUnderReview: {WarningClosed: sameOrLater,
		NeedsResponse: later, UnderReview: later, Won: later, Lost: later, Accepted: later},
	WarningClosed: {NeedsResponse: later, UnderReview: later, Won: later, Lost: later, Accepted: later},
	NeedsResponse: {UnderReview: sameOrLater, Won: sameOrLater, Lost: sameOrLater, Accepted: sameOrLater,
		NeedsResponse: later},
	UnderReview: {Won: sameOrLater, Lost: sameOrLater, NeedsResponse: later, UnderReview: later},
	Won:         {},
	Lost:        {},
	Accepted:    {},
}

// canMove reports whether a dispute in from at stage fromStage may move to
// to at stage toStage.
func canMove(from State, fromStage Stage, to State, toStage Stage) bool {
	rule, ok := transitions[from][to]
	switch {
	case !ok || stageRank[toStage] < stageRank[fromStage]:
		return false
	case rule == later:
		return stageRank[toStage] > stageRank[fromStage]
	}
	return true
}

// holdsFunds reports whether a dispute in s has had the merchant's funds
// moved into the dispute hold: every state past the inquiry does.
func holdsFunds(s State) bool {
	switch s {
	case NeedsResponse, UnderReview, Won, Lost, Accepted:
		return true
	}
	return false // the warnings, and "" before the dispute exists
}

// final reports whether s ends the dispute.
func final(s State) bool {
	row, ok := transitions[s]
	return ok && len(row) == 0
}

// stageOf maps the contract's stage.
var stageOf = map[connectors.DisputeStage]Stage{
	connectors.DisputeInquiry:        dispute.StageINQUIRY,
	connectors.DisputeChargeback:     dispute.StageCHARGEBACK,
	connectors.DisputePreArbitration: dispute.StagePRE_ARBITRATION,
}

// stateOf maps what the channel says of a dispute to its state: an inquiry
// is a warning, and an inquiry decided for the merchant is closed.
func stateOf(stage connectors.DisputeStage, status connectors.DisputeStatus) (State, bool) {
	inquiry := stage == connectors.DisputeInquiry
	switch status {
	case connectors.DisputeNeedsResponse:
		return pick(inquiry, WarningNeedsResponse, NeedsResponse), true
	case connectors.DisputeUnderReview:
		return pick(inquiry, WarningUnderReview, UnderReview), true
	case connectors.DisputeWon:
		return pick(inquiry, WarningClosed, Won), true
	case connectors.DisputeLost:
		// An inquiry is never lost: the issuer files a chargeback, which
		// arrives as its own notification.
		return pick(inquiry, WarningClosed, Lost), !inquiry
	case connectors.DisputeAccepted:
		return Accepted, true
	}
	return "", false
}

func pick(inquiry bool, warning, chargeback State) State {
	if inquiry {
		return warning
	}
	return chargeback
}
