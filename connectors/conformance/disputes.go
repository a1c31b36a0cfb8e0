package conformance

import (
	"testing"

	"github.com/straitpay/strait/connectors"
)

// unknownDispute checks that a dispute the channel never opened is a hard
// "not_found" decline, not an error: the core settles on it.
func (s *suite) unknownDispute(t *testing.T) {
	r, err := s.c.FetchDispute(s.ctx(t), connectors.FetchDisputeRequest{DisputeID: s.tag + "-no-such-dispute"})
	if err != nil || r.Result.Outcome != connectors.OutcomeDeclined || r.Result.Code != "not_found" {
		t.Errorf("fetch of an unknown dispute: %+v, %v; want a not_found decline", r.Result, err)
	}
}

// disputeEvidence opens a chargeback through Config.OpenDispute and checks
// the dispute calls on it: fetched as needs_response for the payment's
// amount, evidence taken once (under_review), replayed with the same key
// and refused with another.
func (s *suite) disputeEvidence(t *testing.T) {
	if s.cfg.OpenDispute == nil {
		t.Skip("Config.OpenDispute is not set")
	}
	req, id := s.approvedPayment(t, true)
	disputeID := s.cfg.OpenDispute(t, Payment{ID: id, Reference: req.Reference, Amount: req.Amount})
	got, err := s.c.FetchDispute(s.ctx(t), connectors.FetchDisputeRequest{DisputeID: disputeID})
	if err != nil || got.Result.Outcome != connectors.OutcomeApproved {
		t.Fatalf("fetch dispute %s: %+v, %v", disputeID, got.Result, err)
	}
	d := got.Dispute
	if d.ID != disputeID || d.PaymentID != id || d.Status != connectors.DisputeNeedsResponse ||
		d.Amount.Minor != req.Amount.Minor || d.Amount.Currency != req.Amount.Currency || d.DueBy.IsZero() || d.ReasonCode == "" {
		t.Fatalf("fetched dispute %+v; want %s on %s for %s, needs_response, with a due date and reason code", d, disputeID, id, req.Amount)
	}
	key, _ := s.ids()
	ev := connectors.SubmitDisputeEvidenceRequest{IdempotencyKey: key, DisputeID: disputeID,
		Evidence: map[string]string{"uncategorized_text": "conformance kit evidence"}}
	for i := range 2 {
		r, err := s.c.SubmitDisputeEvidence(s.ctx(t), ev)
		if err != nil || r.Result.Outcome != connectors.OutcomeApproved || r.Dispute.Status != connectors.DisputeUnderReview {
			t.Fatalf("evidence (call %d, same key): %+v %s, %v; want approved, under_review", i+1, r.Result, r.Dispute.Status, err)
		}
	}
	ev.IdempotencyKey, _ = s.ids()
	again, err := s.c.SubmitDisputeEvidence(s.ctx(t), ev)
	if err != nil || again.Result.Outcome != connectors.OutcomeDeclined || again.Result.DeclineType != connectors.DeclineHard {
		t.Errorf("second evidence with another key: %+v, %v; want a hard decline", again.Result, err)
	}
}
