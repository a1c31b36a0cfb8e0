package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedBuffer collects logs written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sgdJPY is a rate table with SGD/JPY only; JPY/SGD quotes use its inverse.
type sgdJPY struct{}

func (sgdJPY) Name() string { return "test-table" }
func (sgdJPY) GetRates(context.Context, []fx.Pair) ([]fx.ObservedRate, error) {
	return []fx.ObservedRate{{Pair: fx.Pair{Base: money.MustCurrency("SGD"), Quote: money.MustCurrency("JPY")}, Rate: money.MustRate("112.5")}}, nil
}

// checkoutEnv is newEnv with vault keys, a connector catalog (cards in SGD
// everywhere; a wallet for buyers in CN only), a hand-moved clock, debug logs
// kept for scanning, and an SGD/JPY rate stored.
type checkoutEnv struct {
	*env
	clock *testClock
	logs  *lockedBuffer
	// bodies are every GraphQL response body seen, for the card-data scan.
	bodies []string
}

func newCheckoutEnv(t *testing.T, db *store.DB) *checkoutEnv {
	t.Helper()
	ce := &checkoutEnv{clock: &testClock{now: time.Now().UTC()}, logs: &lockedBuffer{}}
	catalog := routing.NewMemCatalog(
		routing.Connector{Name: "cardnet", Kind: "cardnet", Methods: []routing.Method{routing.Card}, Currencies: []money.Currency{money.MustCurrency("SGD")}, Enabled: true, Preauth: true},
		routing.Connector{Name: "wallet", Kind: "wallet", Methods: []routing.Method{routing.Wallet}, Currencies: []money.Currency{money.MustCurrency("SGD")}, Countries: []string{"CN"}, Enabled: true},
	)
	ce.env = newEnvWith(t, db, func(cfg *app.Config, opts *app.Options) {
		cfg.VaultKeys = "k1:" + vault.GenerateKey()
		cfg.VaultFingerprintKey = vault.GenerateKey()
		opts.Now = ce.clock.Now
		opts.Catalog = catalog
		opts.Log = slog.New(slog.NewJSONHandler(ce.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: ce.clock.Now})
	t.Cleanup(l.Close)
	if _, err := fx.NewService(db.Client, l, fx.Config{Source: sgdJPY{}, Pairs: nil, Now: ce.clock.Now}).RefreshRates(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ce
}

func (ce *checkoutEnv) gql(principal, query string, vars map[string]any) gqlResponse {
	ce.t.Helper()
	r := ce.do(principal, query, vars)
	ce.bodies = append(ce.bodies, r.Raw)
	return r
}

// ok fails the test unless r has no errors, and decodes field into out.
func (ce *checkoutEnv) ok(r gqlResponse, field string, out any) {
	ce.t.Helper()
	if len(r.Errors) > 0 {
		ce.t.Fatalf("%s: %s", field, r.Raw)
	}
	if err := json.Unmarshal(r.Data[field], out); err != nil {
		ce.t.Fatalf("%s: %v in %s", field, err, r.Raw)
	}
}

const createSession = `mutation($in: CreateCheckoutSessionInput!) {
  createCheckoutSession(input: $in) { cashierToken cashierTokenExpiresAt
    checkoutSession { id status amount { amount currency } expiresAt } } }`

type createdSession struct {
	CashierToken          string
	CashierTokenExpiresAt time.Time
	CheckoutSession       struct {
		ID        string
		Status    string
		ExpiresAt time.Time
	}
}

func (ce *checkoutEnv) newSession(in map[string]any) createdSession {
	ce.t.Helper()
	var out createdSession
	ce.ok(ce.gql("API_KEY", createSession, map[string]any{"in": in}), "createCheckoutSession", &out)
	return out
}

func (ce *checkoutEnv) newCustomer(email string) string {
	ce.t.Helper()
	var c struct{ ID string }
	ce.ok(ce.gql("API_KEY", `mutation($e: String) { createCustomer(input: {email: $e}) { id } }`, map[string]any{"e": email}), "createCustomer", &c)
	return c.ID
}

const sessionQuery = `query($id: ID) { checkoutSession(id: $id) {
  id status merchantName
  amount { amount currency } amountSubtotal { amount } amountDiscount { amount }
  discount { code kind percentOffBps amount { amount } }
  buyerPrice { amount { amount currency decimal } rate quoteID expiresAt }
  availablePaymentMethods allowedMethods
  metadata { key value }
  applicableCoupons { code kind discount { amount } }
  savedCards { token brand last4 maskedNumber }
} }`

type sessionView struct {
	ID, Status, MerchantName string
	Amount                   struct{ Amount, Currency string }
	AmountSubtotal           struct{ Amount string }
	AmountDiscount           struct{ Amount string }
	Discount                 *struct {
		Code, Kind    string
		PercentOffBps *int
		Amount        struct{ Amount string }
	}
	BuyerPrice *struct {
		Amount    struct{ Amount, Currency, Decimal string }
		Rate      string
		QuoteID   string
		ExpiresAt time.Time
	}
	AvailablePaymentMethods []string
	AllowedMethods          []string
	Metadata                []struct{ Key, Value string }
	ApplicableCoupons       []struct {
		Code, Kind string
		Discount   struct{ Amount string }
	}
	SavedCards []struct{ Token, Brand, Last4, MaskedNumber string }
}

func (ce *checkoutEnv) session(principal string, id any) sessionView {
	ce.t.Helper()
	var s sessionView
	ce.ok(ce.gql(principal, sessionQuery, map[string]any{"id": id}), "checkoutSession", &s)
	return s
}

func (ce *checkoutEnv) countSessions() int {
	ce.t.Helper()
	n, err := ce.db.Client.CheckoutSession.Query().Count(viewer.SystemContext(context.Background()))
	if err != nil {
		ce.t.Fatal(err)
	}
	return n
}

// TestCheckoutSessionOverGraphQL: a merchant opens a session and hands its
// cashier token to the buyer's checkout, which reads only that session: its
// price in the buyer's currency at a locked quote, the methods a connector
// takes for the buyer's country, and metadata; bad input is refused with a
// coded error and writes nothing; an idempotency key creates once.
func TestCheckoutSessionOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newCheckoutEnv(t, db)
		cus := ce.newCustomer("buyer@alpha.test")
		created := ce.newSession(map[string]any{
			"amount": map[string]any{"amount": "10000", "currency": "SGD", "exponent": 2}, "customerID": cus,
			"merchantReference": "order-1", "allowedMethods": []string{"CARD", "WALLET"},
			"returnURL": "https://shop.example/return", "expiresIn": 3600,
			"metadata":     []map[string]any{{"key": "cart", "value": "c-42"}},
			"buyerCountry": "JP", "buyerCurrency": "JPY",
		})
		if created.CheckoutSession.Status != "OPEN" || !strings.HasPrefix(created.CheckoutSession.ID, "cs_") {
			t.Fatalf("created = %+v", created)
		}
		if d := created.CashierTokenExpiresAt.Sub(ce.clock.Now()); d > 30*time.Minute || d < 29*time.Minute {
			t.Errorf("cashier token lasts %v, want 30 minutes (the session lasts an hour)", d)
		}
		cashier := created.CashierToken

		s := ce.session(cashier, nil)
		if s.ID != created.CheckoutSession.ID || s.MerchantName != "Alpha Ltd" || s.Amount.Amount != "10000" || s.Amount.Currency != "SGD" {
			t.Errorf("cashier's session = %+v", s)
		}
		// 100.00 SGD at the JPY/SGD quote: 1/112.5 less 50 bp is
		// 0.00884444…; 100 / 0.00884444… = 11306.53… JPY, rounded once to 11307.
		if s.BuyerPrice == nil || s.BuyerPrice.Amount.Amount != "11307" || s.BuyerPrice.Amount.Currency != "JPY" || !strings.HasPrefix(s.BuyerPrice.QuoteID, "fxq_") {
			t.Errorf("buyerPrice = %+v", s.BuyerPrice)
		}
		if fmt.Sprint(s.AvailablePaymentMethods) != "[CARD]" || fmt.Sprint(s.AllowedMethods) != "[CARD WALLET]" {
			t.Errorf("methods: available %v, allowed %v; want [CARD] (no wallet serves JP)", s.AvailablePaymentMethods, s.AllowedMethods)
		}
		if len(s.Metadata) != 1 || s.Metadata[0].Key != "cart" || s.Metadata[0].Value != "c-42" {
			t.Errorf("metadata = %+v", s.Metadata)
		}

		// The quote holds while locked; once it runs out, the open session locks a new one.
		quote := s.BuyerPrice.QuoteID
		if again := ce.session(cashier, nil); again.BuyerPrice.QuoteID != quote {
			t.Errorf("quote changed while locked: %s then %s", quote, again.BuyerPrice.QuoteID)
		}
		ce.clock.Advance(checkoutQuoteLock + time.Second)
		if again := ce.session(cashier, nil); again.BuyerPrice == nil || again.BuyerPrice.QuoteID == quote || again.BuyerPrice.Amount.Amount != "11307" {
			t.Errorf("after the lock ran out: %+v, want a new quote at the same rate", again.BuyerPrice)
		}

		// The merchant reads it by id; the cashier reads nothing else.
		if m := ce.session("API_KEY", created.CheckoutSession.ID); m.ID != created.CheckoutSession.ID {
			t.Errorf("merchant read %+v", m)
		}
		for name, q := range map[string]string{
			"another session":     fmt.Sprintf(`{ checkoutSession(id: %q) { id } }`, ce.session0()),
			"node of the seeded":  fmt.Sprintf(`{ node(id: %q) { id } }`, ce.session0()),
			"payments":            `{ payments(first: 5) { edges { node { id } } } }`,
			"customers":           `{ customers(first: 5) { edges { node { id } } } }`,
			"create a session":    `mutation { createCheckoutSession(input: {amount: {amount: 1, currency: "SGD"}}) { cashierToken } }`,
			"coupons":             `{ coupons(first: 5) { edges { node { id } } } }`,
			"merchant of session": `{ checkoutSession { merchant { id } } }`,
		} {
			r := ce.gql(cashier, q, nil)
			if c := r.code(); c != "NOT_FOUND" && c != "FORBIDDEN" {
				t.Errorf("cashier %s: %s, want NOT_FOUND or FORBIDDEN", name, r.Raw)
			}
		}

		// Bad input: a coded error, and no session written.
		before := ce.countSessions()
		bad := []struct {
			name  string
			in    map[string]any
			code  string
			field string
		}{
			{"zero amount", map[string]any{"amount": map[string]any{"amount": 0, "currency": "SGD"}}, "BAD_USER_INPUT", "amount.amount"},
			{"negative amount", map[string]any{"amount": map[string]any{"amount": "-5", "currency": "SGD"}}, "BAD_USER_INPUT", "amount.amount"},
			{"wrong exponent", map[string]any{"amount": map[string]any{"amount": "1000", "currency": "JPY", "exponent": 2}}, "BAD_USER_INPUT", "amount.exponent"},
			{"unknown currency", map[string]any{"amount": map[string]any{"amount": "1000", "currency": "XYZ"}}, "BAD_USER_INPUT", "amount.currency"},
			{"overflow", map[string]any{"amount": map[string]any{"amount": "9223372036854775808", "currency": "SGD"}}, "BAD_USER_INPUT", ""},
			{"http return URL", map[string]any{"amount": sgd(100), "returnURL": "http://shop.example/"}, "BAD_USER_INPUT", "returnURL"},
			{"script return URL", map[string]any{"amount": sgd(100), "returnURL": "javascript:alert(1)"}, "BAD_USER_INPUT", "returnURL"},
			{"expiry too short", map[string]any{"amount": sgd(100), "expiresIn": 30}, "BAD_USER_INPUT", "expiresIn"},
			{"expiry too long", map[string]any{"amount": sgd(100), "expiresIn": 86401}, "BAD_USER_INPUT", "expiresIn"},
			{"both expiries", map[string]any{"amount": sgd(100), "expiresIn": 600, "expiresAt": ce.clock.Now().Add(time.Hour)}, "BAD_USER_INPUT", "expiresAt"},
			{"metadata value too long", map[string]any{"amount": sgd(100), "metadata": []map[string]any{{"key": "k", "value": strings.Repeat("v", 501)}}}, "BAD_USER_INPUT", "metadata"},
			{"unknown buyer country", map[string]any{"amount": sgd(100), "buyerCountry": "ZZ"}, "BAD_USER_INPUT", "buyerCountry"},
			{"another merchant's customer", map[string]any{"amount": sgd(100), "customerID": ce.customerOfB()}, "NOT_FOUND", "customerID"},
		}
		for _, tt := range bad {
			r := ce.gql("API_KEY", createSession, map[string]any{"in": tt.in})
			if r.code() != tt.code || (tt.field != "" && r.Errors[0].Extensions["field"] != tt.field) {
				t.Errorf("%s: %s, want %s on %q", tt.name, r.Raw, tt.code, tt.field)
			}
		}
		if after := ce.countSessions(); after != before {
			t.Errorf("refused requests wrote %d sessions", after-before)
		}

		// An idempotency key creates once; reused with another request it conflicts.
		in := map[string]any{"amount": sgd(2500), "idempotencyKey": "order-7"}
		first, second := ce.newSession(in), ce.newSession(in)
		if first.CheckoutSession.ID != second.CheckoutSession.ID {
			t.Errorf("retry created %s and %s", first.CheckoutSession.ID, second.CheckoutSession.ID)
		}
		r := ce.gql("API_KEY", createSession, map[string]any{"in": map[string]any{"amount": sgd(2600), "idempotencyKey": "order-7"}})
		if r.code() != "CONFLICT" {
			t.Errorf("key reused with another amount: %s", r.Raw)
		}
	})
}

// checkoutQuoteLock mirrors checkout.QuotePolicy.Lock.
const checkoutQuoteLock = 10 * time.Minute

func sgd(minor int64) map[string]any {
	return map[string]any{"amount": fmt.Sprint(minor), "currency": "SGD"}
}

// session0 is the session the harness seeds for A (not the test's).
func (ce *checkoutEnv) session0() string { return ce.env.session.ID }

func (ce *checkoutEnv) customerOfB() string {
	for _, id := range ce.idsOfB {
		if strings.HasPrefix(id, "cus_") {
			return id
		}
	}
	ce.t.Fatal("no customer of B")
	return ""
}

// TestCheckoutSessionExpiry: past its expiry a session reads EXPIRED, and
// nothing more happens to it: no card, no coupon, no new token, no confirm.
// The janitor marks the ones nobody reads.
func TestCheckoutSessionExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newCheckoutEnv(t, db)
		read := ce.newSession(map[string]any{"amount": sgd(500), "expiresIn": 60})
		unread := ce.newSession(map[string]any{"amount": sgd(500), "expiresIn": 60})
		ce.clock.Advance(61 * time.Second)

		if s := ce.session(read.CashierToken, nil); s.Status != "EXPIRED" {
			t.Errorf("status = %s, want EXPIRED", s.Status)
		}
		for name, q := range map[string]string{
			"tokenizeCard": `mutation { tokenizeCard(input: {number: "4242424242424242", expMonth: 12, expYear: 2099}) { token } }`,
			"applyCoupon":  `mutation { applyCoupon(code: "ANY") { id } }`,
		} {
			if r := ce.gql(read.CashierToken, q, nil); r.code() != "CONFLICT" {
				t.Errorf("%s on an expired session: %s, want CONFLICT", name, r.Raw)
			}
		}
		r := ce.gql("API_KEY", `mutation($id: ID!) { createCashierToken(checkoutSessionID: $id) { token } }`, map[string]any{"id": read.CheckoutSession.ID})
		if r.code() != "CONFLICT" {
			t.Errorf("token for an expired session: %s", r.Raw)
		}
		merchant := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "k", MerchantID: ce.a.ID})
		if _, err := ce.app.Checkout.Confirmable(merchant, unread.CheckoutSession.ID); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Errorf("confirming an expired session: %v, want ECONFLICT", err)
		}
		n, err := ce.app.Checkout.ExpireSessions(context.Background())
		if err != nil || n != 0 {
			// Both were marked on read already; the seeded sessions expire in an hour.
			t.Errorf("janitor marked %d (%v), want 0", n, err)
		}
		later := ce.newSession(map[string]any{"amount": sgd(500), "expiresIn": 60})
		ce.clock.Advance(2 * time.Minute)
		if n, err := ce.app.Checkout.ExpireSessions(context.Background()); err != nil || n != 1 {
			t.Errorf("janitor marked %d (%v), want 1", n, err)
		}
		got, err := db.Client.CheckoutSession.Get(viewer.SystemContext(context.Background()), later.CheckoutSession.ID)
		if err != nil || got.Status != sessionstatus.Expired {
			t.Errorf("after the janitor: %v %v", got, err)
		}
	})
}

const tokenize = `mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) {
  token card { token brand funding country last4 maskedNumber expMonth expYear holderName fingerprint saved } } }`

type tokenizedCard struct {
	Token string
	Card  struct {
		Token, Brand, Funding, Country, Last4, MaskedNumber, HolderName, Fingerprint string
		ExpMonth, ExpYear                                                            int
		Saved                                                                        bool
	}
}

const testPAN, testCVC = "4242424242424242", "7391"

// TestTokenizeCardLeavesNoCardData: the cashier vaults a card (saved to its
// customer) and gets display details only; the merchant sees the saved card
// masked; bad cards are coded errors that never repeat the digits; and a scan
// of every database row, every log line and every GraphQL response finds
// neither the PAN, nor the CVC, nor any Luhn-valid number.
func TestTokenizeCardLeavesNoCardData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newCheckoutEnv(t, db)
		cus := ce.newCustomer("card@alpha.test")
		s := ce.newSession(map[string]any{"amount": sgd(4200), "customerID": cus})
		var tc tokenizedCard
		ce.ok(ce.gql(s.CashierToken, tokenize, map[string]any{"in": map[string]any{
			"number": "4242 4242 4242 4242", "cvc": "739", "expMonth": 12, "expYear": 2031, "holderName": "A Buyer", "save": true,
		}}), "tokenizeCard", &tc)
		c := tc.Card
		if !strings.HasPrefix(tc.Token, "card_") || c.Brand != "visa" || c.Funding != "credit" || c.Country != "US" || c.Last4 != "4242" ||
			c.MaskedNumber != "424242******4242" || c.ExpMonth != 12 || c.ExpYear != 2031 || !c.Saved || !strings.HasPrefix(c.Fingerprint, "fp_") {
			t.Errorf("tokenized = %+v", tc)
		}
		// An Amex with a 4-digit CVC, one checkout only.
		var amex tokenizedCard
		ce.ok(ce.gql(s.CashierToken, tokenize, map[string]any{"in": map[string]any{
			"number": "378282246310005", "cvc": testCVC, "expMonth": 1, "expYear": 2030,
		}}), "tokenizeCard", &amex)
		if !strings.HasPrefix(amex.Token, "tok_") || amex.Card.Brand != "amex" || amex.Card.Saved {
			t.Errorf("amex = %+v", amex)
		}
		ce.ok(ce.gql(s.CashierToken, tokenize, map[string]any{"in": map[string]any{
			"number": testPAN, "cvc": "123", "expMonth": 3, "expYear": 2032,
		}}), "tokenizeCard", &tokenizedCard{})

		refused := []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"Luhn", map[string]any{"number": "4242424242424241", "cvc": "123", "expMonth": 12, "expYear": 2031}, "number"},
			{"expired", map[string]any{"number": testPAN, "cvc": "123", "expMonth": 1, "expYear": 2020}, "expYear"},
			{"month", map[string]any{"number": testPAN, "cvc": "123", "expMonth": 13, "expYear": 2031}, "expMonth"},
			{"CVC length", map[string]any{"number": "378282246310005", "cvc": "123", "expMonth": 12, "expYear": 2031}, "cvc"},
			{"save without a customer", map[string]any{"number": testPAN, "cvc": testCVC[:3], "expMonth": 12, "expYear": 2031, "save": true}, "save"},
		}
		noCustomer := ce.newSession(map[string]any{"amount": sgd(100)})
		for _, tt := range refused {
			tok := s.CashierToken
			if tt.field == "save" {
				tok = noCustomer.CashierToken
			}
			r := ce.gql(tok, tokenize, map[string]any{"in": tt.in})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tt.field {
				t.Errorf("%s: %s, want BAD_USER_INPUT on %s", tt.name, r.Raw, tt.field)
			}
		}
		// A number sent where a string belongs must not come back in the error.
		ce.gql(s.CashierToken, tokenize, map[string]any{"in": map[string]any{"number": json.Number(testPAN), "cvc": json.Number(testCVC), "expMonth": 12, "expYear": 2031}})
		// A merchant cannot tokenize; nobody but a cashier can.
		if r := ce.gql("API_KEY", tokenize, map[string]any{"in": map[string]any{"number": testPAN, "expMonth": 12, "expYear": 2031}}); r.code() != "FORBIDDEN" {
			t.Errorf("merchant tokenizeCard: %s", r.Raw)
		}

		// The merchant sees the saved card, masked; so does the cashier.
		var page struct {
			Edges []struct {
				Node struct {
					ID         string
					SavedCards []struct{ Token, MaskedNumber, Brand string }
				}
			}
		}
		ce.ok(ce.gql("MERCHANT_ANALYST", `{ customers(first: 10) { edges { node { id savedCards { token maskedNumber brand } } } } }`, nil), "customers", &page)
		found := false
		for _, e := range page.Edges {
			if e.Node.ID == cus {
				found = len(e.Node.SavedCards) == 1 && e.Node.SavedCards[0].Token == tc.Token && e.Node.SavedCards[0].MaskedNumber == "424242******4242"
			}
		}
		if !found {
			t.Errorf("customers = %+v", page)
		}
		if sv := ce.session(s.CashierToken, nil); len(sv.SavedCards) != 1 || sv.SavedCards[0].Token != tc.Token {
			t.Errorf("cashier's saved cards = %+v", sv.SavedCards)
		}

		ce.scanForCardData([]string{testPAN, "378282246310005"}, []string{testCVC, "739"})
	})
}

var digitRun = regexp.MustCompile(`[0-9]+`)

// scanForCardData fails the test if any database value, log line or GraphQL
// response holds one of the PANs, a CVC as a number of its own, or any
// Luhn-valid number of 13 to 19 digits standing alone (see standsAlone).
func (ce *checkoutEnv) scanForCardData(pans, cvcs []string) {
	ce.t.Helper()
	scanForCardData(ce.t, ce.db, ce.logs.String(), ce.bodies, pans, cvcs)
}

// scanForCardData is checkoutEnv.scanForCardData over any database, log text
// and response bodies.
func scanForCardData(t *testing.T, db *store.DB, logs string, bodies, pans, cvcs []string) {
	t.Helper()
	sources := map[string][]string{
		"database":  dumpDatabase(t, db),
		"logs":      strings.Split(logs, "\n"),
		"responses": bodies,
	}
	if len(sources["database"]) < 50 || len(logs) == 0 || len(bodies) < 5 {
		t.Fatalf("nothing to scan: %d values, %d bytes of logs, %d responses", len(sources["database"]), len(logs), len(bodies))
	}
	var cvcPatterns []*regexp.Regexp
	for _, c := range cvcs {
		// Bounded by what is not a token character: a CVC leaks as "739",
		// cvc=739 or "cvc": 739, while random tokens (JWTs, ciphertexts in
		// base64) hold short digit runs between letters by chance.
		cvcPatterns = append(cvcPatterns, regexp.MustCompile(`(^|[^0-9A-Za-z_-])`+c+`([^0-9A-Za-z_-]|$)`))
	}
	for where, values := range sources {
		for _, v := range values {
			for _, pan := range pans {
				if strings.Contains(v, pan) {
					t.Errorf("%s holds a PAN: %q", where, truncate(v, 200))
				}
			}
			for _, loc := range digitRun.FindAllStringIndex(v, -1) {
				run := v[loc[0]:loc[1]]
				if len(run) >= 13 && len(run) <= 19 && luhn(run) && standsAlone(v, loc[0], loc[1]) {
					t.Errorf("%s holds a Luhn-valid number %s: %q", where, run, truncate(v, 200))
				}
			}
			for i, p := range cvcPatterns {
				if p.MatchString(v) {
					t.Errorf("%s holds CVC %s: %q", where, cvcs[i], truncate(v, 200))
				}
			}
		}
	}
}

// standsAlone reports whether the digits v[i:j] are a number of their own:
// not a decimal fraction (an FX rate's digits after the point) and not part
// of a token of letters and digits. Hex digests (ledger entry hashes,
// channel idempotency keys, request ids) hold 13–19 digit runs by chance,
// and one in ten of those passes Luhn; a leaked card number sits between
// quotes, spaces or punctuation. The scan's own PANs are looked for
// anywhere.
func standsAlone(v string, i, j int) bool {
	letter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	return (i == 0 || (v[i-1] != '.' && !letter(v[i-1]))) && (j == len(v) || !letter(v[j]))
}

func luhn(d string) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// dumpDatabase returns every value of every table, one per line, skipping
// Strait IDs (which are random letters and digits and cannot hold card data).
func dumpDatabase(t *testing.T, db *store.DB) []string {
	t.Helper()
	var tables []string
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()`
	if db.Dialect == "sqlite3" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	rows, err := db.SQL.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out []string
	for _, table := range tables {
		if table == "goose_db_version" {
			// The migrations' own record: its version ids are timestamps
			// (20261206001616 passes Luhn), never anyone's data.
			continue
		}
		rows, err := db.SQL.Query("SELECT * FROM " + quoteIdent(db, table))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				// The relay's counters (an event's seq, a lease's counter)
				// count events: with enough of them one equals a CVC.
				if (table == "events" && cols[i] == "seq") || (table == "leases" && cols[i] == "counter") {
					continue
				}
				if _, isID := pulid.Prefix(string(v)); !isID {
					out = append(out, string(v))
				}
			}
		}
		rows.Close()
	}
	return out
}

func quoteIdent(db *store.DB, name string) string {
	if db.Dialect == "sqlite3" {
		return `"` + name + `"`
	}
	return "`" + name + "`"
}

// TestCouponsOverGraphQL: a merchant creates coupons; the cashier sees the
// public ones that apply, applies one (amount due drops, subtotal and discount
// kept), replaces and removes it; bad codes and used-up coupons are coded
// errors that leave the session as it was.
func TestCouponsOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newCheckoutEnv(t, db)
		create := `mutation($in: CreateCouponInput!) { createCoupon(input: $in) { id code kind percentOffBps amountOff { amount currency } minimumAmount { amount } maxRedemptions timesRedeemed public } }`
		var save15 struct {
			ID, Code, Kind string
			PercentOffBps  int
		}
		ce.ok(ce.gql("MERCHANT_DEVELOPER", create, map[string]any{"in": map[string]any{
			"code": "save15", "kind": "PERCENTAGE", "percentOffBps": 1500, "public": true, "maxRedemptions": 1,
		}}), "createCoupon", &save15)
		if save15.Code != "SAVE15" || save15.Kind != "PERCENTAGE" || !strings.HasPrefix(save15.ID, "cpn_") {
			t.Errorf("created %+v", save15)
		}
		for _, in := range []map[string]any{
			{"code": "FIVEOFF", "kind": "FIXED", "amountOff": sgd(500), "minimumAmount": sgd(5000)},
			{"code": "USDONLY", "kind": "FIXED", "amountOff": map[string]any{"amount": "100", "currency": "USD"}, "public": true},
			{"code": "BIGSPENDER", "kind": "PERCENTAGE", "percentOffBps": 2000, "minimumAmount": sgd(1_000_000), "public": true},
		} {
			ce.ok(ce.gql("API_KEY", create, map[string]any{"in": in}), "createCoupon", &struct{}{})
		}
		node := fmt.Sprintf(`{ node(id: %q) { id ... on Coupon { code } } }`, save15.ID)
		if r := ce.gql("API_KEY", node, nil); r.code() != "" || !strings.Contains(r.Raw, `"code":"SAVE15"`) {
			t.Errorf("node(coupon): %s", r.Raw)
		}
		if r := ce.gql("CASHIER", node, nil); r.code() != "NOT_FOUND" {
			t.Errorf("cashier node(coupon): %s", r.Raw)
		}
		if r := ce.gql("API_KEY", create, map[string]any{"in": map[string]any{"code": "SAVE15", "kind": "PERCENTAGE", "percentOffBps": 1}}); r.code() != "CONFLICT" {
			t.Errorf("duplicate code: %s", r.Raw)
		}
		if r := ce.gql("API_KEY", create, map[string]any{"in": map[string]any{"code": "ZERO", "kind": "FIXED", "amountOff": sgd(0)}}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("zero amountOff: %s", r.Raw)
		}
		var list struct {
			Edges []struct{ Node struct{ Code string } }
		}
		ce.ok(ce.gql("MERCHANT_ANALYST", `{ coupons(first: 10) { edges { node { code } } } }`, nil), "coupons", &list)
		codes := map[string]bool{}
		for _, e := range list.Edges {
			codes[e.Node.Code] = true
		}
		if len(codes) != 4 || !codes["SAVE15"] || !codes["BIGSPENDER"] {
			t.Errorf("coupons = %+v", list)
		}

		s := ce.newSession(map[string]any{"amount": sgd(10000), "buyerCurrency": "JPY"})
		v := ce.session(s.CashierToken, nil)
		if len(v.ApplicableCoupons) != 1 || v.ApplicableCoupons[0].Code != "SAVE15" || v.ApplicableCoupons[0].Discount.Amount != "1500" {
			t.Errorf("applicable = %+v, want SAVE15 only (FIVEOFF is private, USDONLY another currency, BIGSPENDER above the price)", v.ApplicableCoupons)
		}

		apply := `mutation($c: String!) { applyCoupon(code: $c) { amount { amount } amountSubtotal { amount } amountDiscount { amount } discount { code kind } buyerPrice { amount { amount } } } }`
		var applied struct {
			Amount, AmountSubtotal, AmountDiscount struct{ Amount string }
			Discount                               struct{ Code, Kind string }
			BuyerPrice                             struct{ Amount struct{ Amount string } }
		}
		ce.ok(ce.gql(s.CashierToken, apply, map[string]any{"c": " save15 "}), "applyCoupon", &applied)
		if applied.Amount.Amount != "8500" || applied.AmountSubtotal.Amount != "10000" || applied.AmountDiscount.Amount != "1500" || applied.Discount.Code != "SAVE15" {
			t.Errorf("applied = %+v", applied)
		}
		// 85.00 SGD at the same quote as above: 85 / 0.00884444… = 9610.55… JPY.
		if applied.BuyerPrice.Amount.Amount != "9611" {
			t.Errorf("buyer price after the coupon = %s, want 9611", applied.BuyerPrice.Amount.Amount)
		}
		ce.ok(ce.gql(s.CashierToken, apply, map[string]any{"c": "FIVEOFF"}), "applyCoupon", &applied)
		if applied.Amount.Amount != "9500" || applied.AmountDiscount.Amount != "500" || applied.Discount.Code != "FIVEOFF" {
			t.Errorf("replaced = %+v", applied)
		}
		refusals := []struct{ code, want string }{
			{"NOPE", "NOT_FOUND"}, {"USDONLY", "BAD_USER_INPUT"}, {"BIGSPENDER", "BAD_USER_INPUT"},
		}
		for _, tt := range refusals {
			if r := ce.gql(s.CashierToken, apply, map[string]any{"c": tt.code}); r.code() != tt.want {
				t.Errorf("apply %s: %s, want %s", tt.code, r.Raw, tt.want)
			}
		}
		if v := ce.session(s.CashierToken, nil); v.Amount.Amount != "9500" || v.Discount == nil || v.Discount.Code != "FIVEOFF" {
			t.Errorf("a refused coupon changed the session: %+v", v)
		}
		var removed struct {
			Amount   struct{ Amount string }
			Discount *struct{ Code string }
		}
		ce.ok(ce.gql(s.CashierToken, `mutation { removeCoupon { amount { amount } discount { code } } }`, nil), "removeCoupon", &removed)
		if removed.Amount.Amount != "10000" || removed.Discount != nil {
			t.Errorf("removed = %+v", removed)
		}

		// SAVE15 allows one use: once the pipeline redeems it for one session,
		// another session cannot apply it (and confirming with it is refused).
		ce.ok(ce.gql(s.CashierToken, apply, map[string]any{"c": "SAVE15"}), "applyCoupon", &applied)
		ctx := context.Background()
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ce.app.Coupons.Redeem(ctx, tx, s.CheckoutSession.ID, "pay_test"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		other := ce.newSession(map[string]any{"amount": sgd(10000)})
		if r := ce.gql(other.CashierToken, apply, map[string]any{"c": "SAVE15"}); r.code() != "CONFLICT" {
			t.Errorf("used-up coupon: %s, want CONFLICT", r.Raw)
		}
		if v := ce.session(other.CashierToken, nil); len(v.ApplicableCoupons) != 0 {
			t.Errorf("a used-up coupon is still offered: %+v", v.ApplicableCoupons)
		}
		if r := ce.gql("API_KEY", apply, map[string]any{"c": "SAVE15"}); r.code() != "FORBIDDEN" {
			t.Errorf("merchant applyCoupon: %s", r.Raw)
		}
	})
}

// TestCardForSessionScopesTokens is what the pipeline relies on at confirm:
// a session pays with its merchant's one-time tokens and its customer's saved
// cards; another merchant's token, or another customer's saved card, is
// NOT_FOUND exactly like a token that does not exist. The CVC is handed over
// once.
func TestCardForSessionScopesTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newCheckoutEnv(t, db)
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		cus, otherCus := ce.newCustomer("one@alpha.test"), ce.newCustomer("two@alpha.test")
		s := ce.newSession(map[string]any{"amount": sgd(100), "customerID": cus})
		sess := db.Client.CheckoutSession.GetX(sys, s.CheckoutSession.ID)

		var own tokenizedCard
		ce.ok(ce.gql(s.CashierToken, tokenize, map[string]any{"in": map[string]any{"number": testPAN, "cvc": "123", "expMonth": 12, "expYear": 2031}}), "tokenizeCard", &own)
		card, err := ce.app.Checkout.CardForSession(ctx, sess, own.Token)
		if err != nil || card.PAN.Last4() != "4242" || card.CVC.IsZero() {
			t.Fatalf("own card: %v %v", card, err)
		}
		card.Wipe()
		if again, err := ce.app.Checkout.CardForSession(ctx, sess, own.Token); err != nil || !again.CVC.IsZero() {
			t.Errorf("second read: CVC still held (%v)", err)
		}

		foreign, _, err := ce.app.Vault.Tokenize(ctx, vault.CardInput{MerchantID: ce.b.ID, Number: testPAN, ExpMonth: 12, ExpYear: 2031})
		if err != nil {
			t.Fatal(err)
		}
		otherSaved, _, err := ce.app.Vault.Tokenize(ctx, vault.CardInput{MerchantID: ce.a.ID, CustomerID: otherCus, Save: true, Number: "5555555555554444", ExpMonth: 12, ExpYear: 2031})
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{
			"another merchant's token":    string(foreign),
			"another customer's card":     string(otherSaved),
			"a token that does not exist": "tok_abcdefghijklmnopqrstuvwx",
		} {
			if _, err := ce.app.Checkout.CardForSession(ctx, sess, tok); payments.ErrorCode(err) != payments.ENOTFOUND {
				t.Errorf("%s: %v, want ENOTFOUND", name, err)
			}
		}
		if _, err := ce.app.Checkout.CardForSession(ctx, sess, "4242424242424242"); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("a PAN as a token: %v, want EINVALID", err)
		}
	})
}

// TestCardDataScanLooksForNumbersNotDigests checks the scan's notion of a
// card number: Luhn-valid digits of their own, wherever quotes, spaces or
// punctuation put them, and not digits inside hex digests or fractions.
func TestCardDataScanLooksForNumbersNotDigests(t *testing.T) {
	found := func(v string) bool {
		for _, loc := range digitRun.FindAllStringIndex(v, -1) {
			run := v[loc[0]:loc[1]]
			if len(run) >= 13 && len(run) <= 19 && luhn(run) && standsAlone(v, loc[0], loc[1]) {
				return true
			}
		}
		return false
	}
	for v, want := range map[string]bool{
		`{"number":"4000056655665556"}`:               true,
		`pan=4000056655665556 exp=12/31`:              true,
		`/card/4000056655665556/`:                     true,
		`4000056655665556`:                            true,
		`ck_25d2969b3206a7b909be5387177108111772bfc9`: false,
		`rate 0.4000056655665556`:                     false,
		`4000056655665557`:                            false,
	} {
		if got := found(v); got != want {
			t.Errorf("%s: found %v, want %v", v, got, want)
		}
	}
}
