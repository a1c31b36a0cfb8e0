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
		e := slowCardEnv(t, db, card)
		post := poster(e)
		cashierToken, sessionID := openSession(t, post, e.tokens["API_KEY"])
		const buyers = 8
		tokens := make([]string, buyers)
		for i := range tokens {
			tokens[i] = tokenizeTestCard(t, post, cashierToken)
		}
		codes := make([]string, buyers)
		var wg sync.WaitGroup
		for i := range buyers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var p struct{ Status string }
				codes[i] = post(cashierToken, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { status } }`,
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
		n := db.Client.Payment.Query().Where(payment.CheckoutSessionID(sessionID)).CountX(sys)
		if succeeded != 1 || n != 1 || card.calls.Load() != 1 {
			t.Fatalf("%d SUCCEEDED (%v), %d payments for the session, %d charges; want 1 of each", succeeded, codes, n, card.calls.Load())
		}
	})
}

// slowCardEnv is an env whose only card connector is card, as "cardnet".
func slowCardEnv(t *testing.T, db *store.DB, card *slowCard) *env {
	return newEnvWith(t, db, func(cfg *app.Config, opts *app.Options) {
		cfg.VaultKeys = "k1:" + vault.GenerateKey()
		cfg.VaultFingerprintKey = vault.GenerateKey()
		opts.Catalog = routing.NewMemCatalog(routing.Connector{Name: "cardnet", Kind: "cardnet",
			Methods: []routing.Method{routing.Card}, Currencies: []money.Currency{money.MustCurrency("SGD")}, Enabled: true, Preauth: true})
		opts.Connectors = cardnetOnly{card}
	})
}

// openSession creates a 25.00 SGD checkout session with apiKey and returns
// its cashier token and id.
func openSession(t *testing.T, post func(string, string, map[string]any, any) string, apiKey string) (cashierToken, id string) {
	t.Helper()
	var created struct {
		CashierToken    string
		CheckoutSession struct{ ID string }
	}
	if code := post(apiKey, `mutation { createCheckoutSession(input: {amount: {amount: "2500", currency: "SGD"}, buyerCountry: "SG"}) {
		cashierToken checkoutSession { id } } }`, nil, &created); code != "" {
		t.Fatalf("create session: %s", code)
	}
	return created.CashierToken, created.CheckoutSession.ID
}

// tokenizeTestCard tokenizes an approving test card for the session of
// cashierToken and returns its token.
func tokenizeTestCard(t *testing.T, post func(string, string, map[string]any, any) string, cashierToken string) string {
	t.Helper()
	var tok struct{ Token string }
	if code := post(cashierToken, `mutation { tokenizeCard(input: {number: "4242424242424242", cvc: "123", expMonth: 12, expYear: 2031}) { token } }`,
		nil, &tok); code != "" {
		t.Fatalf("tokenize: %s", code)
	}
	return tok.Token
}

// poster returns a function that posts a GraphQL request to e with cred,
// decodes its one data field into into, and returns the first error's
// code ("" for none).
func poster(e *env) func(cred, query string, vars map[string]any, into any) string {
	return func(cred, query string, vars map[string]any, into any) string {
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
}

// TestConcurrentConfirmsOfSessionsAreDecidedTogether: the first confirms of
// several sessions at once go through the shared confirm transaction, which
// locks the sessions, decides each payment and writes them all. Two of the
// sessions carry a coupon that may be redeemed once: whichever transaction
// redeems it second fails as a whole, and each of its payments is then
// written on its own, so that only the coupon's second session is refused
// (CONFLICT) and every other session is charged once.
func TestConcurrentConfirmsOfSessionsAreDecidedTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		card := &slowCard{}
		e := slowCardEnv(t, db, card)
		post := poster(e)
		if code := post(e.tokens["API_KEY"], `mutation { createCoupon(input: {code: "ONCE", kind: FIXED,
			amountOff: {amount: "100", currency: "SGD"}, maxRedemptions: 1}) { id } }`, nil, &struct{}{}); code != "" {
			t.Fatalf("create coupon: %s", code)
		}
		const sessions = 6
		type buyer struct{ cashier, session, token string }
		buyers := make([]buyer, sessions)
		for i := range buyers {
			cashierToken, sessionID := openSession(t, post, e.tokens["API_KEY"])
			buyers[i] = buyer{cashierToken, sessionID, tokenizeTestCard(t, post, cashierToken)}
			if i < 2 {
				if code := post(cashierToken, `mutation { applyCoupon(code: "ONCE") { amount { amount } } }`, nil, &struct{}{}); code != "" {
					t.Fatalf("apply coupon: %s", code)
				}
			}
		}
		before := e.app.BatchStats()["confirm"]
		codes := make([]string, sessions)
		var wg sync.WaitGroup
		for i, b := range buyers {
			wg.Go(func() {
				var p struct{ Status string }
				codes[i] = post(b.cashier, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { status } }`,
					map[string]any{"in": map[string]any{"method": "CARD", "cardToken": b.token, "idempotencyKey": fmt.Sprintf("buyer-%d", i)}}, &p)
				if codes[i] == "" {
					codes[i] = p.Status
				}
			})
		}
		wg.Wait()
		if codes[0] == codes[1] || (codes[0] != "CONFLICT" && codes[1] != "CONFLICT") ||
			(codes[0] != "SUCCEEDED" && codes[1] != "SUCCEEDED") {
			t.Errorf("the coupon's sessions answered %v, want one SUCCEEDED and one CONFLICT", codes[:2])
		}
		for i := 2; i < sessions; i++ {
			if codes[i] != "SUCCEEDED" {
				t.Errorf("session %d answered %q, want SUCCEEDED", i, codes[i])
			}
		}
		if got := card.calls.Load(); got != sessions-1 {
			t.Errorf("%d charges, want %d", got, sessions-1)
		}
		sys := viewer.SystemContext(context.Background())
		for i, b := range buyers {
			n := db.Client.Payment.Query().Where(payment.CheckoutSessionID(b.session)).CountX(sys)
			if want := map[bool]int{true: 0, false: 1}[codes[i] == "CONFLICT"]; n != want {
				t.Errorf("session %d has %d payments, want %d", i, n, want)
			}
		}
		after := e.app.BatchStats()["confirm"]
		if got := after.Requests - before.Requests; got != sessions {
			t.Errorf("the confirm batches took %d confirms, want all %d", got, sessions)
		}
	})
}
