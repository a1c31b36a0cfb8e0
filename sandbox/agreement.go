package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

type payerInfo struct {
	Name         string `json:"name"`
	AccountLast4 string `json:"account_last4"`
}

// agreement is a direct-debit mandate.
type agreement struct {
	ID           string     `json:"id"`
	Object       string     `json:"object"`
	Status       string     `json:"status"`
	State        string     `json:"state"`
	Action       *action    `json:"action"`
	Reference    string     `json:"reference"`
	Currency     string     `json:"currency"`
	MaxAmount    int64      `json:"max_amount"`
	Payer        payerInfo  `json:"payer"`
	MandateID    string     `json:"mandate_id"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	SignedAt     *time.Time `json:"signed_at"`
	TerminatedAt *time.Time `json:"terminated_at"`
}

type agreementRecord struct {
	agreement
	IdempotencyKey string `json:"idempotency_key"`
	Params         string `json:"params"`
	ReturnURL      string `json:"return_url"`
}

func (s *Server) saveAgreement(a *agreementRecord) error {
	a.UpdatedAt = s.now()
	return s.j.put(kindAgreement, a.ID, a)
}

// agreements serves direct-debit agreements by id and lists them by
// reference.
func (s *Server) agreements() collection[agreementRecord, agreement] {
	return collection[agreementRecord, agreement]{
		s: s, what: "agreement",
		objects: s.st.agreements,
		view:    func(a *agreementRecord) agreement { return a.agreement },
		filters: []filter[agreement]{
			{"reference", func(a agreement) string { return a.Reference }},
		},
	}
}

type payerRequest struct {
	Name          string `json:"name"`
	AccountNumber string `json:"account_number"`
}

type agreementRequest struct {
	IdempotencyKey string       `json:"idempotency_key"`
	Reference      string       `json:"reference"`
	Currency       string       `json:"currency"`
	MaxAmount      int64        `json:"max_amount"`
	Payer          payerRequest `json:"payer"`
	ReturnURL      string       `json:"return_url"`
}

func (s *Server) handleCreateAgreement(w http.ResponseWriter, r *http.Request) {
	var req agreementRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := checkMoney(1, req.Currency)
	switch {
	case err != nil:
	case req.Reference == "":
		err = invalid("reference is required")
	case req.Payer.Name == "" || len(req.Payer.AccountNumber) < 4:
		err = invalid("payer.name and payer.account_number are required")
	default:
		err = checkOptionalAmount(req.MaxAmount)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	acct := req.Payer.AccountNumber
	params := fmt.Sprintf("%s|%s|%d|%s|%s|%s", req.Reference, req.Currency, req.MaxAmount, req.Payer.Name, acct, req.ReturnURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.st.agrByKey[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		a := s.st.agreements[id]
		if a.Params != params {
			s.writeError(w, r, conflict("idempotency key already used with different parameters"))
			return
		}
		writeCreated(w, true, a.agreement)
		return
	}
	a := &agreementRecord{agreement: agreement{
		ID: s.newID("agr"), Object: "agreement", Status: statusActionRequired, State: agreementPending,
		Reference: req.Reference, Currency: req.Currency, MaxAmount: req.MaxAmount,
		Payer:     payerInfo{Name: req.Payer.Name, AccountLast4: acct[len(acct)-4:]},
		CreatedAt: s.now(),
	}, IdempotencyKey: req.IdempotencyKey, Params: params, ReturnURL: req.ReturnURL}
	a.Action = &action{Type: "redirect", URL: s.baseURL(r) + "/bank/agreements/" + a.ID + "/sign"}
	s.st.agreements[a.ID] = a
	if a.IdempotencyKey != "" {
		s.st.agrByKey[a.IdempotencyKey] = a.ID
	}
	if err := s.saveAgreement(a); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, false, a.agreement)
}

func (s *Server) handleTerminateAgreement(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.agreements[id]
	if !ok {
		s.writeError(w, r, notFound("agreement", id))
		return
	}
	if a.State != agreementActive && a.State != agreementPending {
		res := declined(declineHard, "invalid_state", "agreement is %s", a.State)
		res.Agreement = a.agreement
		writeJSON(w, http.StatusOK, res)
		return
	}
	a.State, a.Status, a.Action, a.TerminatedAt = agreementTerminated, statusDeclined, nil, timePtr(s.now())
	err := s.saveAgreement(a)
	if err == nil {
		err = s.emit(channelBank, "bank.agreement.terminated", a.agreement)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opResult{Status: statusApproved, ID: a.ID, Agreement: a.agreement})
}

func (s *Server) handleSignPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.st.agreements[r.PathValue("id")]
	var a agreement
	if ok {
		a = rec.agreement
	}
	s.mu.Unlock()
	if !ok {
		s.pageNotFound(w, "agreement")
		return
	}
	limit := "none"
	if a.MaxAmount > 0 {
		limit = formatMinor(a.MaxAmount, a.Currency) + " per debit"
	}
	data := pageData{
		Title: "Direct-debit agreement",
		Facts: [][2]string{
			{"Payer", a.Payer.Name}, {"Account", "•••• " + a.Payer.AccountLast4},
			{"Reference", a.Reference}, {"Currency", a.Currency}, {"Limit", limit},
		},
	}
	if a.State == agreementPending {
		data.Intro = "Allow the merchant to debit your account under this agreement?"
		data.Buttons = [][2]string{{"approve", "Approve"}, {"reject", "Reject"}}
	} else {
		data.Intro = "This agreement is " + a.State + "."
	}
	s.renderPage(w, http.StatusOK, data)
}

func (s *Server) handleSignSubmit(w http.ResponseWriter, r *http.Request) {
	act := s.formAction(w, r, "approve", "reject")
	if act == "" {
		return
	}
	s.mu.Lock()
	rec, ok := s.st.agreements[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		s.pageNotFound(w, "agreement")
		return
	}
	changed, err := s.signAgreement(rec, act == "approve")
	a, returnURL := rec.agreement, rec.ReturnURL
	s.mu.Unlock()
	switch {
	case err != nil:
		s.pageError(w, r, err)
	case !changed:
		s.renderPage(w, http.StatusConflict, pageData{Title: "Already answered", Intro: "This agreement is " + a.State + "."})
	case !redirectBuyer(w, r, returnURL, redirectQuery("agreement_id", a.ID, a.State)):
		s.renderPage(w, http.StatusOK, pageData{Title: "Agreement " + a.State, Intro: "You can close this page."})
	}
}

// signAgreement records the payer's answer; false means it was already given.
func (s *Server) signAgreement(a *agreementRecord, approve bool) (bool, error) {
	if a.State != agreementPending {
		return false, nil
	}
	typ := "bank.agreement.activated"
	a.Action = nil
	if approve {
		now := s.now()
		a.State, a.Status, a.SignedAt = agreementActive, statusApproved, timePtr(now)
		a.MandateID = "MND-" + strings.ToUpper(strings.TrimPrefix(a.ID, "agr_")[:16])
	} else {
		typ = "bank.agreement.rejected"
		a.State, a.Status = agreementRejected, statusDeclined
	}
	if err := s.saveAgreement(a); err != nil {
		return false, err
	}
	return true, s.emit(channelBank, typ, a.agreement)
}

type debit struct {
	ID             string    `json:"id"`
	Object         string    `json:"object"`
	Status         string    `json:"status"`
	DeclineType    string    `json:"decline_type"`
	DeclineCode    string    `json:"decline_code"`
	AgreementID    string    `json:"agreement_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	Reference      string    `json:"reference"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	CreatedAt      time.Time `json:"created_at"`
}

type debitRecord struct {
	debit
	Params string `json:"params"`
}

// debits serves direct debits by id and lists them by idempotency key.
func (s *Server) debits() collection[debitRecord, debit] {
	return collection[debitRecord, debit]{
		s: s, what: "debit",
		objects: s.st.debits,
		view:    func(d *debitRecord) debit { return d.debit },
		filters: []filter[debit]{
			{"idempotency_key", func(d debit) string { return d.IdempotencyKey }},
		},
	}
}

type debitRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	Reference      string `json:"reference"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
}

func (s *Server) handleDebit(w http.ResponseWriter, r *http.Request) {
	var req debitRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := checkMoney(req.Amount, req.Currency)
	if err == nil && req.IdempotencyKey == "" {
		err = invalid("idempotency_key is required")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	agrID := r.PathValue("id")
	params := fmt.Sprintf("%s|%s|%d|%s", agrID, req.Reference, req.Amount, req.Currency)
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.agreements[agrID]
	if !ok {
		s.writeError(w, r, notFound("agreement", agrID))
		return
	}
	if id, ok := s.st.debitByKey[req.IdempotencyKey]; ok {
		d := s.st.debits[id]
		if d.Params != params {
			s.writeError(w, r, conflict("idempotency key already used with different parameters"))
			return
		}
		writeCreated(w, true, d.debit)
		return
	}
	d := &debitRecord{debit: debit{
		ID: s.newID("dd"), Object: "debit", Status: statusApproved, AgreementID: a.ID,
		IdempotencyKey: req.IdempotencyKey, Reference: req.Reference, Amount: req.Amount, Currency: req.Currency,
		CreatedAt: s.now(),
	}, Params: params}
	switch {
	case a.State != agreementActive:
		d.Status, d.DeclineType, d.DeclineCode = statusDeclined, declineHard, "agreement_not_active"
	case req.Currency != a.Currency:
		d.Status, d.DeclineType, d.DeclineCode = statusDeclined, declineHard, "currency_mismatch"
	case a.MaxAmount > 0 && req.Amount > a.MaxAmount:
		d.Status, d.DeclineType, d.DeclineCode = statusDeclined, declineHard, "amount_exceeds_limit"
	case a.Payer.AccountLast4 == "0051":
		d.Status, d.DeclineType, d.DeclineCode = statusDeclined, declineSoft, "insufficient_funds"
	}
	s.st.debits[d.ID] = d
	s.st.debitByKey[d.IdempotencyKey] = d.ID
	if d.Status == statusApproved {
		fee := percentFee(d.Amount, bankDebitBps)
		err = s.moveBalance(d.Currency, d.Amount-fee, 0)
		if err == nil {
			err = s.settle(channelBank, "direct_debit", d.ID, a.ID, d.Reference, d.Currency, d.Amount, fee)
		}
	}
	if err == nil {
		err = s.j.put(kindDebit, d.ID, d)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, false, d.debit)
}
