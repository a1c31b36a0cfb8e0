package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Dispute stages and statuses (API.md, "Disputes").
const (
	disputeStageInquiry    = "inquiry"
	disputeStageChargeback = "chargeback"
	disputeStagePreArb     = "pre_arbitration"

	disputeNeedsResponse = "needs_response"
	disputeUnderReview   = "under_review"
	disputeWon           = "won"
	disputeLost          = "lost"
	disputeAccepted      = "accepted"
)

// WinningEvidence is the convention that decides a submitted dispute: the
// issuer finds for the merchant when any evidence field contains it, and for
// the cardholder otherwise.
const WinningEvidence = "winning_evidence"

// disputeScenario is what a dispute test card opens.
type disputeScenario struct {
	stage, reasonCode, reason string
	preArbitration            bool
}

var disputeScenarios = map[string]disputeScenario{
	scenarioChargeback:  {stage: disputeStageChargeback, reasonCode: "10.4", reason: "fraudulent"},
	scenarioInquiry:     {stage: disputeStageInquiry, reasonCode: "33", reason: "retrieval_request"},
	scenarioNotReceived: {stage: disputeStageChargeback, reasonCode: "13.1", reason: "merchandise_not_received"},
	scenarioPreArb:      {stage: disputeStageChargeback, reasonCode: "10.4", reason: "fraudulent", preArbitration: true},
}

// evidenceFile is what the sandbox keeps of an evidence file: never its
// content.
type evidenceFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Purpose     string `json:"purpose"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// evidenceSubmission is one answer to a dispute at one stage.
type evidenceSubmission struct {
	Stage       string            `json:"stage"`
	Fields      map[string]string `json:"fields"`
	Files       []evidenceFile    `json:"files"`
	SubmittedAt time.Time         `json:"submitted_at"`
}

type evidenceRequest struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Fields         map[string]string `json:"fields"`
	Files          []evidenceFile    `json:"files"`
}

type disputeAnswer struct {
	Status         string     `json:"status"`
	DeclineType    string     `json:"decline_type,omitempty"`
	DeclineCode    string     `json:"decline_code,omitempty"`
	DeclineMessage string     `json:"decline_message,omitempty"`
	Dispute        chargeback `json:"dispute"`
}

// findDispute returns the card payment holding dispute id. Callers hold s.mu.
func (s *Server) findDispute(id string) (*cardRecord, *chargeback) {
	for _, rec := range s.st.cards {
		for i := range rec.Chargebacks {
			if rec.Chargebacks[i].ID == id {
				return rec, &rec.Chargebacks[i]
			}
		}
	}
	return nil, nil
}

func (s *Server) handleGetDispute(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, cb := s.findDispute(r.PathValue("id"))
	if cb == nil {
		s.writeError(w, r, notFound("dispute", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, cb)
}

// handleDisputeEvidence takes the merchant's answer at the dispute's current
// stage, once: the same idempotency key replays it, another key is declined
// "already_submitted"; after due_by it is declined "past_due".
func (s *Server) handleDisputeEvidence(w http.ResponseWriter, r *http.Request) {
	var req evidenceRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.IdempotencyKey == "" || (len(req.Fields) == 0 && len(req.Files) == 0) {
		s.writeError(w, r, invalid("idempotency_key and evidence are required"))
		return
	}
	s.answerDispute(w, r, req.IdempotencyKey, func(rec *cardRecord, cb *chargeback) error {
		now := s.now()
		cb.Evidence = append(cb.Evidence, evidenceSubmission{Stage: cb.Stage, Fields: req.Fields, Files: req.Files, SubmittedAt: now})
		cb.Status = disputeUnderReview
		cb.ResolveAt = timePtr(now.Add(s.cfg.DisputeResolveDelay))
		return s.emit(channelCard, "card.dispute.updated", *cb)
	})
}

// handleAcceptDispute concedes a dispute; an inquiry accepted becomes a
// chargeback that is accepted at once (the money goes back to the
// cardholder).
func (s *Server) handleAcceptDispute(w http.ResponseWriter, r *http.Request) {
	var req amountRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.IdempotencyKey == "" {
		s.writeError(w, r, invalid("idempotency_key is required"))
		return
	}
	s.answerDispute(w, r, req.IdempotencyKey, func(rec *cardRecord, cb *chargeback) error {
		if cb.Stage == disputeStageInquiry {
			cb.Stage = disputeStageChargeback
			if err := s.chargeBack(rec, cb); err != nil {
				return err
			}
		}
		cb.Status = disputeAccepted
		return s.emit(channelCard, "card.dispute.updated", *cb)
	})
}

// answerDispute runs do on a dispute that needs a response, under key.
func (s *Server) answerDispute(w http.ResponseWriter, r *http.Request, key string, do func(*cardRecord, *chargeback) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, cb := s.findDispute(r.PathValue("id"))
	if cb == nil {
		s.writeError(w, r, notFound("dispute", r.PathValue("id")))
		return
	}
	ans := disputeAnswer{Status: statusApproved}
	switch {
	case cb.AnswerKey == key:
		w.Header().Set("Idempotent-Replayed", "true")
	case cb.Status != disputeNeedsResponse:
		ans = disputeAnswer{Status: statusDeclined, DeclineType: declineHard, DeclineCode: "already_submitted",
			DeclineMessage: "the dispute is " + cb.Status}
	case s.now().After(cb.DueBy):
		ans = disputeAnswer{Status: statusDeclined, DeclineType: declineHard, DeclineCode: "past_due",
			DeclineMessage: "the response was due by " + cb.DueBy.Format(time.RFC3339)}
	default:
		cb.AnswerKey = key
		if err := do(rec, cb); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.saveCard(rec); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ans.Dispute = *cb
	writeJSON(w, http.StatusOK, ans)
}

// resolveDueDisputes decides the submitted disputes of rec whose review is
// over, by the WinningEvidence convention. A losing inquiry escalates to a
// chargeback; a chargeback of the pre-arbitration card is answered first by
// a pre-arbitration. Callers hold s.mu.
func (s *Server) resolveDueDisputes(rec *cardRecord, now time.Time) error {
	changed := false
	for i := range rec.Chargebacks {
		cb := &rec.Chargebacks[i]
		if cb.ResolveAt == nil || cb.ResolveAt.After(now) || cb.Status != disputeUnderReview {
			continue
		}
		cb.ResolveAt, changed = nil, true
		last := cb.Evidence[len(cb.Evidence)-1]
		won := winning(last) || compellingEvidence3(rec, cb, last)
		switch {
		case cb.Stage == disputeStageInquiry && won:
			cb.Status = disputeWon
		case cb.Stage == disputeStageInquiry:
			cb.Stage, cb.Status, cb.DueBy, cb.AnswerKey = disputeStageChargeback, disputeNeedsResponse, now.Add(s.cfg.DisputeResponseWindow), ""
			if err := s.chargeBack(rec, cb); err != nil {
				return err
			}
		case cb.Stage == disputeStageChargeback && cb.PreArbitration:
			cb.Stage, cb.Status, cb.DueBy, cb.AnswerKey = disputeStagePreArb, disputeNeedsResponse, now.Add(s.cfg.DisputeResponseWindow), ""
		case won:
			cb.Status = disputeWon
			if err := s.settle(channelCard, "chargeback_reversal", cb.ID, rec.ID, rec.MerchantReference, rec.Currency, cb.Amount, 0); err != nil {
				return err
			}
		default:
			cb.Status = disputeLost
		}
		if err := s.emit(channelCard, "card.dispute.updated", *cb); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	return s.saveCard(rec)
}

// winning reports whether a submission carries WinningEvidence.
func winning(e evidenceSubmission) bool {
	for _, v := range e.Fields {
		if strings.Contains(v, WinningEvidence) {
			return true
		}
	}
	return false
}

// The evidence fields of Visa's Compelling Evidence 3.0 (API.md,
// "Disputes"): the disputed transaction's data elements and the prior
// transactions', as JSON.
const (
	ce3Disputed = "ce3_disputed_transaction"
	ce3Priors   = "ce3_prior_transactions"
)

// ce3Transaction is a transaction in a CE3.0 submission.
type ce3Transaction struct {
	ID                  string    `json:"id"`
	CreatedAt           time.Time `json:"created_at"`
	IPAddress           string    `json:"ip_address"`
	DeviceIDHash        string    `json:"device_id_hash"`
	ShippingAddressHash string    `json:"shipping_address_hash"`
	CustomerID          string    `json:"customer_id"`
	CustomerEmail       string    `json:"customer_email"`
}

// compellingEvidence3 is how the sandbox's issuer checks Compelling Evidence
// 3.0, as Visa does: a fraud dispute (reason 10.x) is won when the
// submission names at least two distinct prior transactions, each made 120
// to 365 days before the disputed payment (by the network's own record of
// its date), each sharing at least two of IP address, device id, shipping
// address and customer account (the same customer id or email) with the
// disputed transaction. The issuer compares the values itself: what the
// merchant says matched counts for nothing.
func compellingEvidence3(rec *cardRecord, cb *chargeback, e evidenceSubmission) bool {
	if !strings.HasPrefix(cb.ReasonCode, "10.") {
		return false
	}
	var cur ce3Transaction
	var priors []ce3Transaction
	if json.Unmarshal([]byte(e.Fields[ce3Disputed]), &cur) != nil || json.Unmarshal([]byte(e.Fields[ce3Priors]), &priors) != nil {
		return false
	}
	const day = 24 * time.Hour
	from, to := rec.CreatedAt.Add(-365*day-day), rec.CreatedAt.Add(-120*day+day) // a day's grace: the two sides stamp the payment apart
	seen := map[string]bool{}
	for _, p := range priors {
		if p.ID == "" || p.ID == cur.ID || seen[p.ID] || p.CreatedAt.Before(from) || p.CreatedAt.After(to) || ce3Shared(cur, p) < 2 {
			continue
		}
		seen[p.ID] = true
	}
	return len(seen) >= 2
}

// ce3Shared counts the CE3.0 elements a and b share.
func ce3Shared(a, b ce3Transaction) int {
	same := func(x, y string) bool { return x != "" && x == y }
	n := 0
	for _, ok := range []bool{same(a.IPAddress, b.IPAddress), same(a.DeviceIDHash, b.DeviceIDHash),
		same(a.ShippingAddressHash, b.ShippingAddressHash),
		same(a.CustomerID, b.CustomerID) || same(a.CustomerEmail, b.CustomerEmail)} {
		if ok {
			n++
		}
	}
	return n
}

// Dispute kinds for TriggerDispute.
const (
	DisputeKindFraud          = scenarioChargeback
	DisputeKindInquiry        = scenarioInquiry
	DisputeKindNotReceived    = scenarioNotReceived
	DisputeKindPreArbitration = scenarioPreArb
)

// TriggerDispute opens a dispute of kind (DisputeKind…) now on a captured
// card payment, whatever its card, and returns the dispute's id.
func (s *Server) TriggerDispute(paymentID, kind string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.cards[paymentID]
	if !ok {
		return "", notFound("card payment", paymentID)
	}
	if _, ok := disputeScenarios[kind]; !ok {
		return "", fmt.Errorf("sandbox: no dispute kind %q", kind)
	}
	if rec.State != stateCaptured && rec.State != statePartiallyRefunded {
		return "", fmt.Errorf("sandbox: dispute %s: payment is %s", paymentID, rec.State)
	}
	rec.Scenario = kind
	if err := s.chargeback(rec); err != nil {
		return "", err
	}
	return rec.Chargebacks[len(rec.Chargebacks)-1].ID, nil
}
