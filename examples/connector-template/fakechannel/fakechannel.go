// Package fakechannel is a small fake of Acme's HTTP API (see main.go) for
// the template's tests: payments in memory, idempotency keys, a 3-D Secure
// page for the buyer, and signed webhooks. It lets the conformance kit run
// with no sandbox at all. When your channel has a sandbox, point the test at
// it instead; when it has none, grow this fake as you learn the channel's
// API, and keep it honest with a recorded answer or two from the real one.
package fakechannel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/conformance"
	"github.com/straitpay/strait/connectors/sdk"
)

// Channel is a running fake. URL is its base URL; APIKey and
// WebhookSecret are what the connector must be configured with.
type Channel struct {
	URL, APIKey, WebhookSecret string

	mu       sync.Mutex
	seq      int
	payments map[string]*payment
	replies  map[string]reply // by operation and idempotency key
}

type payment struct {
	ID             string `json:"id"`
	Reference      string `json:"reference"`
	Status         string `json:"status"`
	DeclineCode    string `json:"decline_code,omitempty"`
	ActionURL      string `json:"action_url,omitempty"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	CapturedAmount int64  `json:"captured_amount"`
	RefundedAmount int64  `json:"refunded_amount"`
	capture        bool
}

type reply struct {
	status int
	body   any
}

// Start serves a fake until the test ends.
func Start(t testing.TB) *Channel {
	c := &Channel{APIKey: "sk_fake", WebhookSecret: "whsec_fake", payments: map[string]*payment{}, replies: map[string]reply{}}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Config is the connector configuration for this fake.
func (c *Channel) Config() map[string]string {
	return map[string]string{"base_url": c.URL, "api_key": c.APIKey, "webhook_secret": c.WebhookSecret}
}

func (c *Channel) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := strings.CutPrefix(r.URL.Path, "/3ds/"); ok { // the buyer's page: no API key
		c.answer(w, c.threeDS(id))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+c.APIKey {
		c.answer(w, reply{http.StatusUnauthorized, map[string]string{"error": "bad api key"}})
		return
	}
	var in struct {
		IdempotencyKey string `json:"idempotency_key"`
		Reference      string `json:"reference"`
		Amount         int64  `json:"amount"`
		Currency       string `json:"currency"`
		Capture        bool   `json:"capture"`
		Card           struct {
			Number string `json:"number"`
		} `json:"card"`
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			c.answer(w, reply{http.StatusBadRequest, map[string]string{"error": err.Error()}})
			return
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	op := r.Method + " " + parts[0]
	if len(parts) == 3 {
		op += "/{id}/" + parts[2]
	}
	key := op + " " + in.IdempotencyKey
	if prior, ok := c.replies[key]; ok && in.IdempotencyKey != "" {
		c.answer(w, prior) // a retry: the first answer, nothing done twice
		return
	}
	var p *payment
	if len(parts) > 1 {
		if p = c.payments[parts[1]]; p == nil {
			c.answer(w, reply{http.StatusNotFound, map[string]string{"error": "no such payment"}})
			return
		}
	}
	var out reply
	switch {
	case op == "POST payments" && len(parts) == 1:
		out = c.create(in.Reference, in.Amount, in.Currency, in.Capture, in.Card.Number)
	case op == "GET payments" && p != nil:
		out = reply{http.StatusOK, p}
	case op == "GET payments":
		list := []*payment{}
		for _, x := range c.payments {
			if x.Reference == r.URL.Query().Get("reference") {
				list = append(list, x)
			}
		}
		out = reply{http.StatusOK, map[string]any{"data": list}}
	case op == "POST payments/{id}/capture" && p.Status == "approved" && p.CapturedAmount == 0 && in.Amount <= p.Amount:
		p.CapturedAmount = in.Amount
		out = reply{http.StatusOK, *p}
	case op == "POST payments/{id}/void" && (p.Status == "requires_action" || p.Status == "approved" && p.CapturedAmount == 0):
		p.Status = "canceled"
		out = reply{http.StatusOK, *p}
	case op == "POST payments/{id}/refunds" && p.Status == "approved" && p.RefundedAmount+in.Amount <= p.CapturedAmount:
		p.RefundedAmount += in.Amount
		c.seq++
		out = reply{http.StatusOK, map[string]any{"id": p.ID, "currency": p.Currency, "refund_id": fmt.Sprintf("re_%d", c.seq)}}
	case strings.HasPrefix(op, "POST payments/{id}/"):
		out = reply{http.StatusConflict, map[string]string{"error": "not allowed in status " + p.Status}}
	default:
		out = reply{http.StatusNotFound, map[string]string{"error": "no such route"}}
	}
	if in.IdempotencyKey != "" {
		c.replies[key] = out
	}
	c.answer(w, out)
}

// create authorizes a payment. Cards ending in 0069 need 3-D Secure; cards
// ending in 0002 are declined; the rest are approved.
func (c *Channel) create(ref string, amount int64, currency string, capture bool, card string) reply {
	c.seq++
	p := &payment{ID: fmt.Sprintf("acp_%d", c.seq), Reference: ref, Amount: amount, Currency: currency, Status: "approved", capture: capture}
	switch {
	case strings.HasSuffix(card, "0069"):
		p.Status, p.ActionURL = "requires_action", c.URL+"/3ds/"+p.ID
	case strings.HasSuffix(card, "0002"):
		p.Status, p.DeclineCode = "declined", "card_declined"
	case capture:
		p.CapturedAmount = amount
	}
	c.payments[p.ID] = p
	return reply{http.StatusOK, *p}
}

// threeDS is the buyer passing 3-D Secure; a canceled payment cannot be paid.
func (c *Channel) threeDS(id string) reply {
	p := c.payments[id]
	if p == nil || p.Status != "requires_action" {
		return reply{http.StatusConflict, map[string]string{"error": "nothing to approve"}}
	}
	p.Status = "approved"
	if p.capture {
		p.CapturedAmount = p.Amount
	}
	return reply{http.StatusOK, *p}
}

func (c *Channel) answer(w http.ResponseWriter, r reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	json.NewEncoder(w).Encode(r.body)
}

// Approve plays the buyer on the 3-D Secure page: the conformance kit's
// CompleteAction.
func (c *Channel) Approve(t *testing.T, a *connectors.NextAction) {
	t.Helper()
	resp, err := http.Post(a.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("3-D Secure page: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("3-D Secure page: status %d", resp.StatusCode)
	}
}

// SignedWebhook is the notification Acme sends when payment p changes,
// signed with the webhook secret: the conformance kit's SignedWebhook.
func (c *Channel) SignedWebhook(t *testing.T, p conformance.Payment) connectors.HTTPRequest {
	c.mu.Lock()
	obj := payment{ID: p.ID, Reference: p.Reference, Status: "approved", Amount: p.Amount.Minor, Currency: p.Amount.Currency}
	if known := c.payments[p.ID]; known != nil {
		obj = *known
	}
	c.mu.Unlock()
	body, err := json.Marshal(map[string]any{"id": "evt_" + p.ID, "type": "payment.updated", "payment": obj})
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(time.Now().Unix())
	return connectors.HTTPRequest{Method: http.MethodPost, Path: "/webhook", Body: body, Headers: http.Header{
		"Content-Type":   {"application/json"},
		"Acme-Timestamp": {ts},
		"Acme-Signature": {sdk.Webhook{Secret: []byte(c.WebhookSecret)}.Sign([]byte(ts), body)},
	}}
}
