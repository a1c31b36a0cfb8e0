package app_test

// The harness of the end-to-end proofs (e2e_*_test.go): Strait over HTTP,
// the reference connector plugins as real processes, and the in-process
// sandbox as the outside world.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/server/app"
)

// offsetClock is the real clock moved forward by hand. The app reads it
// (session expiry, the janitor's due times), while JWTs are still checked
// against the real clock, so a cashier token stays good after a jump.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// e2e is a connectorEnv for the cashier's end-to-end proofs: vault keys,
// debug logs and every GraphQL body kept for the card-data scan, a clock the
// test moves, and the cards and CVCs it used.
type e2e struct {
	*connectorEnv
	clock *offsetClock

	mu     sync.Mutex
	bodies []string
	pans   []string
	cvcs   []string
}

// e2eSpec describes an e2e environment.
type e2eSpec struct {
	connectors []string              // manifest entries, as envSpec.connectors
	channelURL map[string]string     // as envSpec.channelURL
	sandbox    func(*sandbox.Config) // after the e2e defaults
	// authorizeWithin, if set, bounds every Authorize call this much below
	// the host's 15 s, so the sandbox's timeout card runs out in a test's
	// time. The plugin host, its processes and its health stay the real ones.
	authorizeWithin time.Duration
	// configure, if set, changes Strait's configuration after the e2e
	// defaults.
	configure func(*app.Config)
	// clock, if set, is the clock Strait runs on, so that a second channel
	// (a sandbox of the test's own) can share it; a fresh one otherwise.
	clock *offsetClock
}

// Test CVCs, with leading zeros: no amount, balance or counter is ever
// written with one, so the scan finds them only where a CVC leaked ("739"
// once matched a fee balance of 7.39 shown as "739").
const cvc3, cvc4 = "042", "0821"

func newE2E(t *testing.T, db *store.DB, spec e2eSpec) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	x := &e2e{clock: spec.clock}
	if x.clock == nil {
		x.clock = &offsetClock{}
	}
	var live atomic.Pointer[app.App]
	x.connectorEnv = newConnectorEnvSpec(t, db, envSpec{
		configure: func(cfg *app.Config, opts *app.Options) {
			cfg.VaultKeys = "k1:" + vault.GenerateKey()
			cfg.VaultFingerprintKey = vault.GenerateKey()
			opts.Now = x.clock.Now
			if spec.configure != nil {
				spec.configure(cfg)
			}
			if spec.authorizeWithin > 0 {
				opts.Connectors = deadlineConnectors{app: &live, authorize: spec.authorizeWithin}
				opts.Health = liveHealth{app: &live}
			}
		},
		sandbox: func(c *sandbox.Config) {
			c.ChargebackDelay = 200 * time.Millisecond
			c.WebhookRetryBase = 100 * time.Millisecond
			c.WebhookRetryMax = time.Second
			// Longer than any authorizeWithin; released early anyway when
			// the plugin's request is cancelled.
			c.TimeoutHold = 10 * time.Second
			if spec.sandbox != nil {
				spec.sandbox(c)
			}
		},
		connectors: spec.connectors,
		channelURL: spec.channelURL,
		logLevel:   slog.LevelDebug,
		onNew:      func(a *app.App) { live.Store(a) },
	})
	return x
}

// deadlineConnectors is the app's own plugin host with a shorter deadline
// on Authorize.
type deadlineConnectors struct {
	app       *atomic.Pointer[app.App]
	authorize time.Duration
}

func (d deadlineConnectors) Get(name string) (connectors.Connector, bool) {
	c, ok := d.app.Load().Connectors.Get(name)
	if !ok {
		return nil, false
	}
	return shortAuthorize{Connector: c, within: d.authorize}, true
}

type shortAuthorize struct {
	connectors.Connector
	within time.Duration
}

func (s shortAuthorize) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.within)
	defer cancel()
	return s.Connector.Authorize(ctx, r)
}

// liveHealth is the app's own connector health (circuits, auth rates).
type liveHealth struct{ app *atomic.Pointer[app.App] }

func (h liveHealth) Stats(ctx context.Context, name string) (routing.Stats, error) {
	return h.app.Load().Health.Stats(ctx, name)
}

// gql is do, keeping the body for the card-data scan.
func (x *e2e) gql(principal, query string, vars map[string]any) gqlResponse {
	x.t.Helper()
	r := x.do(principal, query, vars)
	x.keep(r.Raw)
	return r
}

func (x *e2e) keep(body string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.bodies = append(x.bodies, body)
}

// ok fails t unless r has no errors, and decodes field into out.
func (x *e2e) ok(t *testing.T, r gqlResponse, field string, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", field, r.Raw)
	}
	if err := json.Unmarshal(r.Data[field], out); err != nil {
		t.Fatalf("%s: %v in %s", field, err, r.Raw)
	}
}

// session is an open checkout session as the merchant created it.
type session struct{ ID, Cashier string }

// open creates a checkout session for merchant A: SGD, cards, wallets and
// bank transfers, a buyer in Singapore, unless in says otherwise.
func (x *e2e) open(t *testing.T, in map[string]any) session {
	t.Helper()
	return x.openAs(t, "API_KEY", in)
}

func (x *e2e) openAs(t *testing.T, principal string, in map[string]any) session {
	t.Helper()
	full := map[string]any{"returnURL": "https://shop.example/done", "buyerCountry": "SG"}
	for k, v := range in {
		full[k] = v
	}
	var out struct {
		CashierToken    string
		CheckoutSession struct{ ID string }
	}
	x.ok(t, x.gql(principal, `mutation($in: CreateCheckoutSessionInput!) {
		createCheckoutSession(input: $in) { cashierToken checkoutSession { id } } }`, map[string]any{"in": full}),
		"createCheckoutSession", &out)
	return session{ID: out.CheckoutSession.ID, Cashier: out.CashierToken}
}

func amountOf(minor int64, currency string) map[string]any {
	return map[string]any{"amount": fmt.Sprint(minor), "currency": currency}
}

// tokenize tokenizes a card for the session's cashier (expiry 12/2031) and
// remembers its number and CVC for the scan.
func (x *e2e) tokenize(t *testing.T, s session, number, cvc string) string {
	t.Helper()
	x.mu.Lock()
	x.pans, x.cvcs = append(x.pans, number), append(x.cvcs, cvc)
	x.mu.Unlock()
	var out struct{ Token string }
	x.ok(t, x.gql(s.Cashier, `mutation($in: TokenizeCardInput!) { tokenizeCard(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"number": number, "cvc": cvc, "expMonth": 12, "expYear": 2031}}), "tokenizeCard", &out)
	return out.Token
}

// paymentFields is what the proofs read of a payment, from the cashier's
// confirm and from the merchant's payment(id).
const paymentFields = `id status failureCode connector
	amount { amount currency exponent decimal } amountCaptured { amount } amountRefunded { amount } fee { amount }
	nextAction { type url qrData instructions { bankName accountName accountNumber bankCode reference amount { amount currency } } }`

type payView struct {
	ID, Status, FailureCode, Connector string
	Amount                             struct {
		Amount, Currency, Decimal string
		Exponent                  int
	}
	AmountCaptured, AmountRefunded, Fee struct{ Amount string }
	NextAction                          *struct {
		Type, URL, QRData string
		Instructions      *struct {
			BankName, AccountName, AccountNumber, BankCode, Reference string
			Amount                                                    struct{ Amount, Currency string }
		}
	}
	Attempts struct {
		Edges []struct{ Node attemptView }
	}
}

type attemptView struct {
	ID, Status, Connector, DeclineCode, ChannelIdempotencyKey, ConnectorReference string
	DeclineType                                                                   *string
}

// attempts returns the payment's attempts, oldest first.
func (p payView) attempts() []attemptView {
	var out []attemptView
	for _, e := range p.Attempts.Edges {
		out = append(out, e.Node)
	}
	slices.SortFunc(out, func(a, b attemptView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

const confirmMutation = `mutation($in: ConfirmCheckoutSessionInput!) { confirmCheckoutSession(input: $in) { ` + paymentFields + ` } }`

// confirm confirms the session as its cashier and fails t on an error.
func (x *e2e) confirm(t *testing.T, s session, in map[string]any) payView {
	t.Helper()
	var p payView
	x.ok(t, x.gql(s.Cashier, confirmMutation, map[string]any{"in": in}), "confirmCheckoutSession", &p)
	return p
}

// payCard tokenizes number and confirms the session with it.
func (x *e2e) payCard(t *testing.T, s session, number, cvc string) payView {
	t.Helper()
	tok := x.tokenize(t, s, number, cvc)
	return x.confirm(t, s, map[string]any{"method": "CARD", "cardToken": tok, "idempotencyKey": "confirm-" + tok})
}

// payment reads a payment, with its attempts, as merchant A's API key.
func (x *e2e) payment(t *testing.T, id string) payView {
	t.Helper()
	var p payView
	x.ok(t, x.gql("API_KEY", `query($id: ID!) { payment(id: $id) { `+paymentFields+`
		attempts(first: 10) { edges { node { id status connector declineCode declineType channelIdempotencyKey connectorReference } } } } }`,
		map[string]any{"id": id}), "payment", &p)
	return p
}

// waitStatus polls the payment until it reaches status.
func (x *e2e) waitStatus(t *testing.T, id, status string) payView {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p := x.payment(t, id)
		if p.Status == status {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s is %s after 15 s, want %s; logs:\n%s", id, p.Status, status, grep(x.logs.String(), `"level":"ERROR"`))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (x *e2e) sessionStatus(t *testing.T, s session) string {
	t.Helper()
	var out struct{ Status string }
	x.ok(t, x.gql("API_KEY", `query($id: ID) { checkoutSession(id: $id) { status } }`, map[string]any{"id": s.ID}), "checkoutSession", &out)
	return out.Status
}

// buyer plays the buyer's browser on a channel's page: it posts the form
// and stops at the redirect back to the shop.
func buyer(t *testing.T, page string, form url.Values) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(page, form)
	if err != nil {
		t.Fatalf("buyer page %s: %v", page, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("buyer page %s: %s", page, resp.Status)
	}
}

// channelGet GETs a sandbox API path into out.
func channelGet(t *testing.T, base, path string, out any) {
	t.Helper()
	if err := json.Unmarshal(channelDo(t, http.MethodGet, base, path), out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// channelPost POSTs to a sandbox API path with no body.
func channelPost(t *testing.T, base, path string) {
	t.Helper()
	channelDo(t, http.MethodPost, base, path)
}

// channelDo calls a sandbox API path with the sandbox's key, fails the
// test unless it answers 200, and returns the body.
func channelDo(t *testing.T, method, base, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return b
}

// networkPayment is the card network's view of a payment.
type networkPayment struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	State          string `json:"state"`
	DeclineCode    string `json:"decline_code"`
	Amount         int64  `json:"amount"`
	CapturedAmount int64  `json:"captured_amount"`
	RefundedAmount int64  `json:"refunded_amount"`
	ThreeDS        struct {
		Requested string `json:"requested"`
		Flow      string `json:"flow"`
		Result    string `json:"result"`
	} `json:"three_ds"`
}

// cardPaymentsAt lists the card network's payments at base for a Strait
// attempt (the connectors send the attempt id as merchant_reference).
func cardPaymentsAt(t *testing.T, base, attemptID string) []networkPayment {
	t.Helper()
	var list struct{ Data []networkPayment }
	channelGet(t, base, "/card/payments?merchant_reference="+url.QueryEscape(attemptID), &list)
	return list.Data
}

// settledToday counts the card network's settlement items today (captures,
// refunds): money that moved at the channel.
func settledToday(t *testing.T, base string) int {
	t.Helper()
	var rep struct{ Items []json.RawMessage }
	channelGet(t, base, "/card/settlements?date="+time.Now().UTC().Format(time.DateOnly), &rep)
	return len(rep.Items)
}

// moneyCounts is everything that would show money moving.
type moneyCounts struct {
	Payments, Attempts, Refunds, Postings, Entries, Settled int
	lastPayment                                             string // the newest payment's id
}

func (x *e2e) counts(t *testing.T) moneyCounts {
	t.Helper()
	sys := viewer.SystemContext(context.Background())
	c := x.db.Client
	n := func(k int, err error) int {
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	var last string
	if p, err := c.Payment.Query().Order(ent.Desc(payment.FieldID)).First(sys); err == nil {
		last = p.ID
	}
	return moneyCounts{lastPayment: last,
		Payments: n(c.Payment.Query().Count(sys)), Attempts: n(c.PaymentAttempt.Query().Count(sys)),
		Refunds: n(c.Refund.Query().Count(sys)), Postings: n(c.Posting.Query().Count(sys)),
		Entries: n(c.JournalEntry.Query().Count(sys)), Settled: settledToday(t, x.sb.URL()),
	}
}

// balanced fails t unless every currency's trial balance nets to zero.
func (x *e2e) balanced(t *testing.T) {
	t.Helper()
	var lines []struct {
		Currency         string
		Net, PostingsNet struct{ Amount string }
	}
	x.ok(t, x.gql("OPERATOR", `{ trialBalance { currency net { amount } postingsNet { amount } } }`, nil), "trialBalance", &lines)
	for _, l := range lines {
		if l.Net.Amount != "0" || l.PostingsNet.Amount != "0" {
			t.Errorf("%s unbalanced: net %s, postings %s", l.Currency, l.Net.Amount, l.PostingsNet.Amount)
		}
	}
}

// accountBalance is the balance of one ledger account, by owner and kind, as
// the operator sees it ("" when the account does not exist).
func (x *e2e) accountBalance(t *testing.T, ownerType, ownerID, kind, currency string) string {
	t.Helper()
	var page struct {
		Edges []struct {
			Node struct {
				OwnerID, Kind string
				Balance       struct{ Amount string }
			}
		}
	}
	x.ok(t, x.gql("OPERATOR", `query($f: LedgerAccountsFilter) { accounts(filter: $f, first: 100) {
		edges { node { ownerID kind balance { amount } } } } }`,
		map[string]any{"f": map[string]any{"ownerType": ownerType, "currency": currency}}), "accounts", &page)
	for _, e := range page.Edges {
		if (ownerID == "" || e.Node.OwnerID == ownerID) && e.Node.Kind == kind {
			return e.Node.Balance.Amount
		}
	}
	return ""
}

// noCardData scans the database, the logs (debug level, the plugins' output
// included) and every GraphQL body this test saw for the card numbers and
// CVCs it used and for anything Luhn-valid: it must find nothing.
func (x *e2e) noCardData(t *testing.T) {
	t.Helper()
	x.mu.Lock()
	bodies, pans, cvcs := slices.Clone(x.bodies), slices.Clone(x.pans), slices.Clone(x.cvcs)
	x.mu.Unlock()
	slices.Sort(cvcs)
	scanForCardData(t, x.db, x.logs.String(), bodies, pans, slices.Compact(cvcs))
}

// rawGQL posts a GraphQL request to the handler from any goroutine: it
// fails no test, and returns the status, the replay header and the body.
func (x *e2e) rawGQL(credential, query string, vars map[string]any) (int, string, string) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+credential)
	rec := httptest.NewRecorder()
	x.app.Handler().ServeHTTP(rec, req)
	x.keep(rec.Body.String())
	return rec.Code, rec.Header().Get("Idempotent-Replayed"), rec.Body.String()
}

// merchantB returns a merchant admin credential of merchant B.
func (x *e2e) merchantB() string {
	return x.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_beta_admin", MerchantID: x.b.ID, Role: viewer.RoleAdmin})
}
