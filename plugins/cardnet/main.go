// Command cardnet is the reference connector for a card network and its
// acquirer: the sandbox's /card API. Copy it to start a connector of your
// own; every piece is here once: configuration, the channel client,
// idempotency, mapping answers to normalized outcomes, and turning the
// channel's signed webhooks into events.
//
// The connector is a stateless adapter: the channel keeps the state, so
// a crash or restart of this process loses nothing.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
	"github.com/straitpay/strait/plugins/sandboxapi"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "1.0.0"

func main() {
	sdk.Serve(&cardnet{})
}

// cardnet implements connectors.Connector; Unimplemented answers
// "unsupported" for the calls a card network does not offer (payouts,
// agreements, rates).
type cardnet struct {
	connectors.Unimplemented
	api     *sdk.Channel
	webhook sdk.Webhook
}

// Describe tells Strait what this connector can do; routing and the
// conformance kit rely on it.
func (c *cardnet) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "cardnet", Version: version, Kind: connectors.KindCardScheme,
		PaymentMethods: []string{"card"},
		Currencies:     sandboxapi.Currencies,
		Countries:      []string{"US", "GB", "DE", "FR", "JP", "CN", "HK", "SG", "AU", "CA"},
		Capabilities: []connectors.Capability{
			connectors.CapAuthorize, connectors.CapPreauth, connectors.CapPartialCapture,
			connectors.CapRefund, connectors.CapQueryPayment, connectors.CapSettlementReport, connectors.CapSettlementReportPages,
			connectors.CapWebhooks, connectors.CapDisputes,
		},
	}, nil
}

// Configure receives the settings from Strait's manifest: never read
// secrets from the environment.
func (c *cardnet) Configure(ctx context.Context, cfg connectors.Config) error {
	api, webhook, err := sandboxapi.Configure(ctx, cfg, "card")
	if err != nil {
		return err
	}
	c.api, c.webhook = api, webhook
	return nil
}

// cardPayment is the sandbox's card payment object, reduced to what the
// connector reads.
type cardPayment struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	State          string `json:"state"`
	DeclineType    string `json:"decline_type"`
	DeclineCode    string `json:"decline_code"`
	DeclineMessage string `json:"decline_message"`
	Action         *struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"action"`
	MerchantReference string `json:"merchant_reference"`
	Amount            int64  `json:"amount"`
	Currency          string `json:"currency"`
	CapturedAmount    int64  `json:"captured_amount"`
	RefundedAmount    int64  `json:"refunded_amount"`
}

// result maps the payment's status to the normalized outcome.
func (p cardPayment) result() connectors.Result {
	return sandboxapi.Outcome(p.Status, p.DeclineType, p.DeclineCode, p.DeclineMessage)
}

func (c *cardnet) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	if r.Card == nil {
		return connectors.AuthorizeResponse{}, connectors.Errorf(connectors.EINVALID, "cardnet needs a card")
	}
	// The network counts in ISO 4217 minor units; Strait says which unit
	// r.Amount is in. An amount with no exact form there is refused before
	// anything is sent.
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.AuthorizeResponse{}, err
	}
	body := map[string]any{
		// The same Strait key always derives the same channel key: a
		// retried attempt is a replay at the network, never a new charge.
		"idempotency_key":    sdk.IdempotencyKey("authorize", r.IdempotencyKey),
		"merchant_reference": r.Reference,
		"amount":             amount,
		"currency":           r.Amount.Currency,
		"capture":            r.Capture,
		"three_ds":           threeDS[r.ThreeDS],
		"card": map[string]any{
			"number": r.Card.Number, "exp_month": r.Card.ExpMonth, "exp_year": r.Card.ExpYear,
			"cvc": r.Card.CVC, "holder_name": r.Card.Holder,
		},
		"return_url":  r.ReturnURL,
		"description": r.Description,
	}
	var p cardPayment
	if err := c.api.Call(ctx, http.MethodPost, "/card/payments", body, &p); err != nil {
		// A 4xx means the network refused the request itself (nothing was
		// authorized); anything else keeps the error's own code.
		return connectors.AuthorizeResponse{}, err
	}
	resp := connectors.AuthorizeResponse{Result: p.result(), PaymentID: p.ID, Amount: sandboxapi.Money(p.Amount, p.Currency)}
	if p.Action != nil {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionThreeDSChallenge, URL: p.Action.URL}
	}
	return resp, nil
}

// threeDS names Strait's 3-D Secure request as the network's three_ds
// field does (sandbox/API.md).
var threeDS = map[connectors.ThreeDS]string{
	connectors.ThreeDSAutomatic: "automatic",
	connectors.ThreeDSAny:       "any",
	connectors.ThreeDSChallenge: "challenge",
}

func (c *cardnet) Capture(ctx context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return sandboxapi.Operate(ctx, c.api, "/card/payments/"+url.PathEscape(r.PaymentID)+"/capture", map[string]any{
		"amount": amount, "idempotency_key": sdk.IdempotencyKey("capture", r.IdempotencyKey),
	})
}

// Void releases an authorization, or cancels a payment still waiting for
// its 3-D Secure challenge: the network then refuses the buyer's answer on
// the challenge page. A payment the buyer already finished is declined
// invalid_state, and Strait asks QueryPayment where it stands.
func (c *cardnet) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	return sandboxapi.Operate(ctx, c.api, "/card/payments/"+url.PathEscape(r.PaymentID)+"/void", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("void", r.IdempotencyKey),
	})
}

func (c *cardnet) Refund(ctx context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	amount, err := sandboxapi.Amount(r.Amount)
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	return sandboxapi.Operate(ctx, c.api, "/card/payments/"+url.PathEscape(r.PaymentID)+"/refunds", map[string]any{
		"amount": amount, "idempotency_key": sdk.IdempotencyKey("refund", r.IdempotencyKey), "reason": r.Reason,
	})
}

// QueryPayment finds a payment by the network's id or, after an unknown
// outcome, by Strait's reference. No payment at all means the network
// never authorized anything: a hard decline the core can settle on.
func (c *cardnet) QueryPayment(ctx context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	p, found, err := sandboxapi.Find[cardPayment](ctx, c.api, "/card/payments", r.PaymentID, "merchant_reference", r.Reference)
	if err != nil {
		return connectors.PaymentStatus{}, err
	}
	if !found {
		return notFound(), nil
	}
	money := func(minor int64) connectors.Money { return sandboxapi.Money(minor, p.Currency) }
	return connectors.PaymentStatus{
		Result: p.result(), PaymentID: p.ID, Reference: p.MerchantReference, Status: p.State,
		Amount: money(p.Amount), Captured: money(p.CapturedAmount), Refunded: money(p.RefundedAmount),
		Voided: p.State == "voided",
	}, nil
}

func notFound() connectors.PaymentStatus {
	return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "the network has no such payment")}
}

func (c *cardnet) FetchSettlementReport(ctx context.Context, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	return sandboxapi.SettlementReport(ctx, c.api, "/card/settlements", r)
}

// HandleHTTP receives the network's webhooks under
// /connectors/cardnet/webhook. A forged or stale one gets 401; a
// verified one becomes an event that Strait stores before we answer 200,
// so the network retries until Strait has it.
func (c *cardnet) HandleHTTP(_ context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	if r.Path != "/webhook" || r.Method != http.MethodPost {
		return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
	}
	n, err := sandboxapi.Verify(c.webhook, r)
	if err != nil {
		sdk.Logger().Warn("webhook refused", "err", err)
		return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
	}
	ev := connectors.Event{ID: n.ID, OccurredAt: n.CreatedAt}
	switch n.Type {
	case "card.payment.authorized", "card.payment.declined":
		var p cardPayment
		if err := n.Decode(&p); err != nil {
			return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
		}
		ev.Type, ev.PaymentID, ev.Reference, ev.Result, ev.Status = connectors.EventPaymentResult, p.ID, p.MerchantReference, p.result(), p.State
		ev.Amount = sandboxapi.Money(p.Amount, p.Currency)
	case "card.dispute.created", "card.dispute.updated":
		var d dispute
		if err := n.Decode(&d); err != nil {
			return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
		}
		cd := d.contract()
		ev.Type, ev.PaymentID, ev.Reference, ev.ObjectID, ev.Status = connectors.EventDispute, d.PaymentID, d.MerchantReference, d.ID, d.Status
		ev.Result, ev.Amount, ev.Dispute = connectors.Approved(), cd.Amount, &cd
	default:
		// Acknowledge what we do not model, or the network retries forever.
		return connectors.HTTPResponse{Status: http.StatusOK}, nil
	}
	return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{ev}}, nil
}

// dispute is the sandbox's dispute object: an inquiry, chargeback or
// pre-arbitration, one id through its stages.
type dispute struct {
	ID                string    `json:"id"`
	PaymentID         string    `json:"payment_id"`
	MerchantReference string    `json:"merchant_reference"`
	Amount            int64     `json:"amount"`
	Currency          string    `json:"currency"`
	Fee               int64     `json:"fee"`
	ReasonCode        string    `json:"reason_code"`
	Reason            string    `json:"reason"`
	Stage             string    `json:"stage"`
	Status            string    `json:"status"`
	DueBy             time.Time `json:"due_by"`
}

// contract maps the network's dispute to the contract's; the sandbox's
// stages and statuses are the contract's words.
func (d dispute) contract() connectors.Dispute {
	return connectors.Dispute{
		ID: d.ID, PaymentID: d.PaymentID, Reference: d.MerchantReference,
		Stage: connectors.DisputeStage(d.Stage), Status: connectors.DisputeStatus(d.Status),
		ReasonCode: d.ReasonCode, Reason: d.Reason, Amount: sandboxapi.Money(d.Amount, d.Currency),
		Fee: sandboxapi.Money(d.Fee, d.Currency), DueBy: d.DueBy,
	}
}

// disputeAnswer is the network's answer to evidence or an acceptance.
type disputeAnswer struct {
	Status         string  `json:"status"`
	DeclineType    string  `json:"decline_type"`
	DeclineCode    string  `json:"decline_code"`
	DeclineMessage string  `json:"decline_message"`
	Dispute        dispute `json:"dispute"`
}

// evidenceFile is what the network's evidence API takes of a file: the
// sandbox keeps a digest, never the document.
type evidenceFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Purpose     string `json:"purpose"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// SubmitDisputeEvidence sends the merchant's evidence. The network decides
// later and says so with a card.dispute.updated webhook.
func (c *cardnet) SubmitDisputeEvidence(ctx context.Context, r connectors.SubmitDisputeEvidenceRequest) (connectors.DisputeResponse, error) {
	files := make([]evidenceFile, 0, len(r.Files))
	for _, f := range r.Files {
		sum := sha256.Sum256(f.Data)
		files = append(files, evidenceFile{Name: f.Name, ContentType: f.ContentType, Purpose: f.Purpose,
			Size: int64(len(f.Data)), SHA256: hex.EncodeToString(sum[:])})
	}
	return c.answerDispute(ctx, r.DisputeID, "evidence", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("dispute_evidence", r.IdempotencyKey), "fields": r.Evidence, "files": files,
	})
}

// AcceptDispute concedes a dispute.
func (c *cardnet) AcceptDispute(ctx context.Context, r connectors.AcceptDisputeRequest) (connectors.DisputeResponse, error) {
	return c.answerDispute(ctx, r.DisputeID, "accept", map[string]any{
		"idempotency_key": sdk.IdempotencyKey("dispute_accept", r.IdempotencyKey),
	})
}

func (c *cardnet) answerDispute(ctx context.Context, id, op string, body map[string]any) (connectors.DisputeResponse, error) {
	var a disputeAnswer
	err := c.api.Call(ctx, http.MethodPost, "/card/disputes/"+url.PathEscape(id)+"/"+op, body, &a)
	if sdk.IsStatus(err, http.StatusNotFound) {
		return connectors.DisputeResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "the network has no such dispute")}, nil
	}
	if err != nil {
		return connectors.DisputeResponse{}, err
	}
	return connectors.DisputeResponse{
		Result:  sandboxapi.Outcome(a.Status, a.DeclineType, a.DeclineCode, a.DeclineMessage),
		Dispute: a.Dispute.contract(),
	}, nil
}

// FetchDispute reads a dispute by the network's id.
func (c *cardnet) FetchDispute(ctx context.Context, r connectors.FetchDisputeRequest) (connectors.DisputeResponse, error) {
	d, found, err := sandboxapi.Find[dispute](ctx, c.api, "/card/disputes", r.DisputeID, "", "")
	if err != nil {
		return connectors.DisputeResponse{}, err
	}
	if !found {
		return connectors.DisputeResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "the network has no such dispute")}, nil
	}
	return connectors.DisputeResponse{Result: connectors.Approved(), Dispute: d.contract()}, nil
}
