package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// slowCard approves every authorization after a pause, counting them.
type slowCard struct {
	connectors.Unimplemented
	calls atomic.Int64
}

func (c *slowCard) Authorize(_ context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	c.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return connectors.AuthorizeResponse{Result: connectors.Approved(), PaymentID: "cn_" + r.Reference, Amount: r.Amount}, nil
}

// cardnetOnly serves slowCard as the connector "cardnet".
type cardnetOnly struct{ c connectors.Connector }

func (o cardnetOnly) Get(name string) (connectors.Connector, bool) { return o.c, name == "cardnet" }

// TestConcurrentConfirmsOfOneSessionMakeOnePayment: a session's first
// payment is inserted by the pipeline's attempt transaction under the
// session's lock, so eight confirms of one session at once, each with its
// own key and card, charge once: one SUCCEEDED, the others CONFLICT.
func TestConcurrentConfirmsOfOneSessionMakeOnePayment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		card := &slowCard{}
		e := newEnvWith(t, db, func(cfg *app.Config, opts *app.Options) {
			cfg.VaultKeys = "k1:" + vault.GenerateKey()
			cfg.VaultFingerprintKey = vault.GenerateKey()
			opts.Catalog = routing.NewMemCatalog(routing.Connector{Name: "cardnet", Kind: "cardnet",
				Methods: []routing.Method{routing.Card}, Currencies: []money.Currency{money.MustCurrency("SGD")}, Enabled: true, Preauth: true})
			opts.Connectors = cardnetOnly{card}
		})
		post := func(cred, query string, vars map[string]any, into any) string {
			body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+cred)
			rec := httptest.NewRecorder()
			e.app.Handler().ServeHTTP(rec, req)
			var out struct {
				Data   map[string]json.RawMessage
				Errors []struct{ Extensions map[string]any }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				return "bad response: " + rec.Body.String()
			}
			if len(out.Errors) > 0 {
				code, _ := out.Errors[0].Extensions["code"].(string)
				return code
			}
			for _, v := range out.Data {
				_ = json.Unmarshal(v, into)
			}
			return ""
		}
		var created struct {
			CashierToken    string
			CheckoutSession struct{ ID string }
		}
		if code := post(e.tokens["API_KEY"], `mutation { createCheckoutSession(input: {amount: {amount: "2500", currency: "SGD"}, buyerCountry: "SG"}) {
			cashierToken checkoutSession { id } } }`, nil, &created); code != "" {
			t.Fatalf("create session: %s", code)
		}
		const buyers = 8
		tokens := make([]string, buyers)
		for i := range tokens {
			var tok struct{ Token string }
			if code := post(created.CashierToken, `mutation { tokenizeCard(input: {number: "4242424242424242", cvc: "123", expMonth: 12, expYear: 2031}) { token } }`,
				nil, &tok); code != "" {
				t.Fatalf("tokenize: %s", code)
			}
			tokens[i] = tok.Token
		}
		codes := make([]string, buyers)
		var wg sync.WaitGroup
		for i := range buyers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var p struct{ Status string }
				codes[i] = post(created.CashierToken, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { status } }`,
					map[string]any{"in": map[string]any{"method": "CARD", "cardToken": tokens[i], "idempotencyKey": fmt.Sprintf("buyer-%d", i)}}, &p)
				if codes[i] == "" {
					codes[i] = p.Status
				}
			}()
		}
		wg.Wait()
		succeeded := 0
		for _, c := range codes {
			switch c {
			case "SUCCEEDED":
				succeeded++
			case "CONFLICT":
			default:
				t.Errorf("a confirm answered %q, want SUCCEEDED or CONFLICT", c)
			}
		}
		sys := viewer.SystemContext(context.Background())
		n := db.Client.Payment.Query().Where(payment.CheckoutSessionID(created.CheckoutSession.ID)).CountX(sys)
		if succeeded != 1 || n != 1 || card.calls.Load() != 1 {
			t.Fatalf("%d SUCCEEDED (%v), %d payments for the session, %d charges; want 1 of each", succeeded, codes, n, card.calls.Load())
		}
	})
}
