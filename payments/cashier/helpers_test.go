package cashier_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/tenancy"
	"github.com/straitpay/strait/payments/viewer"
)

var usd = money.MustCurrency("USD")

// fakeChannel is an in-process connector whose answer depends on the card
// number, and which counts the distinct idempotency keys it charged.
type fakeChannel struct {
	connectors.Unimplemented
	name string

	mu      sync.Mutex
	answers map[string]connectors.Result // by card number; approved otherwise
	calls   []connectors.AuthorizeRequest
	charged map[string]connectors.AuthorizeRequest // idempotency key → request
	ops     []string
	refund  func(connectors.RefundRequest) connectors.Result
}

func newFake(name string) *fakeChannel {
	return &fakeChannel{name: name, answers: map[string]connectors.Result{}, charged: map[string]connectors.AuthorizeRequest{}}
}

func (f *fakeChannel) Authorize(_ context.Context, r connectors.AuthorizeRequest) (connectors.AuthorizeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	res, ok := f.answers[r.Card.Number]
	if !ok {
		res = connectors.Approved()
	}
	resp := connectors.AuthorizeResponse{Result: res, PaymentID: f.name + "_" + r.Reference, Amount: r.Amount}
	switch res.Outcome {
	case connectors.OutcomeApproved:
		f.charged[r.IdempotencyKey] = r
	case connectors.OutcomeUnknown:
		f.charged[r.IdempotencyKey] = r
		return connectors.AuthorizeResponse{Result: res}, connectors.Errorf(connectors.EUNKNOWN, "timeout")
	case connectors.OutcomeActionRequired:
		resp.NextAction = &connectors.NextAction{Type: connectors.ActionThreeDSChallenge, URL: "https://acs.test/" + r.Reference}
	}
	return resp, nil
}

func (f *fakeChannel) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.OperationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "capture "+r.IdempotencyKey)
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "cap_" + r.PaymentID, Amount: r.Amount}, nil
}

func (f *fakeChannel) Void(_ context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "void "+r.IdempotencyKey)
	return connectors.OperationResponse{Result: connectors.Approved(), ID: "void_" + r.PaymentID}, nil
}

func (f *fakeChannel) Refund(_ context.Context, r connectors.RefundRequest) (connectors.OperationResponse, error) {
	f.mu.Lock()
	f.ops = append(f.ops, "refund "+r.IdempotencyKey)
	answer := f.refund
	f.mu.Unlock()
	res := connectors.Approved()
	if answer != nil {
		res = answer(r)
	}
	return connectors.OperationResponse{Result: res, ID: "re_" + r.Reference, Amount: r.Amount}, nil
}

func (f *fakeChannel) QueryPayment(_ context.Context, r connectors.QueryPaymentRequest) (connectors.PaymentStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.charged {
		if c.Reference == r.Reference {
			st := connectors.PaymentStatus{Result: connectors.Approved(), PaymentID: f.name + "_" + c.Reference, Reference: c.Reference, Amount: c.Amount}
			if c.Capture {
				st.Captured = c.Amount
			}
			return st, nil
		}
	}
	return connectors.PaymentStatus{Result: connectors.Declined(connectors.DeclineHard, "not_found", "")}, nil
}

func (f *fakeChannel) charges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.charged)
}

type fakes map[string]connectors.Connector

func (f fakes) Get(name string) (connectors.Connector, bool) { c, ok := f[name]; return c, ok }

// world is a payment core on a real database with two card acquirers.
type world struct {
	t        *testing.T
	db       *store.DB
	svc      *cashier.Service
	cfg      cashier.Config
	led      *ledger.Ledger
	rules    *rulebook.Mem
	a, b     *fakeChannel
	conns    fakes
	merchant *ent.Merchant
	ctx      context.Context // the merchant's API key
	sys      context.Context
	clock    *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// acquirers prices acq_a at 30 + 2.9 % and acq_b at 50 + 3.5 %, so acq_a is
// always tried first.
func acquirers() []routing.Connector {
	return []routing.Connector{
		{Name: "acq_a", Kind: "fake", Methods: []routing.Method{routing.Card}, Currencies: []money.Currency{usd, money.MustCurrency("JPY"), money.MustCurrency("IDR")},
			Fees: []routing.Fee{{FixedMinor: 30, BasisPoints: 290}}, Enabled: true, Preauth: true},
		{Name: "acq_b", Kind: "fake", Methods: []routing.Method{routing.Card}, Currencies: []money.Currency{usd},
			Fees: []routing.Fee{{FixedMinor: 50, BasisPoints: 350}}, Enabled: true, Preauth: true},
	}
}

func newWorld(t *testing.T, db *store.DB) *world {
	t.Helper()
	w := &world{t: t, db: db, a: newFake("acq_a"), b: newFake("acq_b"), sys: viewer.SystemContext(context.Background()),
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	w.conns = fakes{"acq_a": w.a, "acq_b": w.b}
	w.led = ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	t.Cleanup(w.led.Close)
	var err error
	w.rules = rulebook.NewMem()
	catalog := routing.NewMemCatalog(acquirers()...)
	w.cfg = cashier.Config{
		Client: db.Client, Dialect: db.Dialect, Ledger: w.led,
		Risk:   risk.NewEngine(w.rules.RiskRules(), risk.NewMemCounters(nil), nil),
		Router: routing.NewRouter(catalog, routing.NewMemHealth(), w.rules.RoutingRules()), Catalog: catalog,
		Connectors: w.conns, Now: w.clock.Now, CallTimeout: 2 * time.Second,
		Backoff: []time.Duration{time.Minute, 5 * time.Minute},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	w.svc = cashier.New(w.cfg)
	t.Cleanup(w.svc.Close)
	op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
	if w.merchant, err = tenancy.New(db.Client, time.Now).CreateMerchant(op, tenancy.MerchantInput{
		LegalName: "Acme", Country: "US", SettlementCurrency: "USD"}); err != nil {
		t.Fatal(err)
	}
	w.ctx = viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_test", MerchantID: w.merchant.ID})
	return w
}

func card(number string) cashier.PaymentMethod {
	return cashier.PaymentMethod{Type: routing.Card, Scheme: "visa", Country: "US",
		Card: &connectors.Card{Number: number, ExpMonth: 12, ExpYear: 2031, CVC: "123"}}
}

const (
	approveCard = "4242424242424242"
	softCard    = "4000000000000044"
	hardCard    = "4000000000000002"
	unknownCard = "4000000000000085"
	actionCard  = "4000000000000069"
)

// decline sets the fakes' answers for the outcome cards.
func (w *world) program() {
	for _, f := range []*fakeChannel{w.a, w.b} {
		f.answers[softCard] = connectors.Declined(connectors.DeclineSoft, "insufficient_funds", "")
		f.answers[hardCard] = connectors.Declined(connectors.DeclineHard, "stolen_card", "")
		f.answers[unknownCard] = connectors.Unknown("timeout")
		f.answers[actionCard] = connectors.ActionRequired()
	}
}

func (w *world) pay(minor int64, cm payment.CaptureMethod) *ent.Payment {
	w.t.Helper()
	p, err := w.svc.CreatePayment(w.ctx, cashier.PaymentInput{Amount: money.Amount{Minor: minor, Currency: usd}, CaptureMethod: cm})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) confirm(p *ent.Payment, number, key string) *ent.Payment {
	w.t.Helper()
	out, err := confirmPayment(w.ctx, w.svc, p.ID, card(number), key)
	if err != nil {
		w.t.Fatalf("confirm %s: %v", number, err)
	}
	return out
}

func (w *world) attempts(p *ent.Payment) []*ent.PaymentAttempt {
	w.t.Helper()
	as, err := w.db.Client.PaymentAttempt.Query().Where(paymentattempt.PaymentID(p.ID)).Order(paymentattempt.ByCreatedAt(), paymentattempt.ByID()).All(w.sys)
	if err != nil {
		w.t.Fatal(err)
	}
	return as
}

func (w *world) events(p *ent.Payment) []string {
	w.t.Helper()
	evs, err := w.db.Client.Event.Query().Where(event.ObjectID(p.ID)).Order(event.ByID()).All(w.sys)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func (w *world) balance(k ledger.AccountKey) int64 {
	w.t.Helper()
	b, err := w.led.Balance(w.sys, k)
	if err != nil {
		w.t.Fatal(err)
	}
	return b.Minor
}

// balanced fails unless every currency's trial balance nets to zero.
func (w *world) balanced() {
	w.t.Helper()
	lines, err := w.led.TrialBalance(w.sys)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, l := range lines {
		if l.Net.Minor != 0 || l.PostingsNet.Minor != 0 {
			w.t.Fatalf("trial balance of %s: net %d, postings %d", l.Currency, l.Net.Minor, l.PostingsNet.Minor)
		}
	}
}

func (w *world) pending() ledger.AccountKey {
	return ledger.MerchantAccount(w.merchant.ID, ledger.KindPending, usd)
}

// newWorldSameDB returns the API-key context of a second merchant.
func newWorldSameDB(t *testing.T, w *world) context.Context {
	t.Helper()
	op := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
	m, err := tenancy.New(w.db.Client, time.Now).CreateMerchant(op, tenancy.MerchantInput{
		LegalName: "Other", Country: "DE", SettlementCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_other", MerchantID: m.ID})
}

// confirmPayment confirms stored payment id as the viewer in ctx: read (as
// the viewer may), prepared, then begun and run by Confirm.
func confirmPayment(ctx context.Context, svc *cashier.Service, id string, pm cashier.PaymentMethod, key string) (*ent.Payment, error) {
	p, err := svc.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	prep, err := svc.Prepare(ctx, p, pm, key)
	if err != nil {
		return nil, err
	}
	return svc.Confirm(ctx, prep)
}
