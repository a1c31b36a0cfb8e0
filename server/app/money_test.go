package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// fixedTokens maps opaque test tokens to viewers; the JWT machinery has its
// own tests.
type fixedTokens map[string]viewer.Viewer

func (f fixedTokens) Mint(v viewer.Viewer, _ time.Duration) (string, error) {
	return "", errors.New("not used")
}

func (f fixedTokens) Verify(token string) (viewer.Viewer, error) {
	if v, ok := f[token]; ok {
		return v, nil
	}
	return viewer.Viewer{}, errors.New("unknown token")
}

type rates struct{}

func (rates) Name() string { return "test" }
func (rates) GetRates(context.Context, []fx.Pair) ([]fx.ObservedRate, error) {
	return []fx.ObservedRate{{Pair: fx.Pair{Base: money.MustCurrency("USD"), Quote: money.MustCurrency("JPY")}, Rate: money.MustRate("151.25")}}, nil
}

type moneyResponse struct {
	Data   map[string]any
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

func gql(t *testing.T, h http.Handler, token, query string, vars map[string]any) moneyResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out moneyResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
	}
	return out
}

func code(r moneyResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("no %q in %v", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || len(l) <= k {
				t.Fatalf("no [%d] in %v", k, v)
			}
			v = l[k]
		}
	}
	return v
}

// TestMoneyCoreOverGraphQL drives the money core through the real HTTP handler:
// a merchant reads its balances, quotes, converts (and retries), reads its
// statement; another merchant cannot use the quote; operators read the trial
// balance and the journal, merchants cannot.
func TestMoneyCoreOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		tokens := fixedTokens{
			"op":    {Kind: viewer.Operator, Subject: "ops"},
			"mer_a": {Kind: viewer.MerchantUser, Subject: "usr_a", MerchantID: "mer_a", Role: viewer.RoleAdmin},
			"mer_b": {Kind: viewer.MerchantUser, Subject: "usr_b", MerchantID: "mer_b", Role: viewer.RoleAdmin},
		}
		h := app.New(app.Config{}, db, tokens, app.Options{Now: clock, Log: slog.New(slog.DiscardHandler)}).Handler()

		// Seed: 500.00 USD captured for mer_a, and a USD/JPY rate.
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: clock})
		defer l.Close()
		usd := money.MustCurrency("USD")
		_, err := l.Post(viewer.SystemContext(context.Background()), ledger.Entry{
			Source: ledger.Source{Type: ledger.SourceCapture, ID: "pay_1"}, EffectiveAt: now,
			Postings: []ledger.Posting{
				{Account: ledger.ChannelAccount("cardnet", usd), Amount: money.Amount{Minor: -50000, Currency: usd}},
				{Account: ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd), Amount: money.Amount{Minor: 50000, Currency: usd}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fx.NewService(db.Client, l, fx.Config{Source: rates{}, Now: clock}).RefreshRates(context.Background()); err != nil {
			t.Fatal(err)
		}

		r := gql(t, h, "mer_a", `{ balances { currency available { amount decimal } pending { amount } } }`, nil)
		if code(r) != "" || dig(t, r.Data, "balances", 0, "available", "amount") != "50000" {
			t.Fatalf("balances = %+v", r)
		}

		r = gql(t, h, "mer_a", `mutation { createFxQuote(input: {baseCurrency: "USD", quoteCurrency: "JPY"}) { id baseRate rate marginBps } }`, nil)
		if code(r) != "" || dig(t, r.Data, "createFxQuote", "rate") != "150.49375" {
			t.Fatalf("createFxQuote = %+v", r)
		}
		quoteID := dig(t, r.Data, "createFxQuote", "id").(string)

		convert := `mutation($q: ID!, $amount: Int64!, $key: String!) {
		  convertBalance(input: {quoteID: $q, amount: {amount: $amount, currency: "USD"}, idempotencyKey: $key}) {
		    entryID replayed from { amount } to { amount currency decimal } } }`
		r = gql(t, h, "mer_a", convert, map[string]any{"q": quoteID, "amount": "10000", "key": "k1"})
		if code(r) != "" || dig(t, r.Data, "convertBalance", "to", "amount") != "15049" || dig(t, r.Data, "convertBalance", "replayed") != false {
			t.Fatalf("convertBalance = %+v", r)
		}
		// A retry gets the first answer replayed (see idempotency_test.go).
		r = gql(t, h, "mer_a", convert, map[string]any{"q": quoteID, "amount": "10000", "key": "k1"})
		if code(r) != "" || dig(t, r.Data, "convertBalance", "replayed") != false {
			t.Fatalf("retried convertBalance = %+v", r)
		}
		refusals := []struct {
			name, token, amount, key, code string
		}{
			{"above the available balance", "mer_a", "40001", "k2", "CONFLICT"},
			{"another merchant's quote", "mer_b", "100", "k3", "NOT_FOUND"},
			{"same key, other amount", "mer_a", "200", "k1", "CONFLICT"},
		}
		for _, tt := range refusals {
			r = gql(t, h, tt.token, convert, map[string]any{"q": quoteID, "amount": tt.amount, "key": tt.key})
			if code(r) != tt.code {
				t.Errorf("%s: %+v, want %s", tt.name, r, tt.code)
			}
		}

		r = gql(t, h, "mer_a", `{ accountStatement(currency: "USD", first: 10) { edges { node { amount { amount } balanceAfter { amount } seq } } } }`, nil)
		if code(r) != "" || dig(t, r.Data, "accountStatement", "edges", 0, "node", "balanceAfter", "amount") != "40000" {
			t.Fatalf("accountStatement = %+v", r)
		}

		r = gql(t, h, "op", `{ trialBalance { currency net { amount } postingsNet { amount } } }`, nil)
		if code(r) != "" {
			t.Fatalf("trialBalance = %+v", r)
		}
		for _, line := range dig(t, r.Data, "trialBalance").([]any) {
			if dig(t, line, "net", "amount") != "0" || dig(t, line, "postingsNet", "amount") != "0" {
				t.Errorf("unbalanced line %v", line)
			}
		}
		r = gql(t, h, "op", `{ journalEntries(filter: {sourceType: "conversion"}, first: 10) { edges { node { sourceID postings { amount { amount currency } } } } } }`, nil)
		if code(r) != "" || dig(t, r.Data, "journalEntries", "edges", 0, "node", "sourceID") != "mer_a:k1" {
			t.Fatalf("journalEntries = %+v", r)
		}
		r = gql(t, h, "op", `{ accounts(filter: {ownerType: PLATFORM}, first: 10) { edges { node { kind currency balance { amount } } } } }`, nil)
		if code(r) != "" || len(dig(t, r.Data, "accounts", "edges").([]any)) != 2 {
			t.Fatalf("accounts = %+v", r)
		}
		for _, q := range []string{`{ trialBalance { currency } }`, `{ journalEntries(filter: {sourceType: "capture"}, first: 5) { edges { cursor } } }`} {
			if r = gql(t, h, "mer_a", q, nil); code(r) != "FORBIDDEN" {
				t.Errorf("merchant %s: %+v, want FORBIDDEN", q, r)
			}
		}
	})
}
