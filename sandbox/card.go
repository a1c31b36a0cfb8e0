package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Card payment states, as in API.md.
const (
	stateRequiresAction    = "requires_action"
	stateAuthorized        = "authorized"
	stateCaptured          = "captured"
	statePartiallyRefunded = "partially_refunded"
	stateRefunded          = "refunded"
	stateVoided            = "voided"
	stateDeclined          = "declined"
	stateChargedBack       = "charged_back"
)

// Card fees: 2.9 % + 0.30 on captures, 15.00 per chargeback.
const (
	cardCaptureBps           = 290
	cardCaptureFixed         = 30
	cardChargebackHundredths = 1500
)

type action struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type cardInfo struct {
	Brand       string `json:"brand"`
	BIN         string `json:"bin"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Fingerprint string `json:"fingerprint"`
}

type threeDS struct {
	// Requested is what the merchant asked: automatic, any or challenge.
	Requested string `json:"requested"`
	Flow      string `json:"flow"`
	Result    string `json:"result"`
	ECI       string `json:"eci,omitempty"`
}

// 3-D Secure requests (authorizeRequest.ThreeDS).
const (
	threeDSAutomatic = "automatic" // the test card decides
	threeDSAny       = "any"       // authenticate; frictionless suffices
	threeDSChallenge = "challenge" // always challenge the buyer
)

type capture struct {
	ID        string    `json:"id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
}

type refund struct {
	ID        string    `json:"id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// chargeback is the dispute object of API.md: an inquiry, a chargeback or a
// pre-arbitration, one object through its stages.
type chargeback struct {
	ID                string               `json:"id"`
	Object            string               `json:"object"`
	PaymentID         string               `json:"payment_id"`
	MerchantReference string               `json:"merchant_reference"`
	Amount            int64                `json:"amount"`
	Currency          string               `json:"currency"`
	Fee               int64                `json:"fee"`
	ReasonCode        string               `json:"reason_code"`
	Reason            string               `json:"reason"`
	Stage             string               `json:"stage"`
	Status            string               `json:"status"`
	DueBy             time.Time            `json:"due_by"`
	Evidence          []evidenceSubmission `json:"evidence"`
	CreatedAt         time.Time            `json:"created_at"`
	// ResolveAt is when the issuer decides submitted evidence.
	ResolveAt *time.Time `json:"resolve_at,omitempty"`
	// PreArbitration makes the issuer answer the first evidence with a
	// pre-arbitration instead of a decision.
	PreArbitration bool   `json:"pre_arbitration"`
	AnswerKey      string `json:"answer_key,omitempty"`
}

// cardPayment is the card payment object of API.md.
type cardPayment struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Status            string       `json:"status"`
	State             string       `json:"state"`
	DeclineType       string       `json:"decline_type"`
	DeclineCode       string       `json:"decline_code"`
	DeclineMessage    string       `json:"decline_message"`
	Action            *action      `json:"action"`
	IdempotencyKey    string       `json:"idempotency_key"`
	MerchantReference string       `json:"merchant_reference"`
	Description       string       `json:"description"`
	Amount            int64        `json:"amount"`
	Currency          string       `json:"currency"`
	Capture           bool         `json:"capture"`
	CapturedAmount    int64        `json:"captured_amount"`
	RefundedAmount    int64        `json:"refunded_amount"`
	AuthCode          string       `json:"auth_code"`
	Card              cardInfo     `json:"card"`
	ThreeDS           threeDS      `json:"three_ds"`
	Captures          []capture    `json:"captures"`
	Refunds           []refund     `json:"refunds"`
	Chargebacks       []chargeback `json:"chargebacks"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// cardRecord is what the sandbox keeps about a card payment: the public
// object plus what only the acquirer knows. Never the PAN.
type cardRecord struct {
	cardPayment
	Params        string     `json:"params"`
	ReturnURL     string     `json:"return_url"`
	Scenario      string     `json:"scenario"`
	ChargebackDue *time.Time `json:"chargeback_due,omitempty"`
}

func (s *Server) saveCard(rec *cardRecord) error {
	rec.UpdatedAt = s.now()
	return s.j.put(kindCard, rec.ID, rec)
}

// cardPayments serves card payments by id, lists them by idempotency key and
// merchant reference, and runs captures, voids and refunds on them.
func (s *Server) cardPayments() collection[cardRecord, cardPayment] {
	return collection[cardRecord, cardPayment]{
		s: s, channel: channelCard, what: "card payment",
		objects: s.st.cards,
		view:    func(rec *cardRecord) cardPayment { return rec.cardPayment },
		save:    s.saveCard,
		filters: []filter[cardPayment]{
			{"idempotency_key", func(p cardPayment) string { return p.IdempotencyKey }},
			{"merchant_reference", func(p cardPayment) string { return p.MerchantReference }},
		},
	}
}

type cardRequest struct {
	Number     string `json:"number"`
	ExpMonth   int    `json:"exp_month"`
	ExpYear    int    `json:"exp_year"`
	CVC        string `json:"cvc"`
	HolderName string `json:"holder_name"`
}

type authorizeRequest struct {
	IdempotencyKey    string      `json:"idempotency_key"`
	MerchantReference string      `json:"merchant_reference"`
	Amount            int64       `json:"amount"`
	Currency          string      `json:"currency"`
	Capture           bool        `json:"capture"`
	Card              cardRequest `json:"card"`
	ReturnURL         string      `json:"return_url"`
	Description       string      `json:"description"`
	ThreeDS           string      `json:"three_ds"`
}

func (req *authorizeRequest) validate() (pan string, err error) {
	if req.IdempotencyKey == "" {
		return "", invalid("idempotency_key is required")
	}
	if req.MerchantReference == "" {
		return "", invalid("merchant_reference is required")
	}
	switch req.ThreeDS {
	case "":
		req.ThreeDS = threeDSAutomatic
	case threeDSAutomatic, threeDSAny, threeDSChallenge:
	default:
		return "", invalid("three_ds must be automatic, any or challenge")
	}
	if err := checkMoney(req.Amount, req.Currency); err != nil {
		return "", err
	}
	pan = panSeparators.Replace(req.Card.Number)
	if !allDigits(pan) || len(pan) < 12 || len(pan) > 19 {
		return "", invalid("card.number must be 12 to 19 digits")
	}
	if req.Card.ExpMonth < 1 || req.Card.ExpMonth > 12 {
		return "", invalid("card.exp_month must be 1 to 12")
	}
	if req.Card.ExpYear < 2000 || req.Card.ExpYear > 2100 {
		return "", invalid("card.exp_year must be a four-digit year")
	}
	if req.Card.CVC != "" {
		if !allDigits(req.Card.CVC) {
			return "", invalid("card.cvc must be digits")
		}
		if rule, ok := ruleFor(pan); ok && len(req.Card.CVC) != rule.cvc {
			return "", invalid("card.cvc must have %d digits for %s", rule.cvc, rule.brand)
		}
	}
	return pan, nil
}

// fingerprint identifies a PAN without revealing it.
func (s *Server) fingerprint(pan string) string {
	m := hmac.New(sha256.New, []byte(s.st.meta.FingerprintKey))
	m.Write([]byte(pan))
	return "fp_" + hex.EncodeToString(m.Sum(nil))[:24]
}

// decideCard applies the BIN table, the Luhn check, the expiry and the test
// card table. It returns the scenario or a decline code.
func decideCard(pan string, expMonth, expYear int, now time.Time) (brand, scenario, declineType, declineCode string) {
	rule, known := ruleFor(pan)
	tc := testCards[pan]
	switch {
	case !luhnValid(pan):
		return rule.brand, "", declineHard, "invalid_card_number"
	case !known || !slices.Contains(rule.lengths, len(pan)):
		return rule.brand, "", declineHard, "unsupported_card"
	case expYear < now.Year() || (expYear == now.Year() && expMonth < int(now.Month())):
		return rule.brand, "", declineHard, "expired_card"
	case tc.declineCode != "":
		return rule.brand, "", tc.declineType, tc.declineCode
	}
	return rule.brand, tc.scenario, "", ""
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var req authorizeRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	pan, err := req.validate()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	view, replayed, hold, err := s.authorize(r, &req, pan)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hold {
		// The timeout card: the authorization is already recorded as
		// approved; the answer is what gets lost.
		s.log.Info("holding timeout-card answer", "payment", view.ID, "hold", s.cfg.TimeoutHold)
		t := time.NewTimer(s.cfg.TimeoutHold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			// Shutting down: drop the connection rather than answer, so
			// the client sees the same unknown outcome it would have.
			panic(http.ErrAbortHandler)
		case <-t.C:
		}
	}
	writeCreated(w, replayed, view)
}

func (s *Server) authorize(r *http.Request, req *authorizeRequest, pan string) (view cardPayment, replayed, hold bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := s.fingerprint(pan)
	params := fmt.Sprintf("%s|%d|%s|%t|%s", req.MerchantReference, req.Amount, req.Currency, req.Capture, fp)
	if req.ThreeDS != threeDSAutomatic {
		// Keys recorded before three_ds existed keep their parameters.
		params += "|" + req.ThreeDS
	}
	if id, ok := s.st.cardByKey[req.IdempotencyKey]; ok {
		rec := s.st.cards[id]
		if rec.Params != params {
			return view, false, false, conflict("idempotency key already used with different parameters")
		}
		return rec.cardPayment, true, false, nil
	}

	now := s.now()
	brand, scenario, declineType, declineCode := decideCard(pan, req.Card.ExpMonth, req.Card.ExpYear, now)
	rec := &cardRecord{
		cardPayment: cardPayment{
			ID: s.newID("cpay"), Object: "card_payment",
			IdempotencyKey: req.IdempotencyKey, MerchantReference: req.MerchantReference,
			Description: req.Description, Amount: req.Amount, Currency: req.Currency, Capture: req.Capture,
			Card: cardInfo{
				Brand: brand, BIN: pan[:6], Last4: pan[len(pan)-4:],
				ExpMonth: req.Card.ExpMonth, ExpYear: req.Card.ExpYear, Fingerprint: fp,
			},
			ThreeDS:  threeDS{Requested: req.ThreeDS, Flow: "none", Result: "not_required"},
			Captures: []capture{}, Refunds: []refund{}, Chargebacks: []chargeback{},
			CreatedAt: now,
		},
		Params: params, ReturnURL: req.ReturnURL, Scenario: scenario,
	}
	switch {
	case declineCode != "":
		rec.Status, rec.State = statusDeclined, stateDeclined
		rec.DeclineType, rec.DeclineCode, rec.DeclineMessage = declineType, declineCode, declineMessages[declineCode]
	case scenario == scenarioChallenge || req.ThreeDS == threeDSChallenge:
		// A challenge the merchant asks for overrides the issuer's
		// frictionless pass; the buyer answers on the challenge page.
		rec.Status, rec.State = statusActionRequired, stateRequiresAction
		rec.Action = &action{Type: "three_ds_challenge", URL: s.baseURL(r) + "/card/3ds/" + rec.ID}
		rec.ThreeDS.Flow, rec.ThreeDS.Result = "challenge", "pending"
	default:
		if scenario == scenarioFrictionless || req.ThreeDS == threeDSAny {
			rec.ThreeDS.Flow, rec.ThreeDS.Result, rec.ThreeDS.ECI = "frictionless", "authenticated", eciFor(brand)
		}
		if err := s.approveCard(rec); err != nil {
			return view, false, false, err
		}
	}
	s.st.cards[rec.ID] = rec
	s.st.cardByKey[rec.IdempotencyKey] = rec.ID
	if err := s.saveCard(rec); err != nil {
		return view, false, false, err
	}
	s.log.Info("card authorization", "payment", rec.ID, "brand", brand, "bin", rec.Card.BIN,
		"last4", rec.Card.Last4, "status", rec.Status, "decline_code", rec.DeclineCode)
	return rec.cardPayment, false, scenario == scenarioTimeout && rec.State != stateRequiresAction, nil
}

func eciFor(brand string) string {
	if brand == brandMastercard {
		return "02"
	}
	return "05"
}

// approveCard approves an authorization and, for a sale, captures it.
func (s *Server) approveCard(rec *cardRecord) error {
	rec.Status, rec.State, rec.Action = statusApproved, stateAuthorized, nil
	sum := sha256.Sum256([]byte(rec.ID))
	rec.AuthCode = strings.ToUpper(hex.EncodeToString(sum[:3]))
	if rec.Capture {
		_, err := s.captureCard(rec, rec.Amount)
		return err
	}
	return nil
}

// captureCard captures amount of an authorized payment; the rest of the hold
// is released.
func (s *Server) captureCard(rec *cardRecord, amount int64) (capture, error) {
	now := s.now()
	c := capture{ID: s.newID("cap"), Amount: amount, Currency: rec.Currency, CreatedAt: now}
	rec.Captures = append(rec.Captures, c)
	rec.CapturedAmount, rec.State = amount, stateCaptured
	if disputeScenarios[rec.Scenario].stage != "" {
		rec.ChargebackDue = timePtr(now.Add(s.cfg.ChargebackDelay))
	}
	fee := percentFee(amount, cardCaptureBps) + majorFee(rec.Currency, cardCaptureFixed)
	return c, s.settle(channelCard, "capture", c.ID, rec.ID, rec.MerchantReference, rec.Currency, amount, fee)
}

// chargeback applies a chargeback for everything captured and not refunded.
func (s *Server) chargeback(rec *cardRecord) error {
	rec.ChargebackDue = nil
	if rec.State != stateCaptured && rec.State != statePartiallyRefunded {
		return s.saveCard(rec)
	}
	sc, ok := disputeScenarios[rec.Scenario]
	if !ok {
		sc = disputeScenarios[scenarioChargeback]
	}
	now := s.now()
	cb := chargeback{
		ID: s.newID("dp"), Object: "dispute", PaymentID: rec.ID, MerchantReference: rec.MerchantReference,
		Amount: rec.CapturedAmount - rec.RefundedAmount, Currency: rec.Currency, ReasonCode: sc.reasonCode,
		Reason: sc.reason, Stage: sc.stage, Status: disputeNeedsResponse, DueBy: now.Add(s.cfg.DisputeResponseWindow),
		Evidence: []evidenceSubmission{}, CreatedAt: now, PreArbitration: sc.preArbitration,
	}
	if cb.Stage == disputeStageChargeback {
		if err := s.chargeBack(rec, &cb); err != nil {
			return err
		}
	}
	rec.Chargebacks = append(rec.Chargebacks, cb)
	if err := s.saveCard(rec); err != nil {
		return err
	}
	return s.emit(channelCard, "card.dispute.created", cb)
}

// chargeBack takes the disputed amount and the fee back from the merchant.
func (s *Server) chargeBack(rec *cardRecord, cb *chargeback) error {
	rec.State = stateChargedBack
	cb.Fee = majorFee(rec.Currency, cardChargebackHundredths)
	return s.settle(channelCard, "chargeback", cb.ID, rec.ID, rec.MerchantReference, rec.Currency, -cb.Amount, cb.Fee)
}

// TriggerChargeback makes a chargeback arrive now for a captured card
// payment, whatever its card. It returns an error if the payment does not
// exist or has nothing captured left to dispute.
func (s *Server) TriggerChargeback(paymentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.cards[paymentID]
	if !ok {
		return notFound("card payment", paymentID)
	}
	if rec.State != stateCaptured && rec.State != statePartiallyRefunded {
		return fmt.Errorf("sandbox: chargeback %s: payment is %s", paymentID, rec.State)
	}
	return s.chargeback(rec)
}

func (s *Server) handleBIN(w http.ResponseWriter, r *http.Request) {
	bin := r.PathValue("bin")
	if !allDigits(bin) || len(bin) < 6 || len(bin) > 8 {
		s.writeError(w, r, invalid("bin must be 6 to 8 digits"))
		return
	}
	rule, ok := ruleFor(bin)
	if !ok {
		s.writeError(w, r, notFound("brand for bin", bin))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"bin": bin, "brand": rule.brand})
}

type amountRequest struct {
	Amount         int64  `json:"amount"`
	IdempotencyKey string `json:"idempotency_key"`
	Reason         string `json:"reason"`
}

func (s *Server) handleCapture(w http.ResponseWriter, r *http.Request) {
	s.cardPayments().operate(w, r, "capture", false, func(rec *cardRecord, req amountRequest) (opResult, error) {
		if rec.State != stateAuthorized {
			return declined(declineHard, "invalid_state", "payment is %s", rec.State), nil
		}
		amount := req.Amount
		if amount == 0 {
			amount = rec.Amount
		}
		if amount > rec.Amount {
			return declined(declineHard, "amount_exceeds_authorized", "capture of %d exceeds the authorized %d", amount, rec.Amount), nil
		}
		c, err := s.captureCard(rec, amount)
		if err != nil {
			return opResult{}, err
		}
		return opResult{Status: statusApproved, ID: c.ID, Amount: c.Amount, Currency: c.Currency}, nil
	})
}

func (s *Server) handleVoid(w http.ResponseWriter, r *http.Request) {
	s.cardPayments().operate(w, r, "void", false, func(rec *cardRecord, req amountRequest) (opResult, error) {
		if req.Amount != 0 {
			return opResult{}, invalid("a void takes no amount")
		}
		switch rec.State {
		case stateAuthorized:
		case stateRequiresAction:
			// Canceled before the buyer finished 3-D Secure: nothing was
			// authorized, and the challenge page now refuses the buyer.
			rec.Status, rec.Action = statusDeclined, nil
			rec.DeclineType, rec.DeclineCode = declineHard, "canceled"
			rec.DeclineMessage = declineMessages[rec.DeclineCode]
			rec.ThreeDS.Result = "canceled"
		default:
			return declined(declineHard, "invalid_state", "payment is %s", rec.State), nil
		}
		rec.State = stateVoided
		return opResult{Status: statusApproved, ID: rec.ID, Amount: rec.Amount, Currency: rec.Currency}, nil
	})
}

func (s *Server) handleCardRefund(w http.ResponseWriter, r *http.Request) {
	s.cardPayments().operate(w, r, "refund", true, func(rec *cardRecord, req amountRequest) (opResult, error) {
		if rec.State != stateCaptured && rec.State != statePartiallyRefunded {
			return declined(declineHard, "invalid_state", "payment is %s", rec.State), nil
		}
		left := rec.CapturedAmount - rec.RefundedAmount
		amount := req.Amount
		if amount == 0 {
			amount = left
		}
		if amount > left {
			return declined(declineHard, "amount_exceeds_refundable", "refund of %d exceeds the refundable %d", amount, left), nil
		}
		rf := refund{ID: s.newID("crf"), Amount: amount, Currency: rec.Currency, Reason: req.Reason, CreatedAt: s.now()}
		rec.Refunds = append(rec.Refunds, rf)
		rec.RefundedAmount += amount
		rec.State = statePartiallyRefunded
		if rec.RefundedAmount == rec.CapturedAmount {
			rec.State = stateRefunded
		}
		if err := s.settle(channelCard, "refund", rf.ID, rec.ID, rec.MerchantReference, rec.Currency, -amount, 0); err != nil {
			return opResult{}, err
		}
		return opResult{Status: statusApproved, ID: rf.ID, Amount: amount, Currency: rec.Currency}, nil
	})
}

// completeChallenge finishes a 3-D Secure challenge. It reports false when
// the challenge was already completed.
func (s *Server) completeChallenge(rec *cardRecord, approve bool) (bool, error) {
	if rec.State != stateRequiresAction {
		return false, nil
	}
	typ := "card.payment.authorized"
	if approve {
		rec.ThreeDS.Result, rec.ThreeDS.ECI = "authenticated", eciFor(rec.Card.Brand)
		if err := s.approveCard(rec); err != nil {
			return false, err
		}
	} else {
		typ = "card.payment.declined"
		rec.ThreeDS.Result = "failed"
		rec.Status, rec.State, rec.Action = statusDeclined, stateDeclined, nil
		rec.DeclineType, rec.DeclineCode = declineHard, "authentication_failed"
		rec.DeclineMessage = declineMessages[rec.DeclineCode]
	}
	if err := s.saveCard(rec); err != nil {
		return false, err
	}
	return true, s.emit(channelCard, typ, rec.cardPayment)
}

// panSeparators are the spaces and dashes a card number may be written with.
var panSeparators = strings.NewReplacer(" ", "", "-", "")
