package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/server/app"
)

// TestCheckoutEndToEnd is a buyer's whole checkout through GraphQL, against
// the real cardnet plugin and the sandbox's card network: the merchant opens
// a session, the cashier tokenizes a card and confirms. It covers an approval,
// a hard decline followed by a second card on the same session, and a 3-D
// Secure challenge completed on the sandbox's page, whose result arrives as a
// signed webhook through the connector, the inbox and the payment core. The
// ledger stays balanced throughout.
func TestCheckoutEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newConnectorEnvWith(t, db, func(cfg *app.Config, _ *app.Options) {
			cfg.VaultKeys = "k1:" + vault.GenerateKey()
			cfg.VaultFingerprintKey = vault.GenerateKey()
		}, "cardnet")
		open := func(t *testing.T, minor int) string {
			t.Helper()
			r := ce.do("API_KEY", `mutation($in: CreateCheckoutSessionInput!) {
				createCheckoutSession(input: $in) { cashierToken checkoutSession { id } } }`,
				map[string]any{"in": map[string]any{"amount": map[string]any{"amount": minor, "currency": "SGD"},
					"allowedMethods": []string{"CARD"}, "returnURL": "https://shop.example/done", "buyerCountry": "SG"}})
			var out struct {
				CashierToken    string
				CheckoutSession struct{ ID string }
			}
			decode(t, r, "createCheckoutSession", &out)
			return out.CashierToken
		}
		tokenize := func(t *testing.T, cashier, number string) string {
			t.Helper()
			r := ce.do(cashier, `mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) { token card { last4 } } }`,
				map[string]any{"in": map[string]any{"number": number, "cvc": "123", "expMonth": 12, "expYear": 2031}})
			var out struct{ Token string }
			decode(t, r, "tokenizeCard", &out)
			return out.Token
		}
		type paymentView struct {
			ID, Status, FailureCode string
			Amount                  struct{ Amount, Currency string }
			NextAction              *struct{ Type, URL string }
		}
		confirm := func(t *testing.T, cashier, token, key string) paymentView {
			t.Helper()
			r := ce.do(cashier, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) {
				id status failureCode amount { amount currency } nextAction { type url } } }`,
				map[string]any{"in": map[string]any{"method": "CARD", "cardToken": token, "idempotencyKey": key}})
			var out paymentView
			decode(t, r, "confirmCheckoutSession", &out)
			return out
		}
		sessionStatus := func(t *testing.T, cashier string) string {
			t.Helper()
			r := ce.do(cashier, `{ checkoutSession { status } }`, nil)
			var out struct{ Status string }
			decode(t, r, "checkoutSession", &out)
			return out.Status
		}

		t.Run("approved", func(t *testing.T) {
			c := open(t, 1999)
			tok := tokenize(t, c, "4242424242424242")
			p := confirm(t, c, tok, "k-approve")
			if p.Status != "SUCCEEDED" || p.Amount.Amount != "1999" || p.Amount.Currency != "SGD" {
				t.Fatalf("payment %+v", p)
			}
			if s := sessionStatus(t, c); s != "COMPLETE" {
				t.Fatalf("session %s", s)
			}
			// A retry with the same key replays; confirming a complete session is refused.
			if again := confirm(t, c, tok, "k-approve"); again.ID != p.ID || again.Status != "SUCCEEDED" {
				t.Fatalf("replay made payment %s, first was %s", again.ID, p.ID)
			}
			r := ce.do(c, `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"method": "CARD", "cardToken": "card_x", "idempotencyKey": "k-other"}})
			if r.code() != "CONFLICT" {
				t.Fatalf("confirm of a complete session: %s", r.Raw)
			}
		})

		t.Run("declined, then another card", func(t *testing.T) {
			c := open(t, 2500)
			p := confirm(t, c, tokenize(t, c, "4000000000000002"), "k-decline")
			if p.Status != "REQUIRES_PAYMENT_METHOD" || p.FailureCode != "do_not_honor" {
				t.Fatalf("declined payment %+v", p)
			}
			if s := sessionStatus(t, c); s != "OPEN" {
				t.Fatalf("session after a decline: %s", s)
			}
			p2 := confirm(t, c, tokenize(t, c, "4242424242424242"), "k-decline-2")
			if p2.ID != p.ID || p2.Status != "SUCCEEDED" {
				t.Fatalf("second card: %+v (first %s)", p2, p.ID)
			}
		})

		t.Run("3-D Secure challenge", func(t *testing.T) {
			c := open(t, 3000)
			p := confirm(t, c, tokenize(t, c, "4000000000000069"), "k-3ds")
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil || p.NextAction.Type != "THREE_DS_CHALLENGE" || p.NextAction.URL == "" {
				t.Fatalf("payment %+v", p)
			}
			// The page redirects the buyer to the shop's return URL; a test
			// stays on this machine and stops at the redirect.
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noRedirect.PostForm(p.NextAction.URL, url.Values{"action": {"approve"}})
			if err != nil || resp.StatusCode >= 400 {
				t.Fatalf("challenge page: %v %v", resp, err)
			}
			resp.Body.Close()
			deadline := time.Now().Add(15 * time.Second)
			for {
				r := ce.do("API_KEY", `query($id: ID!) { payment(id: $id) { status } }`, map[string]any{"id": p.ID})
				var out struct{ Status string }
				decode(t, r, "payment", &out)
				if out.Status == "SUCCEEDED" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("payment still %s 15 s after the challenge; logs:\n%s", out.Status, ce.logs.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if s := sessionStatus(t, c); s != "COMPLETE" {
				t.Fatalf("session %s", s)
			}
		})

		// Every journal entry balanced: the trial balance nets to zero per currency.
		r := ce.do("OPERATOR", `{ trialBalance { currency debits { amount } credits { amount } } }`, nil)
		if r.code() != "" {
			t.Fatalf("trialBalance: %s", r.Raw)
		}
		var lines []struct {
			Currency        string
			Debits, Credits struct{ Amount string }
		}
		if err := json.Unmarshal(r.Data["trialBalance"], &lines); err != nil {
			t.Fatalf("%v: %s", err, r.Raw)
		}
		for _, l := range lines {
			if l.Debits.Amount != l.Credits.Amount {
				t.Fatalf("%s unbalanced: %s", l.Currency, r.Raw)
			}
		}
	})
}

// decode fails the test on any error in r and decodes field into out.
func decode(t *testing.T, r gqlResponse, field string, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", field, r.Raw)
	}
	if err := json.Unmarshal(r.Data[field], out); err != nil {
		t.Fatalf("%s: %v in %s", field, err, r.Raw)
	}
}
