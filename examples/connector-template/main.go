// Command acme is a connector template: a card channel ("Acme") behind
// Strait's connector contract. Copy this folder, rename the module in
// go.mod, and replace the HTTP calls with your channel's API; the
// conformance test (acme_test.go) runs against fakechannel, a small fake of
// Acme's API that ships with the template, until you point it at your
// channel's sandbox.
//
// Acme's API, as the fake serves it:
//
//	POST /payments                 {idempotency_key, reference, amount, currency, capture, card} → payment
//	GET  /payments/{id}            → payment;  GET /payments?reference=R → {"data": [payment]}
//	POST /payments/{id}/capture    {idempotency_key, amount}  → payment
//	POST /payments/{id}/void       {idempotency_key}          → payment
//	POST /payments/{id}/refunds    {idempotency_key, amount}  → refund
//
// A payment's status is approved, requires_action (the buyer must pass
// 3-D Secure at action_url), declined or canceled. Webhooks carry
// Acme-Timestamp and Acme-Signature: hex(HMAC-SHA256(secret, timestamp "." body)).
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "0.1.0"

type acme struct {
	connectors.Unimplemented // everything not written below answers EUNSUPPORTED
	api                      *sdk.Channel
	webhook                  sdk.Webhook
}

// exponent is Acme's minor unit: ISO 4217's, as most channels count.
func exponent(currency string) (int, error) {
	e, ok := sdk.ISO4217Exponent(currency)
	if !ok {
		return 0, connectors.Errorf(connectors.EINVALID, "acme has no minor unit for %q", currency)
	}
	return e, nil
}

// toAcme converts an amount from Strait's exponent to Acme's, exactly, or
// refuses (EINVALID: nothing is sent).
func toAcme(m connectors.Money) (int64, error) {
	e, err := exponent(m.Currency)
	if err != nil {
		return 0, err
	}
	return sdk.ToChannel(m, e)
}

// fromAcme states the exponent of an amount Acme reported.
func fromAcme(minor int64, currency string) connectors.Money {
	e, err := exponent(currency)
	if err != nil {
		return connectors.Money{Minor: minor, Currency: currency}
	}
	return sdk.FromChannel(minor, currency, e)
}

func (a *acme) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "acme", Version: version, Kind: connectors.KindCardScheme,
		PaymentMethods: []string{"card"}, Currencies: []string{"USD", "EUR", "JPY"},
		Capabilities: []connectors.Capability{connectors.CapAuthorize, connectors.CapPreauth, connectors.CapPartialCapture,
			connectors.CapRefund, connectors.CapQueryPayment, connectors.CapWebhooks},
	}, nil
}

// Configure takes base_url, api_key and webhook_secret from the manifest
// entry (secrets as ${VARIABLES} of Strait's environment).
func (a *acme) Configure(_ context.Context, cfg connectors.Config) error {
	if _, err := url.ParseRequestURI(cfg["base_url"]); err != nil || cfg["api_key"] == "" || cfg["webhook_secret"] == "" {
		return connectors.Errorf(connectors.EINVALID, "base_url (a URL), api_key and webhook_secret are required")
	}
	a.api = &sdk.Channel{BaseURL: cfg["base_url"], Header: http.Header{"Authorization": {"Bearer " + cfg["api_key"]}}}
	a.webhook = sdk.Webhook{Secret: []byte(cfg["webhook_secret"])}
	return nil
}

// payment is Acme's payment object.
type payment struct {
	ID             string `json:"id"`
	Reference      string `json:"reference"`
	Status         string `json:"status"`
	DeclineCode    string `json:"decline_code"`
	ActionURL      string `json:"action_url"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	CapturedAmount int64  `json:"captured_amount"`
	RefundedAmount int64  `json:"refunded_amount"`
}

// result maps Acme's status to Strait's normalized outcome.
func (p payment) result() connectors.Result {
	switch p.Status {
	case "approved":
		return connectors.Approved()
	case "requires_action":
		return connectors.ActionRequired()
	case "declined":
		return connectors.Declined(connectors.DeclineHard, p.DeclineCode, "")
	case "canceled":
		return connectors.Declined(connectors.DeclineHard, "canceled", "")
	}
	// A status we do not know: never guess what happened to the money.
	return connectors.Unknown("unrecognized acme status " + p.Status)
}

func (a *acme) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	if r.Card == nil {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EINVALID, "acme needs a card")
	}
	amount, err := toAcme(r.Amount)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	var p payment
	err = a.api.Call(ctx, http.MethodPost, "/payments", map[string]any{
		// Strait's key, passed on: a retried attempt is a replay at Acme.
		"idempotency_key": sdk.IdempotencyKey("authorize", r.IdempotencyKey),
		"reference":       r.Reference, "amount": amount, "currency": r.Amount.Currency, "capture": r.Capture,
		"card": map[string]any{"number": r.Card.Number, "exp_month": r.Card.ExpMonth, "exp_year": r.Card.ExpYear, "cvc": r.Card.CVC},
	}, &p)
	if err != nil {
		return connectors.AuthorizeResponse{}, err // sdk.Channel chose EUNAVAILABLE, EUNKNOWN or EINVALID
	}
	resp := connectors.AuthorizeResponse{Result: p.result(), PaymentID: p.ID, Amount: fromAcme(p.Amount, p.Currency)}
	if p.Status == "requires_action" {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionThreeDSChallenge, URL: p.ActionURL}
	}
	return resp, nil
}

// operate posts an operation on a payment; a payment Acme does not know is
// a hard not_found decline: nothing can have moved.
func (a *acme) operate(ctx context.Context, id, op string, body map[string]any) (connectors.OperationResponse, error) {
	var ans struct {
		payment
		RefundID string `json:"refund_id"`
	}
	err := a.api.Call(ctx, http.MethodPost, "/payments/"+url.PathEscape(id)+"/"+op, body, &ans)
	if sdk.IsStatus(err, http.StatusNotFound) {
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil
	}
	if sdk.IsStatus(err, http.StatusConflict) { // Acme refuses the operation in this state
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "invalid_state", "")}, nil
	}
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	resp := connectors.OperationResponse{Result: connectors.Approved(), ID: ans.ID}
	if ans.RefundID != "" {
		resp.ID = ans.RefundID
	}
	if a, ok := body["amount"].(int64); ok {
		resp.Amount = fromAcme(a, ans.Currency)
	}
	return resp, nil
}

func (a *acme) Capture(ctx context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	amount, err := toAcme(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return a.operate(ctx, r.PaymentID, "capture", map[string]any{"idempotency_key": sdk.IdempotencyKey("capture", r.IdempotencyKey), "amount": amount})
}

// Void releases an authorization, or cancels a payment still waiting for
// the buyer at 3-D Secure, so that the buyer can no longer pay it.
func (a *acme) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	return a.operate(ctx, r.PaymentID, "void", map[string]any{"idempotency_key": sdk.IdempotencyKey("void", r.IdempotencyKey)})
}

func (a *acme) Refund(ctx context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	amount, err := toAcme(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return a.operate(ctx, r.PaymentID, "refunds", map[string]any{"idempotency_key": sdk.IdempotencyKey("refund", r.IdempotencyKey), "amount": amount})
}

// QueryPayment works by Acme's id or, after an unknown outcome, by
// Strait's reference alone. No payment means Acme never charged: a hard
// not_found decline.
func (a *acme) QueryPayment(ctx context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	var p payment
	if r.PaymentID != "" {
		err := a.api.Call(ctx, http.MethodGet, "/payments/"+url.PathEscape(r.PaymentID), nil, &p)
		if sdk.IsStatus(err, http.StatusNotFound) {
			return notFound(), nil
		}
		if err != nil {
			return connectors.PaymentStatus{}, err
		}
	} else {
		var list struct{ Data []payment }
		if err := a.api.Call(ctx, http.MethodGet, "/payments?reference="+url.QueryEscape(r.Reference), nil, &list); err != nil {
			return connectors.PaymentStatus{}, err
		}
		if len(list.Data) == 0 {
			return notFound(), nil
		}
		p = list.Data[0]
	}
	return connectors.PaymentStatus{Result: p.result(), PaymentID: p.ID, Reference: p.Reference, Status: p.Status,
		Amount: fromAcme(p.Amount, p.Currency), Captured: fromAcme(p.CapturedAmount, p.Currency),
		Refunded: fromAcme(p.RefundedAmount, p.Currency), Voided: p.Status == "canceled"}, nil
}

func notFound() connectors.PaymentStatus {
	return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "acme has no such payment")}
}

// HandleHTTP receives Acme's webhooks at /connectors/acme/webhook: a forged
// or stale one gets 401 and no events; a verified one becomes an event with
// Acme's notification id, which Strait stores before we answer 200.
func (a *acme) HandleHTTP(_ context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	if r.Path != "/webhook" || r.Method != http.MethodPost {
		return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
	}
	ts := r.Headers.Get("Acme-Timestamp")
	if err := a.webhook.Verify(ts, r.Headers.Get("Acme-Signature"), []byte(ts), r.Body); err != nil {
		sdk.Logger().Warn("webhook refused", "err", err)
		return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
	}
	var n struct {
		ID      string  `json:"id"`
		Type    string  `json:"type"`
		Payment payment `json:"payment"`
	}
	if err := json.Unmarshal(r.Body, &n); err != nil || n.ID == "" {
		return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
	}
	if n.Type != "payment.updated" {
		return connectors.HTTPResponse{Status: http.StatusOK}, nil // acknowledge what we do not model
	}
	p := n.Payment
	return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{{
		ID: n.ID, Type: connectors.EventPaymentResult, PaymentID: p.ID, Reference: p.Reference,
		Result: p.result(), Status: p.Status, Amount: fromAcme(p.Amount, p.Currency),
	}}}, nil
}

func main() { sdk.Serve(&acme{}) }
