package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/server/app"
)

// hookReceiver is a merchant's webhook receiver that verifies every
// delivery with the Standard Webhooks reference library and counts them
// by webhook-id.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	byID   map[string]int
	types  map[string]string
	bad    []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{byID: map[string]int{}, types: map[string]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(h.secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			h.bad = append(h.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct{ Type string }
		_ = json.Unmarshal(body, &p)
		id := r.Header.Get("webhook-id")
		h.byID[id]++
		h.types[id] = p.Type
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// received returns the event types delivered, by event id, once the
// receiver has seen want of typ.
func (h *hookReceiver) waitFor(t *testing.T, typ string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.mu.Lock()
		found := false
		for _, ty := range h.types {
			found = found || ty == typ
		}
		out := map[string]int{}
		for k, v := range h.byID {
			out[k] = v
		}
		bad := append([]string(nil), h.bad...)
		h.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("deliveries failed verification: %v", bad)
		}
		if found {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s webhook after 15 s; got %v", typ, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACardPaymentIsSeenLiveByTheMerchantAndItsCashierAndSentAsSignedWebhooks
// pays a real card through the cardnet plugin and the sandbox: the
// merchant's paymentUpdated and the cashier's checkoutSessionUpdated see
// it succeed, the merchant's endpoint gets each of its events once,
// signed, and the events query lists them.
func TestACardPaymentIsSeenLiveByTheMerchantAndItsCashierAndSentAsSignedWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, configure: func(c *app.Config) { c.WebhookAllowPrivate = true }})
		hooks := newHookReceiver(t)
		var created struct {
			Secret   string
			Endpoint struct{ ID string }
		}
		x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret endpoint { id } } }`,
			map[string]any{"in": map[string]any{"url": hooks.srv.URL + "/strait", "eventTypes": []string{"payment."}}}),
			"createWebhookEndpoint", &created)
		hooks.mu.Lock()
		hooks.secret = created.Secret
		hooks.mu.Unlock()

		s := x.open(t, map[string]any{"amount": amountOf(4200, "SGD")})
		merchant := subscribedWS(t, x.srv, x.tokens["API_KEY"], "p", paymentUpdatedQuery, nil)
		dash := subscribedWS(t, x.srv, x.tokens["MERCHANT_ANALYST"], "stats", `subscription { merchantStats(windowSeconds: 600) { payments succeeded failed successRate averageLatencyMs grossVolume { amount currency } } }`, nil)
		dash.subscribe("bal", `subscription { balanceUpdated { eventID balances { currency pending { amount } available { amount } } } }`, nil)
		cashier := subscribedWS(t, x.srv, s.Cashier, "s", `subscription { checkoutSessionUpdated { type session { id status } payment { id status } } }`, nil)
		time.Sleep(100 * time.Millisecond)

		p := x.payCard(t, s, "4242424242424242", cvc3)
		if p.Status != "SUCCEEDED" {
			t.Fatalf("payment %s", p.Status)
		}
		for {
			c := nextPaymentChange(t, merchant, "p")
			if c.Payment.ID != p.ID {
				t.Fatalf("change about %s, want %s", c.Payment.ID, p.ID)
			}
			if c.Type == "payment.succeeded" {
				break
			}
		}
		for {
			m := cashier.expect("next")
			var body struct {
				Data struct {
					CheckoutSessionUpdated struct {
						Type    string
						Session struct{ ID string }
						Payment *struct{ ID, Status string }
					}
				}
			}
			if err := json.Unmarshal(m.Payload, &body); err != nil {
				t.Fatal(err)
			}
			u := body.Data.CheckoutSessionUpdated
			// The session's own events (its creation, if published after
			// the subscription began) carry no payment until it completes.
			if u.Session.ID != s.ID || (strings.HasPrefix(u.Type, "payment.") && (u.Payment == nil || u.Payment.ID != p.ID)) {
				t.Fatalf("cashier update %s", m.Payload)
			}
			if u.Type == "payment.succeeded" {
				break
			}
		}
		// The dashboard: stats recomputed with the payment in them, and the
		// balances after its money moved.
		var sawStats, sawBalance bool
		for !sawStats || !sawBalance {
			m := dash.expect("next")
			var body struct {
				Data struct {
					MerchantStats *struct {
						Payments, Succeeded int
						SuccessRate         float64
						GrossVolume         []struct{ Amount, Currency string }
					}
					BalanceUpdated *struct {
						Balances []struct {
							Currency string
							Pending  struct{ Amount string }
						}
					}
				}
			}
			if err := json.Unmarshal(m.Payload, &body); err != nil {
				t.Fatal(err)
			}
			// The harness seeded succeeded USD payments; the card payment
			// adds the window's first SGD.
			if st := body.Data.MerchantStats; m.ID == "stats" && st != nil {
				for _, g := range st.GrossVolume {
					if g.Currency == "SGD" {
						if g.Amount != "4200" || st.SuccessRate <= 0 || st.Succeeded < 1 {
							t.Fatalf("stats %s", m.Payload)
						}
						sawStats = true
					}
				}
			}
			if b := body.Data.BalanceUpdated; m.ID == "bal" && b != nil {
				if len(b.Balances) == 0 {
					t.Fatalf("balances %s", m.Payload)
				}
				sawBalance = true
			}
		}
		delivered := hooks.waitFor(t, "payment.succeeded")
		var listed struct {
			Edges []struct {
				Node struct{ ID, Type, Cursor string }
			}
		}
		x.ok(t, x.gql("MERCHANT_ADMIN", `query($id: ID) { events(first: 20, filter: {objectID: $id, type: "payment."}) { edges { node { id type cursor } } } }`,
			map[string]any{"id": p.ID}), "events", &listed)
		if len(listed.Edges) == 0 {
			t.Fatal("the events query lists nothing about the payment")
		}
		for _, e := range listed.Edges {
			if n := delivered[e.Node.ID]; n != 1 {
				t.Fatalf("event %s (%s) delivered %d times, want once", e.Node.ID, e.Node.Type, n)
			}
			if e.Node.Cursor == "" {
				t.Fatalf("event %s has no cursor", e.Node.ID)
			}
		}
		var log struct {
			Edges []struct{ Node struct{ Status string } }
		}
		x.ok(t, x.gql("MERCHANT_ADMIN", `query($id: ID!) { webhookDeliveries(endpointID: $id, first: 50) { edges { node { status } } } }`,
			map[string]any{"id": created.Endpoint.ID}), "webhookDeliveries", &log)
		if len(log.Edges) != len(listed.Edges) {
			t.Fatalf("delivery log has %d rows for %d events", len(log.Edges), len(listed.Edges))
		}
		// Another merchant sees neither the log nor the events.
		if r := x.gql(x.merchantB(), `query($id: ID!) { webhookDeliveries(endpointID: $id, first: 5) { edges { node { id } } } }`,
			map[string]any{"id": created.Endpoint.ID}); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "NOT_FOUND" {
			t.Fatalf("merchant B read A's delivery log: %s", r.Raw)
		}
		var foreign struct {
			Edges []struct{ Node struct{ ID string } }
		}
		x.ok(t, x.gql(x.merchantB(), `query($id: ID) { events(first: 5, filter: {objectID: $id}) { edges { node { id } } } }`,
			map[string]any{"id": p.ID}), "events", &foreign)
		if len(foreign.Edges) != 0 {
			t.Fatalf("merchant B listed A's events: %+v", foreign)
		}
	})
}
