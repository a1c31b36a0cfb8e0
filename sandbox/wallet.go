package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// walletFeeBps is the wallet's fee on a paid payment: 2.5 %.
const walletFeeBps = 250

// Wallet payment states.
const (
	walletPending   = "pending"
	walletSucceeded = "succeeded"
	walletCanceled  = "canceled" // by the buyer, on the wallet page
	walletVoided    = "voided"   // by the merchant, before the buyer answered
)

type walletRefund struct {
	ID        string    `json:"id"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// walletPayment is the wallet payment object of API.md.
type walletPayment struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Status            string         `json:"status"`
	State             string         `json:"state"`
	DeclineType       string         `json:"decline_type"`
	DeclineCode       string         `json:"decline_code"`
	Action            *action        `json:"action"`
	QRCode            string         `json:"qr_code"`
	IdempotencyKey    string         `json:"idempotency_key"`
	MerchantReference string         `json:"merchant_reference"`
	Description       string         `json:"description"`
	Amount            int64          `json:"amount"`
	Currency          string         `json:"currency"`
	RefundedAmount    int64          `json:"refunded_amount"`
	ReturnURL         string         `json:"return_url"`
	CancelURL         string         `json:"cancel_url"`
	Refunds           []walletRefund `json:"refunds"`
	PaidAt            *time.Time     `json:"paid_at"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
}

type walletRecord struct {
	walletPayment
	Params string `json:"params"`
}

func (s *Server) saveWallet(p *walletRecord) error {
	p.UpdatedAt = s.now()
	return s.j.put(kindWallet, p.ID, p)
}

// walletPayments serves wallet payments by id, lists them by idempotency key
// and merchant reference, and runs refunds on them.
func (s *Server) walletPayments() collection[walletRecord, walletPayment] {
	return collection[walletRecord, walletPayment]{
		s: s, channel: channelWallet, what: "wallet payment",
		objects: s.st.wallets,
		view:    func(p *walletRecord) walletPayment { return p.walletPayment },
		save:    s.saveWallet,
		filters: []filter[walletPayment]{
			{"idempotency_key", func(p walletPayment) string { return p.IdempotencyKey }},
			{"merchant_reference", func(p walletPayment) string { return p.MerchantReference }},
		},
	}
}

type walletRequest struct {
	IdempotencyKey    string `json:"idempotency_key"`
	MerchantReference string `json:"merchant_reference"`
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency"`
	Description       string `json:"description"`
	ReturnURL         string `json:"return_url"`
	CancelURL         string `json:"cancel_url"`
}

func (req *walletRequest) validate() error {
	if req.IdempotencyKey == "" || req.MerchantReference == "" {
		return invalid("idempotency_key and merchant_reference are required")
	}
	if err := checkMoney(req.Amount, req.Currency); err != nil {
		return err
	}
	for name, v := range map[string]string{"return_url": req.ReturnURL, "cancel_url": req.CancelURL} {
		if v == "" && name == "cancel_url" {
			continue
		}
		if u, err := url.Parse(v); err != nil || !u.IsAbs() {
			return invalid("%s must be an absolute URL", name)
		}
	}
	return nil
}

func (s *Server) handleCreateWalletPayment(w http.ResponseWriter, r *http.Request) {
	var req walletRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	params := fmt.Sprintf("%s|%d|%s|%s|%s", req.MerchantReference, req.Amount, req.Currency, req.ReturnURL, req.CancelURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.st.walletByKey[req.IdempotencyKey]; ok {
		p := s.st.wallets[id]
		if p.Params != params {
			s.writeError(w, r, conflict("idempotency key already used with different parameters"))
			return
		}
		writeCreated(w, true, p.walletPayment)
		return
	}
	p := &walletRecord{walletPayment: walletPayment{
		ID: s.newID("wpay"), Object: "wallet_payment", Status: statusActionRequired, State: walletPending,
		IdempotencyKey: req.IdempotencyKey, MerchantReference: req.MerchantReference, Description: req.Description,
		Amount: req.Amount, Currency: req.Currency, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
		Refunds: []walletRefund{}, CreatedAt: s.now(),
	}, Params: params}
	p.Action = &action{Type: "redirect", URL: s.baseURL(r) + "/wallet/pay/" + p.ID}
	p.QRCode = "sandboxwallet://pay?payment_id=" + p.ID
	s.st.wallets[p.ID] = p
	s.st.walletByKey[p.IdempotencyKey] = p.ID
	if err := s.saveWallet(p); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, false, p.walletPayment)
}

// handleWalletVoid cancels a payment the buyer has not answered yet: the
// wallet page then refuses the buyer. A payment the buyer already answered
// is declined (invalid_state): it stands as the buyer left it.
func (s *Server) handleWalletVoid(w http.ResponseWriter, r *http.Request) {
	s.walletPayments().operate(w, r, "void", false, func(p *walletRecord, req amountRequest) (opResult, error) {
		if req.Amount != 0 {
			return opResult{}, invalid("a void takes no amount")
		}
		if p.State != walletPending {
			return declined(declineHard, "invalid_state", "payment is %s", p.State), nil
		}
		p.State, p.Status, p.Action = walletVoided, statusDeclined, nil
		p.DeclineType, p.DeclineCode = declineHard, "canceled"
		return opResult{Status: statusApproved, ID: p.ID, Amount: p.Amount, Currency: p.Currency}, nil
	})
}

func (s *Server) handleWalletRefund(w http.ResponseWriter, r *http.Request) {
	s.walletPayments().operate(w, r, "refund", true, s.refundWallet)
}

func (s *Server) refundWallet(p *walletRecord, req amountRequest) (opResult, error) {
	if p.State != walletSucceeded && p.State != statePartiallyRefunded {
		return declined(declineHard, "invalid_state", "payment is %s", p.State), nil
	}
	left := p.Amount - p.RefundedAmount
	amount := req.Amount
	if amount == 0 {
		amount = left
	}
	if amount > left {
		return declined(declineHard, "amount_exceeds_refundable", "refund of %d exceeds the refundable %d", amount, left), nil
	}
	rf := walletRefund{ID: s.newID("wrf"), Amount: amount, Currency: p.Currency, Reason: req.Reason, CreatedAt: s.now()}
	p.Refunds = append(p.Refunds, rf)
	p.RefundedAmount += amount
	p.State = statePartiallyRefunded
	if p.RefundedAmount == p.Amount {
		p.State = stateRefunded
	}
	if err := s.settle(channelWallet, "refund", rf.ID, p.ID, p.MerchantReference, p.Currency, -amount, 0); err != nil {
		return opResult{}, err
	}
	return opResult{Status: statusApproved, ID: rf.ID, Amount: amount, Currency: p.Currency}, nil
}

func (s *Server) handleWalletPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.st.wallets[r.PathValue("id")]
	var p walletPayment
	if ok {
		p = rec.walletPayment
	}
	s.mu.Unlock()
	if !ok {
		s.pageNotFound(w, "wallet payment")
		return
	}
	data := pageData{
		Title: "Sandbox Wallet",
		Facts: [][2]string{
			{"Pay", formatMinor(p.Amount, p.Currency)}, {"For", p.Description}, {"Merchant reference", p.MerchantReference},
		},
	}
	if p.State == walletPending {
		data.Intro = "Confirm this payment from your wallet balance."
		data.Buttons = [][2]string{{"approve", "Approve"}, {"cancel", "Cancel"}}
	} else {
		data.Intro = "This payment is " + p.State + "."
	}
	s.renderPage(w, http.StatusOK, data)
}

func (s *Server) handleWalletSubmit(w http.ResponseWriter, r *http.Request) {
	act := s.formAction(w, r, "approve", "cancel")
	if act == "" {
		return
	}
	s.mu.Lock()
	rec, ok := s.st.wallets[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		s.pageNotFound(w, "wallet payment")
		return
	}
	changed, err := s.completeWallet(rec, act == "approve")
	p := rec.walletPayment
	s.mu.Unlock()
	target := p.ReturnURL
	if p.State == walletCanceled && p.CancelURL != "" {
		target = p.CancelURL
	}
	switch {
	case err != nil:
		s.pageError(w, r, err)
	case !changed:
		s.renderPage(w, http.StatusConflict, pageData{Title: "Already answered", Intro: "This payment is " + p.State + "."})
	case !redirectBuyer(w, r, target, redirectQuery("payment_id", p.ID, p.State)):
		s.renderPage(w, http.StatusOK, pageData{Title: "Payment " + p.State, Intro: "You can close this page."})
	}
}

// completeWallet records the buyer's answer; false means it was already given.
func (s *Server) completeWallet(p *walletRecord, approve bool) (bool, error) {
	if p.State != walletPending {
		return false, nil
	}
	p.Action = nil
	typ := "wallet.payment.succeeded"
	if approve {
		p.State, p.Status, p.PaidAt = walletSucceeded, statusApproved, timePtr(s.now())
		fee := percentFee(p.Amount, walletFeeBps)
		if err := s.settle(channelWallet, "payment", p.ID, p.ID, p.MerchantReference, p.Currency, p.Amount, fee); err != nil {
			return false, err
		}
	} else {
		typ = "wallet.payment.canceled"
		p.State, p.Status, p.DeclineType, p.DeclineCode = walletCanceled, statusDeclined, declineHard, "canceled_by_buyer"
	}
	if err := s.saveWallet(p); err != nil {
		return false, err
	}
	return true, s.emit(channelWallet, typ, p.walletPayment)
}
