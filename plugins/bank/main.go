// Command bank is the reference connector for a bank: the sandbox's /bank
// API. It shows the calls a bank offers besides card-style payments:
// pay-by-transfer into a virtual account (the buyer gets transfer
// instructions), direct debits under a signed agreement, cross-border
// payouts with an asynchronous result, the account balance, and signed
// webhooks turned into events.
package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
	"github.com/straitpay/strait/plugins/sandboxapi"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "1.0.0"

// Payment methods.
const (
	methodTransfer    = "bank_transfer" // the buyer pays into a virtual account
	methodDirectDebit = "direct_debit"  // Strait debits under an agreement
)

func main() {
	sdk.Serve(&bank{})
}

type bank struct {
	connectors.Unimplemented
	api     *sdk.Channel
	webhook sdk.Webhook
}

func (b *bank) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "bank", Version: version, Kind: connectors.KindBank,
		PaymentMethods: []string{methodTransfer, methodDirectDebit},
		Currencies:     sandboxapi.Currencies,
		Countries:      []string{"GB", "DE", "FR", "NL", "US", "SG", "HK"},
		Capabilities: []connectors.Capability{
			connectors.CapAuthorize, connectors.CapQueryPayment, connectors.CapAgreements,
			connectors.CapPayout, connectors.CapBalance, connectors.CapSettlementReport, connectors.CapSettlementReportPages, connectors.CapWebhooks,
		},
	}, nil
}

func (b *bank) Configure(ctx context.Context, cfg connectors.Config) error {
	api, webhook, err := sandboxapi.Configure(ctx, cfg, "bank")
	if err != nil {
		return err
	}
	b.api, b.webhook = api, webhook
	return nil
}

// virtualAccount is the sandbox's virtual account object.
type virtualAccount struct {
	ID             string `json:"id"`
	Status         string `json:"status"` // open | paid
	Reference      string `json:"reference"`
	AccountNumber  string `json:"account_number"`
	BankCode       string `json:"bank_code"`
	AccountName    string `json:"account_name"`
	Currency       string `json:"currency"`
	ExpectedAmount int64  `json:"expected_amount"`
	ReceivedAmount int64  `json:"received_amount"`
	PayURL         string `json:"pay_url"`
}

func (va virtualAccount) money(minor int64) connectors.Money {
	return sandboxapi.Money(minor, va.Currency)
}

// result: a paid account is an approved payment; an open one waits for
// the buyer's transfer.
func (va virtualAccount) result() connectors.Result {
	switch va.Status {
	case "paid":
		return connectors.Approved()
	case "closed":
		return connectors.Declined(connectors.DeclineHard, "canceled", "the virtual account was closed before it was paid")
	}
	return connectors.ActionRequired()
}

// debit is the sandbox's direct debit object.
type debit struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	DeclineType string `json:"decline_type"`
	DeclineCode string `json:"decline_code"`
	Reference   string `json:"reference"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
}

// Authorize either debits under an agreement (synchronous) or opens a
// virtual account and hands the buyer transfer instructions. The bank has
// no pre-authorization: money moves when the buyer pays.
func (b *bank) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	if !r.Capture {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EUNSUPPORTED, "bank payments are sales: pre-authorization is not offered")
	}
	if r.PaymentMethod == methodDirectDebit || r.AgreementID != "" {
		return b.debit(ctx, r)
	}
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	var va virtualAccount
	err = b.api.Call(ctx, http.MethodPost, "/bank/virtual-accounts", map[string]any{
		// One virtual account per reference: a retry finds the same one.
		"reference": r.Reference, "currency": r.Amount.Currency, "expected_amount": amount,
		"account_name": "Strait " + r.Reference,
	}, &va)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	resp := connectors.AuthorizeResponse{Result: va.result(), PaymentID: va.ID, Amount: va.money(va.ExpectedAmount)}
	if va.Status == "open" {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionBankTransfer, URL: va.PayURL,
			Transfer: &connectors.TransferInstructions{BankName: "Sandbox Bank", AccountName: va.AccountName,
				AccountNumber: va.AccountNumber, BankCode: va.BankCode, Reference: va.Reference,
				Amount: va.money(va.ExpectedAmount - va.ReceivedAmount)}}
	}
	return resp, nil
}

func (b *bank) debit(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	if r.AgreementID == "" {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EINVALID, "direct_debit needs agreement_id")
	}
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	var d debit
	err = b.api.Call(ctx, http.MethodPost, "/bank/agreements/"+url.PathEscape(r.AgreementID)+"/debits", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("debit", r.IdempotencyKey),
		"reference":       r.Reference, "amount": amount, "currency": r.Amount.Currency,
	}, &d)
	if sdk.IsStatus(err, http.StatusNotFound) {
		return connectors.AuthorizeResponse{Result: connectors.Declined(connectors.DeclineHard, "agreement_not_found", "")}, nil
	}
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	return connectors.AuthorizeResponse{Result: sandboxapi.Outcome(d.Status, d.DeclineType, d.DeclineCode, ""), PaymentID: d.ID,
		Amount: sandboxapi.Money(d.Amount, d.Currency)}, nil
}

// QueryPayment looks a payment up by its kind of id (dd_ debits, va_
// virtual accounts) or by reference among virtual accounts.
func (b *bank) QueryPayment(ctx context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	if strings.HasPrefix(r.PaymentID, "dd_") {
		var d debit
		err := b.api.Call(ctx, http.MethodGet, "/bank/debits/"+url.PathEscape(r.PaymentID), nil, &d)
		if sdk.IsStatus(err, http.StatusNotFound) {
			return notFound(), nil
		}
		if err != nil {
			return connectors.PaymentStatus{}, err
		}
		m := sandboxapi.Money(d.Amount, d.Currency)
		st := connectors.PaymentStatus{Result: sandboxapi.Outcome(d.Status, d.DeclineType, d.DeclineCode, ""), PaymentID: d.ID,
			Reference: d.Reference, Status: d.Status, Amount: m}
		if d.Status == "approved" {
			st.Captured = m
		}
		return st, nil
	}
	va, found, err := sandboxapi.Find[virtualAccount](ctx, b.api, "/bank/virtual-accounts", r.PaymentID, "reference", r.Reference)
	if err != nil {
		return connectors.PaymentStatus{}, err
	}
	if !found {
		return notFound(), nil
	}
	return connectors.PaymentStatus{Result: va.result(), PaymentID: va.ID, Reference: va.Reference, Status: va.Status,
		Amount: va.money(va.ExpectedAmount), Captured: va.money(va.ReceivedAmount), Refunded: va.money(0),
		Voided: va.Status == "closed"}, nil
}

// Void cancels a bank transfer the buyer has not sent: the virtual account
// is closed, and a transfer sent to it later goes back to the payer. One
// that has received part or all of its amount is declined (invalid_state),
// and QueryPayment tells where it stands. A direct debit never waits, so
// there is nothing to void.
func (b *bank) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	if !strings.HasPrefix(r.PaymentID, "va_") {
		return connectors.OperationResponse{}, connectors.Errorf(connectors.EUNSUPPORTED, "only a bank transfer that waits for the buyer can be canceled")
	}
	return sandboxapi.Operate(ctx, b.api, "/bank/virtual-accounts/"+url.PathEscape(r.PaymentID)+"/close", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("void", r.IdempotencyKey),
	})
}

func notFound() connectors.PaymentStatus {
	return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "the bank has no such payment")}
}

// agreement is the sandbox's direct-debit agreement object.
type agreement struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	State       string `json:"state"`
	DeclineType string `json:"decline_type"`
	DeclineCode string `json:"decline_code"`
	Reference   string `json:"reference"`
	Action      *struct {
		URL string `json:"url"`
	} `json:"action"`
}

func (a agreement) response() connectors.AgreementResponse {
	resp := connectors.AgreementResponse{Result: sandboxapi.Outcome(a.Status, a.DeclineType, a.DeclineCode, ""), AgreementID: a.ID, Status: a.State}
	if a.Action != nil {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionRedirect, URL: a.Action.URL}
	}
	return resp
}

// SignAgreement asks the payer to sign a mandate on the bank's page.
func (b *bank) SignAgreement(ctx context.Context, r connectors.SignAgreementRequest) (connectors.AgreementResponse, error) {
	currency := r.Account.Currency
	if currency == "" {
		currency = r.MaxAmount.Currency
	}
	if currency == "" {
		return connectors.AgreementResponse{}, connectors.Errorf(connectors.EINVALID, "account currency or max_amount is required")
	}
	body := map[string]any{
		"idempotency_key": sdk.IdempotencyKey("agreement", r.IdempotencyKey),
		"reference":       r.Reference, "currency": currency,
		"payer":      map[string]any{"name": r.Account.Holder, "account_number": r.Account.Number},
		"return_url": r.ReturnURL,
	}
	if r.MaxAmount.Minor > 0 {
		limit, err := sandboxapi.Amount(r.MaxAmount)
		if err != nil {
			return connectors.AgreementResponse{}, err
		}
		body["max_amount"] = limit
	}
	var a agreement
	if err := b.api.Call(ctx, http.MethodPost, "/bank/agreements", body, &a); err != nil {
		return connectors.AgreementResponse{}, err
	}
	return a.response(), nil
}

func (b *bank) QueryAgreement(ctx context.Context, r connectors.QueryAgreementRequest) (connectors.AgreementResponse, error) {
	a, found, err := sandboxapi.Find[agreement](ctx, b.api, "/bank/agreements", r.AgreementID, "reference", r.Reference)
	if err != nil {
		return connectors.AgreementResponse{}, err
	}
	if !found {
		return connectors.AgreementResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil
	}
	return a.response(), nil
}

// TerminateAgreement ends a mandate. An approved answer means the
// termination is done, whatever the agreement's own status word says.
func (b *bank) TerminateAgreement(ctx context.Context, r connectors.TerminateAgreementRequest) (connectors.AgreementResponse, error) {
	var op struct {
		Status      string    `json:"status"`
		DeclineType string    `json:"decline_type"`
		DeclineCode string    `json:"decline_code"`
		Agreement   agreement `json:"agreement"`
	}
	err := b.api.Call(ctx, http.MethodPost, "/bank/agreements/"+url.PathEscape(r.AgreementID)+"/terminate", map[string]any{}, &op)
	if sdk.IsStatus(err, http.StatusNotFound) {
		return connectors.AgreementResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil
	}
	if err != nil {
		return connectors.AgreementResponse{}, err
	}
	return connectors.AgreementResponse{Result: sandboxapi.Outcome(op.Status, op.DeclineType, op.DeclineCode, ""),
		AgreementID: op.Agreement.ID, Status: op.Agreement.State}, nil
}

// Payout sends money abroad. The bank answers pending; the result comes
// as a bank.payout.completed or bank.payout.failed webhook.
func (b *bank) Payout(ctx context.Context, r connectors.PayoutRequest) (connectors.OperationResponse, error) {
	var p struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		DeclineType string `json:"decline_type"`
		DeclineCode string `json:"decline_code"`
		Amount      int64  `json:"amount"`
		Currency    string `json:"currency"`
	}
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	err = b.api.Call(ctx, http.MethodPost, "/bank/payouts", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("payout", r.IdempotencyKey),
		"reference":       r.Reference, "amount": amount, "currency": r.Amount.Currency,
		"beneficiary": map[string]any{"name": r.Beneficiary.Holder, "account_number": r.Beneficiary.Number,
			"bank_code": r.Beneficiary.BankCode, "country": r.Beneficiary.Country},
	}, &p)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return connectors.OperationResponse{Result: sandboxapi.Outcome(p.Status, p.DeclineType, p.DeclineCode, ""), ID: p.ID,
		Amount: sandboxapi.Money(p.Amount, p.Currency)}, nil
}

func (b *bank) QueryBalance(ctx context.Context, r connectors.BalanceRequest) (connectors.BalanceResponse, error) {
	path := "/bank/balance"
	if r.Currency != "" {
		path += "?currency=" + url.QueryEscape(r.Currency)
	}
	var ans struct {
		Balances []struct {
			Currency  string `json:"currency"`
			Available int64  `json:"available"`
			Pending   int64  `json:"pending"`
		} `json:"balances"`
	}
	if err := b.api.Call(ctx, http.MethodGet, path, nil, &ans); err != nil {
		return connectors.BalanceResponse{}, err
	}
	out := connectors.BalanceResponse{Result: connectors.Approved()}
	for _, x := range ans.Balances {
		out.Balances = append(out.Balances, connectors.Balance{
			Available: sandboxapi.Money(x.Available, x.Currency),
			Pending:   sandboxapi.Money(x.Pending, x.Currency)})
	}
	return out, nil
}

func (b *bank) FetchSettlementReport(ctx context.Context, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	return sandboxapi.SettlementReport(ctx, b.api, "/bank/settlements", r)
}

// HandleHTTP turns the bank's signed notifications into events: incoming
// transfers pay virtual accounts, payouts complete or fail, agreements
// are signed, rejected or terminated.
//
// A transfer pays its payment only once its virtual account has received
// the whole amount: a buyer may pay in parts, and a part is not the
// payment. So an incoming transfer is looked up on its account; until the
// account is paid, the notification is acknowledged and the payment keeps
// waiting. The paid event carries what the account received in all.
func (b *bank) HandleHTTP(ctx context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	if r.Path != "/webhook" || r.Method != http.MethodPost {
		return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
	}
	n, err := sandboxapi.Verify(b.webhook, r)
	if err != nil {
		sdk.Logger().Warn("webhook refused", "err", err)
		return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
	}
	var obj struct {
		ID               string `json:"id"`
		VirtualAccountID string `json:"virtual_account_id"`
		Reference        string `json:"reference"`
		Amount           int64  `json:"amount"`
		Currency         string `json:"currency"`
		State            string `json:"state"`
		Status           string `json:"status"`
		FailureCode      string `json:"failure_code"`
	}
	if err := n.Decode(&obj); err != nil {
		return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
	}
	ev := connectors.Event{ID: n.ID, OccurredAt: n.CreatedAt, Reference: obj.Reference, ObjectID: obj.ID,
		Amount: sandboxapi.Money(obj.Amount, obj.Currency), Status: obj.State}
	switch n.Type {
	case "bank.transfer.received":
		var va virtualAccount
		if err := b.api.Call(ctx, http.MethodGet, "/bank/virtual-accounts/"+url.PathEscape(obj.VirtualAccountID), nil, &va); err != nil {
			// The bank delivers the notification again.
			sdk.Logger().Warn("virtual account of a transfer not read", "virtual_account", obj.VirtualAccountID, "err", err)
			return connectors.HTTPResponse{Status: http.StatusServiceUnavailable}, nil
		}
		if va.Status != "paid" {
			return connectors.HTTPResponse{Status: http.StatusOK}, nil
		}
		ev.Type, ev.PaymentID, ev.Result, ev.Status = connectors.EventPaymentResult, va.ID, connectors.Approved(), va.Status
		ev.Reference, ev.Amount = va.Reference, va.money(va.ReceivedAmount)
	case "bank.payout.completed":
		ev.Type, ev.Result = connectors.EventPayoutResult, connectors.Approved()
	case "bank.payout.failed":
		ev.Type, ev.Result = connectors.EventPayoutResult, connectors.Declined(connectors.DeclineHard, obj.FailureCode, "")
	case "bank.agreement.activated":
		ev.Type, ev.Result = connectors.EventAgreementResult, connectors.Approved()
	case "bank.agreement.rejected", "bank.agreement.terminated":
		ev.Type, ev.Result = connectors.EventAgreementResult, connectors.Declined(connectors.DeclineHard, obj.State, "")
	default:
		return connectors.HTTPResponse{Status: http.StatusOK}, nil
	}
	return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{ev}}, nil
}
