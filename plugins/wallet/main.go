// Command wallet is the reference connector for a wallet in the style of
// Alipay, WeChat Pay and PayPal: the sandbox's /wallet API. The buyer
// approves on the wallet's page (a redirect) or by scanning a QR code;
// the result arrives later as a signed webhook, which this connector
// turns into an event.
package main

import (
	"context"
	"net/http"
	"net/url"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
	"github.com/straitpay/strait/plugins/sandboxapi"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "1.0.0"

// Payment methods: the same wallet payment, presented as a redirect to
// the wallet's page or as a QR code to scan.
const (
	methodRedirect = "wallet_redirect"
	methodQR       = "wallet_qr"
)

func main() {
	sdk.Serve(&wallet{})
}

// wallet implements connectors.Connector. A wallet payment is a sale
// approved by the buyer, so there is no capture; Void cancels a payment
// the buyer has not answered yet.
type wallet struct {
	connectors.Unimplemented
	api     *sdk.Channel
	webhook sdk.Webhook
}

func (w *wallet) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "wallet", Version: version, Kind: connectors.KindWallet,
		PaymentMethods: []string{methodRedirect, methodQR},
		Currencies:     sandboxapi.Currencies,
		Countries:      []string{"CN", "HK", "SG", "US", "GB"},
		Capabilities: []connectors.Capability{
			connectors.CapAuthorize, connectors.CapRefund, connectors.CapQueryPayment,
			connectors.CapSettlementReport, connectors.CapSettlementReportPages, connectors.CapWebhooks,
		},
	}, nil
}

func (w *wallet) Configure(ctx context.Context, cfg connectors.Config) error {
	api, webhook, err := sandboxapi.Configure(ctx, cfg, "wallet")
	if err != nil {
		return err
	}
	w.api, w.webhook = api, webhook
	return nil
}

// walletPayment is the sandbox's wallet payment object.
type walletPayment struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	State       string `json:"state"`
	DeclineType string `json:"decline_type"`
	DeclineCode string `json:"decline_code"`
	Action      *struct {
		URL string `json:"url"`
	} `json:"action"`
	QRCode            string `json:"qr_code"`
	MerchantReference string `json:"merchant_reference"`
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency"`
	RefundedAmount    int64  `json:"refunded_amount"`
}

func (p walletPayment) result() connectors.Result {
	return sandboxapi.Outcome(p.Status, p.DeclineType, p.DeclineCode, "")
}

func (p walletPayment) money(minor int64) connectors.Money {
	return sandboxapi.Money(minor, p.Currency)
}

// Authorize creates the wallet payment and hands back the buyer's next
// step: a redirect to the wallet page, or a QR code for wallet_qr.
func (w *wallet) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	if !r.Capture {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EUNSUPPORTED, "wallet payments are sales: pre-authorization is not offered")
	}
	if r.ReturnURL == "" {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EINVALID, "return_url is required: the wallet sends the buyer back to it")
	}
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	var p walletPayment
	err = w.api.Call(ctx, http.MethodPost, "/wallet/payments", map[string]any{
		"idempotency_key":    sdk.IdempotencyKey("authorize", r.IdempotencyKey),
		"merchant_reference": r.Reference,
		"amount":             amount,
		"currency":           r.Amount.Currency,
		"description":        r.Description,
		"return_url":         r.ReturnURL,
	}, &p)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	resp := connectors.AuthorizeResponse{Result: p.result(), PaymentID: p.ID, Amount: p.money(p.Amount)}
	if p.Action != nil {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionRedirect, URL: p.Action.URL}
		if r.PaymentMethod == methodQR {
			resp.NextAction.Type, resp.NextAction.QRData = connectors.ActionQRCode, p.QRCode
		}
	}
	return resp, nil
}

// Void cancels a wallet payment that waits for the buyer: the wallet's page
// then refuses the buyer. A payment the buyer already answered is declined
// (invalid_state), and QueryPayment tells where it stands.
func (w *wallet) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	return sandboxapi.Operate(ctx, w.api, "/wallet/payments/"+url.PathEscape(r.PaymentID)+"/void", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("void", r.IdempotencyKey),
	})
}

func (w *wallet) Refund(ctx context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return sandboxapi.Operate(ctx, w.api, "/wallet/payments/"+url.PathEscape(r.PaymentID)+"/refunds", map[string]any{
		"amount": amount, "idempotency_key": sdk.IdempotencyKey("refund", r.IdempotencyKey), "reason": r.Reason,
	})
}

func (w *wallet) QueryPayment(ctx context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	p, found, err := sandboxapi.Find[walletPayment](ctx, w.api, "/wallet/payments", r.PaymentID, "merchant_reference", r.Reference)
	if err != nil {
		return connectors.PaymentStatus{}, err
	}
	if !found {
		return notFound(), nil
	}
	captured := int64(0)
	if p.Status == "approved" {
		captured = p.Amount // a succeeded wallet payment is captured
	}
	return connectors.PaymentStatus{Result: p.result(), PaymentID: p.ID, Reference: p.MerchantReference, Status: p.State,
		Amount: p.money(p.Amount), Captured: p.money(captured), Refunded: p.money(p.RefundedAmount),
		Voided: p.State == "voided"}, nil
}

func notFound() connectors.PaymentStatus {
	return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "the wallet has no such payment")}
}

func (w *wallet) FetchSettlementReport(ctx context.Context, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	return sandboxapi.SettlementReport(ctx, w.api, "/wallet/settlements", r)
}

// HandleHTTP turns the wallet's signed notifications into payment events.
func (w *wallet) HandleHTTP(_ context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	if r.Path != "/webhook" || r.Method != http.MethodPost {
		return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
	}
	n, err := sandboxapi.Verify(w.webhook, r)
	if err != nil {
		sdk.Logger().Warn("webhook refused", "err", err)
		return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
	}
	switch n.Type {
	case "wallet.payment.succeeded", "wallet.payment.canceled":
	default:
		return connectors.HTTPResponse{Status: http.StatusOK}, nil
	}
	var p walletPayment
	if err := n.Decode(&p); err != nil {
		return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
	}
	ev := connectors.Event{ID: n.ID, Type: connectors.EventPaymentResult, OccurredAt: n.CreatedAt,
		PaymentID: p.ID, Reference: p.MerchantReference, Result: p.result(), Amount: p.money(p.Amount), Status: p.State}
	return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{ev}}, nil
}
