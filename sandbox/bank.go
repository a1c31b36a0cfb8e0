package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bank fees: 0.5 % on incoming transfers, 1 % on direct debits, 5.00 per
// payout.
const (
	bankTransferBps    = 50
	bankDebitBps       = 100
	bankPayoutFeeHundr = 500
	bankCode           = "SBXBANK1"
)

// Payout states.
const (
	payoutPending   = "pending"
	payoutCompleted = "completed"
	payoutFailed    = "failed"
)

// Agreement states.
const (
	agreementPending    = "pending"
	agreementActive     = "active"
	agreementRejected   = "rejected"
	agreementTerminated = "terminated"
)

type transfer struct {
	ID               string    `json:"id"`
	Object           string    `json:"object"`
	VirtualAccountID string    `json:"virtual_account_id"`
	Reference        string    `json:"reference"`
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	PayerName        string    `json:"payer_name"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"created_at"`
}

type virtualAccount struct {
	ID             string     `json:"id"`
	Object         string     `json:"object"`
	Status         string     `json:"status"`
	Reference      string     `json:"reference"`
	AccountNumber  string     `json:"account_number"`
	BankCode       string     `json:"bank_code"`
	AccountName    string     `json:"account_name"`
	Currency       string     `json:"currency"`
	ExpectedAmount int64      `json:"expected_amount"`
	ReceivedAmount int64      `json:"received_amount"`
	PayURL         string     `json:"pay_url"`
	Transfers      []transfer `json:"transfers"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func (s *Server) saveVA(va *virtualAccount) error {
	va.UpdatedAt = s.now()
	return s.j.put(kindVA, va.ID, va)
}

// virtualAccounts serves virtual accounts by id, lists them by reference,
// and closes them.
func (s *Server) virtualAccounts() collection[virtualAccount, virtualAccount] {
	return collection[virtualAccount, virtualAccount]{
		s: s, channel: channelBank, what: "virtual account",
		objects: s.st.vas,
		view:    func(va *virtualAccount) virtualAccount { return *va },
		save:    s.saveVA,
		filters: []filter[virtualAccount]{
			{"reference", func(va virtualAccount) string { return va.Reference }},
		},
	}
}

type vaRequest struct {
	Reference      string `json:"reference"`
	Currency       string `json:"currency"`
	ExpectedAmount int64  `json:"expected_amount"`
	AccountName    string `json:"account_name"`
}

func (s *Server) handleCreateVA(w http.ResponseWriter, r *http.Request) {
	var req vaRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Reference == "" {
		s.writeError(w, r, invalid("reference is required"))
		return
	}
	if err := checkMoney(1, req.Currency); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkOptionalAmount(req.ExpectedAmount); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.AccountName == "" {
		req.AccountName = "Strait Merchant"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.st.vaByRef[req.Reference]; ok {
		va := s.st.vas[id]
		if va.Currency != req.Currency || va.ExpectedAmount != req.ExpectedAmount {
			s.writeError(w, r, conflict("reference already has a virtual account with other parameters"))
			return
		}
		writeCreated(w, true, va)
		return
	}
	s.st.meta.AccountSeq++
	if err := s.j.put(kindMeta, kindMeta, s.st.meta); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	va := &virtualAccount{
		ID: s.newID("va"), Object: "virtual_account", Status: vaOpen, Reference: req.Reference,
		AccountNumber: fmt.Sprintf("SBX%011d", s.st.meta.AccountSeq), BankCode: bankCode,
		AccountName: req.AccountName, Currency: req.Currency, ExpectedAmount: req.ExpectedAmount,
		Transfers: []transfer{}, CreatedAt: now,
	}
	va.PayURL = s.baseURL(r) + "/bank/pay/" + va.ID
	s.st.vas[va.ID] = va
	s.st.vaByRef[va.Reference] = va.ID
	if err := s.saveVA(va); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, false, va)
}

func (s *Server) handleTransferPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	va, ok := s.st.vas[r.PathValue("id")]
	var v virtualAccount
	if ok {
		v = *va
	}
	s.mu.Unlock()
	if !ok {
		s.pageNotFound(w, "virtual account")
		return
	}
	due := v.ExpectedAmount - v.ReceivedAmount
	if due < 0 {
		due = 0
	}
	s.renderPage(w, http.StatusOK, pageData{
		Title: "Bank transfer",
		Intro: "Send a transfer from your bank account to this virtual account.",
		Facts: [][2]string{
			{"Beneficiary", v.AccountName}, {"Account number", v.AccountNumber}, {"Bank code", v.BankCode},
			{"Reference", v.Reference}, {"Received so far", formatMinor(v.ReceivedAmount, v.Currency)},
		},
		Fields: []pageField{
			{Name: "amount", Label: "Amount in minor units of " + v.Currency, Value: strconv.FormatInt(due, 10)},
			{Name: "payer_name", Label: "Your name", Value: "Sandbox Buyer"},
		},
		Buttons: [][2]string{{"transfer", "Send transfer"}},
	})
}

func (s *Server) handleTransferSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.renderPage(w, http.StatusBadRequest, pageData{Title: "Bad request", Intro: "The form could not be read."})
		return
	}
	amount, err := strconv.ParseInt(r.PostForm.Get("amount"), 10, 64)
	if err != nil || amount < 1 || amount > maxAmount {
		s.renderPage(w, http.StatusBadRequest, pageData{Title: "Bad request", Intro: "The amount must be a positive whole number of minor units."})
		return
	}
	payer := strings.TrimSpace(r.PostForm.Get("payer_name"))
	if payer == "" {
		payer = "Sandbox Buyer"
	}
	s.mu.Lock()
	va, ok := s.st.vas[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		s.pageNotFound(w, "virtual account")
		return
	}
	if va.Status == vaClosed {
		s.mu.Unlock()
		// The buyer's bank sends the transfer back: nothing is credited.
		s.renderPage(w, http.StatusConflict, pageData{Title: "Account closed",
			Intro: "This virtual account was closed by the merchant; your transfer was returned."})
		return
	}
	t, err := s.receiveTransfer(va, amount, payer)
	s.mu.Unlock()
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderPage(w, http.StatusOK, pageData{
		Title: "Transfer sent",
		Facts: [][2]string{{"Transfer", t.ID}, {"Amount", formatMinor(t.Amount, t.Currency)}, {"Reference", t.Reference}},
	})
}

// Virtual account states.
const (
	vaOpen   = "open"
	vaPaid   = "paid"
	vaClosed = "closed" // by the merchant, before anything was received
)

// handleCloseVA closes a virtual account that has received nothing, so
// that a transfer sent to it later is returned to the payer. One that has
// received part or all of its amount is declined (invalid_state): its money
// is the merchant's to keep or refund.
func (s *Server) handleCloseVA(w http.ResponseWriter, r *http.Request) {
	s.virtualAccounts().operate(w, r, "close", false, func(va *virtualAccount, req amountRequest) (opResult, error) {
		if req.Amount != 0 {
			return opResult{}, invalid("closing takes no amount")
		}
		switch {
		case va.Status != vaOpen:
			return declined(declineHard, "invalid_state", "virtual account is %s", va.Status), nil
		case va.ReceivedAmount > 0:
			return declined(declineHard, "invalid_state", "virtual account has received %d already", va.ReceivedAmount), nil
		}
		va.Status = vaClosed
		return opResult{Status: statusApproved, ID: va.ID, Amount: va.ExpectedAmount, Currency: va.Currency}, nil
	})
}

// receiveTransfer credits an incoming transfer to a virtual account.
func (s *Server) receiveTransfer(va *virtualAccount, amount int64, payer string) (transfer, error) {
	t := transfer{
		ID: s.newID("tr"), Object: "transfer", VirtualAccountID: va.ID, Reference: va.Reference,
		Amount: amount, Currency: va.Currency, PayerName: payer, Status: "received", CreatedAt: s.now(),
	}
	va.Transfers = append(va.Transfers, t)
	va.ReceivedAmount += amount
	if va.ExpectedAmount > 0 && va.ReceivedAmount >= va.ExpectedAmount {
		va.Status = vaPaid
	}
	fee := percentFee(amount, bankTransferBps)
	if err := s.moveBalance(va.Currency, amount-fee, 0); err != nil {
		return t, err
	}
	if err := s.settle(channelBank, "transfer_in", t.ID, va.ID, va.Reference, va.Currency, amount, fee); err != nil {
		return t, err
	}
	if err := s.saveVA(va); err != nil {
		return t, err
	}
	return t, s.emit(channelBank, "bank.transfer.received", t)
}

type beneficiary struct {
	Name          string `json:"name"`
	AccountNumber string `json:"account_number"`
	BankCode      string `json:"bank_code"`
	Country       string `json:"country"`
}

type payout struct {
	ID             string      `json:"id"`
	Object         string      `json:"object"`
	Status         string      `json:"status"`
	State          string      `json:"state"`
	DeclineType    string      `json:"decline_type"`
	DeclineCode    string      `json:"decline_code"`
	IdempotencyKey string      `json:"idempotency_key"`
	Reference      string      `json:"reference"`
	Amount         int64       `json:"amount"`
	Currency       string      `json:"currency"`
	Fee            int64       `json:"fee"`
	Beneficiary    beneficiary `json:"beneficiary"`
	FailureCode    string      `json:"failure_code"`
	CompleteAt     time.Time   `json:"complete_at"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
}

type payoutRecord struct {
	payout
	Params string `json:"params"`
}

func (s *Server) savePayout(p *payoutRecord) error {
	p.UpdatedAt = s.now()
	return s.j.put(kindPayout, p.ID, p)
}

// payouts serves payouts by id and lists them by idempotency key and
// reference.
func (s *Server) payouts() collection[payoutRecord, payout] {
	return collection[payoutRecord, payout]{
		s: s, what: "payout",
		objects: s.st.payouts,
		view:    func(p *payoutRecord) payout { return p.payout },
		filters: []filter[payout]{
			{"idempotency_key", func(p payout) string { return p.IdempotencyKey }},
			{"reference", func(p payout) string { return p.Reference }},
		},
	}
}

type payoutRequest struct {
	IdempotencyKey string      `json:"idempotency_key"`
	Reference      string      `json:"reference"`
	Amount         int64       `json:"amount"`
	Currency       string      `json:"currency"`
	Beneficiary    beneficiary `json:"beneficiary"`
}

func (req *payoutRequest) validate() error {
	if req.IdempotencyKey == "" {
		return invalid("idempotency_key is required")
	}
	if err := checkMoney(req.Amount, req.Currency); err != nil {
		return err
	}
	if req.Beneficiary.Name == "" || req.Beneficiary.AccountNumber == "" {
		return invalid("beneficiary.name and beneficiary.account_number are required")
	}
	return nil
}

// payoutFailure is the test-beneficiary table of API.md.
func payoutFailure(accountNumber string) string {
	switch {
	case strings.HasSuffix(accountNumber, "0000"):
		return "account_closed"
	case strings.HasSuffix(accountNumber, "1111"):
		return "beneficiary_name_mismatch"
	}
	return ""
}

func (s *Server) handleCreatePayout(w http.ResponseWriter, r *http.Request) {
	var req payoutRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	params := fmt.Sprintf("%s|%d|%s|%+v", req.Reference, req.Amount, req.Currency, req.Beneficiary)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.st.payoutByKey[req.IdempotencyKey]; ok {
		p := s.st.payouts[id]
		if p.Params != params {
			s.writeError(w, r, conflict("idempotency key already used with different parameters"))
			return
		}
		writeCreated(w, true, p.payout)
		return
	}
	fee := majorFee(req.Currency, bankPayoutFeeHundr)
	if b := s.st.balances[req.Currency]; b != nil && b.Available < req.Amount+fee {
		writeJSON(w, http.StatusOK, declined(declineSoft, "insufficient_funds",
			"the balance cannot cover %s plus a fee of %s", formatMinor(req.Amount, req.Currency), formatMinor(fee, req.Currency)))
		return
	}
	now := s.now()
	p := &payoutRecord{payout: payout{
		ID: s.newID("po"), Object: "payout", Status: statusPending, State: payoutPending,
		IdempotencyKey: req.IdempotencyKey, Reference: req.Reference, Amount: req.Amount, Currency: req.Currency,
		Fee: fee, Beneficiary: req.Beneficiary, CompleteAt: now.Add(s.cfg.PayoutDelay), CreatedAt: now,
	}, Params: params}
	s.st.payouts[p.ID] = p
	s.st.payoutByKey[p.IdempotencyKey] = p.ID
	err := s.moveBalance(p.Currency, -(p.Amount + fee), p.Amount)
	if err == nil {
		err = s.settle(channelBank, "payout", p.ID, p.ID, p.Reference, p.Currency, -p.Amount, fee)
	}
	if err == nil {
		err = s.savePayout(p)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, false, p.payout)
}

// finishPayout gives a pending payout its outcome.
func (s *Server) finishPayout(p *payoutRecord) error {
	if code := payoutFailure(p.Beneficiary.AccountNumber); code != "" {
		p.State, p.Status, p.DeclineType, p.DeclineCode, p.FailureCode = payoutFailed, statusDeclined, declineHard, code, code
		if err := s.moveBalance(p.Currency, p.Amount+p.Fee, -p.Amount); err != nil {
			return err
		}
		if err := s.settle(channelBank, "payout_return", p.ID, p.ID, p.Reference, p.Currency, p.Amount, -p.Fee); err != nil {
			return err
		}
		if err := s.savePayout(p); err != nil {
			return err
		}
		return s.emit(channelBank, "bank.payout.failed", p.payout)
	}
	p.State, p.Status = payoutCompleted, statusApproved
	if err := s.moveBalance(p.Currency, 0, -p.Amount); err != nil {
		return err
	}
	if err := s.savePayout(p); err != nil {
		return err
	}
	return s.emit(channelBank, "bank.payout.completed", p.payout)
}

// CompletePayout gives a pending payout its outcome now (completed, or
// failed for a failing test beneficiary) instead of after the payout delay.
func (s *Server) CompletePayout(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.st.payouts[id]
	if !ok {
		return notFound("payout", id)
	}
	if p.State != payoutPending {
		return fmt.Errorf("sandbox: complete payout %s: payout is %s", id, p.State)
	}
	return s.finishPayout(p)
}

type balanceView struct {
	Object   string    `json:"object"`
	Balances []balance `json:"balances"`
	AsOf     time.Time `json:"as_of"`
}

func (s *Server) handleBalance(w http.ResponseWriter, r *http.Request) {
	cur := r.URL.Query().Get("currency")
	if cur != "" {
		if _, ok := exponents[cur]; !ok {
			s.writeError(w, r, invalid("currency %q is not supported", cur))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := balanceView{Object: "balance", Balances: []balance{}, AsOf: s.now()}
	for _, b := range s.st.balances {
		if cur == "" || b.Currency == cur {
			out.Balances = append(out.Balances, *b)
		}
	}
	slices.SortFunc(out.Balances, func(a, b balance) int { return cmpString(a.Currency, b.Currency) })
	writeJSON(w, http.StatusOK, out)
}

// redirectQuery is the query string a buyer page appends to return_url.
func redirectQuery(idName, id, status string) url.Values {
	return url.Values{idName: {id}, "status": {status}}
}
