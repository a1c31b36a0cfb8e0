// Command kitsubject is the conformance kit's own test subject: a connector
// that keeps its payments in memory and passes the kit, unless its
// configuration's "misbehave" names a fault the kit must catch:
//
//	webhook_401       answers 401 to every webhook, signed or not
//	webhook_unsigned  accepts webhooks without checking their signature
//	void_waiting      approves the void of a waiting payment but leaves it waiting
//	unknown_error     answers an unknown reference with an error, not not_found
//
// A card number ending in 0069 leaves the payment waiting for the buyer
// (3-D Secure). Webhooks are signed as hex(HMAC-SHA256(secret,
// timestamp.body)) in Kit-Signature, the Unix time in Kit-Timestamp.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
)

type subject struct {
	connectors.Unimplemented
	mu        sync.Mutex
	misbehave string
	webhook   sdk.Webhook
	byKey     map[string]*payment
	byID      map[string]*payment
	byRef     map[string]*payment
}

type payment struct {
	id, ref            string
	amount             connectors.Money
	waiting, voided    bool
	captured, refunded int64
}

func (s *subject) Describe(context.Context) (connectors.Descriptor, error) {
	return connectors.Descriptor{
		Name: "kitsubject", Version: "0.0.1", Kind: connectors.KindCardScheme,
		PaymentMethods: []string{"card"}, Currencies: []string{"USD", "EUR"},
		Capabilities: []connectors.Capability{connectors.CapAuthorize, connectors.CapPreauth, connectors.CapRefund,
			connectors.CapQueryPayment, connectors.CapWebhooks},
	}, nil
}

func (s *subject) Configure(_ context.Context, cfg connectors.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.misbehave, s.webhook = cfg["misbehave"], sdk.Webhook{Secret: []byte(cfg["webhook_secret"])}
	return nil
}

func (s *subject) status(p *payment) connectors.Result {
	switch {
	case p.waiting:
		return connectors.ActionRequired()
	case p.voided:
		return connectors.Declined(connectors.DeclineHard, "canceled", "voided")
	}
	return connectors.Approved()
}

func (s *subject) Authorize(_ context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byKey["auth/"+r.IdempotencyKey]
	if !ok {
		p = &payment{id: "ks_" + r.Reference, ref: r.Reference, amount: r.Amount, waiting: r.Card != nil && strings.HasSuffix(r.Card.Number, "0069")}
		if r.Capture && !p.waiting {
			p.captured = r.Amount.Minor
		}
		s.byKey["auth/"+r.IdempotencyKey], s.byID[p.id], s.byRef[p.ref] = p, p, p
	}
	resp := connectors.AuthorizeResponse{Result: s.status(p), PaymentID: p.id, Amount: p.amount}
	if p.waiting {
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionThreeDSChallenge, URL: "http://127.0.0.1:1/3ds/" + p.id}
	}
	return resp, nil
}

func (s *subject) decline(code string) connectors.OperationResponse {
	return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, code, "")}
}

func (s *subject) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byID[r.PaymentID]
	switch {
	case p == nil:
		return s.decline("not_found"), nil
	case s.byKey["cap/"+r.IdempotencyKey] == p:
	case p.waiting || p.voided || p.captured > 0 || r.Amount.Minor > p.amount.Minor:
		return s.decline("invalid_state"), nil
	default:
		p.captured = r.Amount.Minor
		s.byKey["cap/"+r.IdempotencyKey] = p
	}
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "cap_" + p.id, Amount: r.Amount}, nil
}

func (s *subject) Void(_ context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byID[r.PaymentID]
	switch {
	case p == nil:
		return s.decline("not_found"), nil
	case p.captured > 0:
		return s.decline("invalid_state"), nil
	}
	if !(p.waiting && s.misbehave == "void_waiting") {
		p.waiting, p.voided = false, true
	}
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "void_" + p.id}, nil
}

func (s *subject) Refund(_ context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byID[r.PaymentID]
	switch {
	case p == nil:
		return s.decline("not_found"), nil
	case s.byKey["ref/"+r.IdempotencyKey] == p:
	case p.refunded+r.Amount.Minor > p.captured:
		return s.decline("amount_exceeds_refundable"), nil
	default:
		p.refunded += r.Amount.Minor
		s.byKey["ref/"+r.IdempotencyKey] = p
	}
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "re_" + r.IdempotencyKey, Amount: r.Amount}, nil
}

func (s *subject) QueryPayment(_ context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byID[r.PaymentID]
	if r.PaymentID == "" {
		p = s.byRef[r.Reference]
	}
	if p == nil {
		if s.misbehave == "unknown_error" {
			return connectors.PaymentStatus{}, connectors.Errorf(connectors.EUNKNOWN, "lookup failed")
		}
		return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "no such payment")}, nil
	}
	cur := p.amount.Currency
	return connectors.PaymentStatus{Result: s.status(p), PaymentID: p.id, Reference: p.ref, Amount: p.amount, Voided: p.voided,
		Captured: connectors.Money{Minor: p.captured, Currency: cur}, Refunded: connectors.Money{Minor: p.refunded, Currency: cur}}, nil
}

func (s *subject) HandleHTTP(_ context.Context, r connectors.HTTPRequest) (connectors.HTTPResponse, error) {
	if r.Path != "/webhook" {
		return connectors.HTTPResponse{Status: http.StatusNotFound}, nil
	}
	s.mu.Lock()
	misbehave, wh := s.misbehave, s.webhook
	s.mu.Unlock()
	if misbehave == "webhook_401" {
		return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
	}
	if misbehave != "webhook_unsigned" {
		if err := wh.Verify(r.Headers.Get("Kit-Timestamp"), r.Headers.Get("Kit-Signature"), []byte(r.Headers.Get("Kit-Timestamp")), r.Body); err != nil {
			return connectors.HTTPResponse{Status: http.StatusUnauthorized}, nil
		}
	}
	var n struct{ ID, PaymentID, Reference string }
	if err := json.Unmarshal(r.Body, &n); err != nil || n.ID == "" {
		return connectors.HTTPResponse{Status: http.StatusBadRequest}, nil
	}
	return connectors.HTTPResponse{Status: http.StatusOK, Events: []connectors.Event{{ID: n.ID, Type: connectors.EventPaymentResult,
		PaymentID: n.PaymentID, Reference: n.Reference, Result: connectors.Approved()}}}, nil
}

func main() {
	sdk.Serve(&subject{byKey: map[string]*payment{}, byID: map[string]*payment{}, byRef: map[string]*payment{}})
}
