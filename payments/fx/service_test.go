package fx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

var (
	usd = money.MustCurrency("USD")
	jpy = money.MustCurrency("JPY")
	kwd = money.MustCurrency("KWD")
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// table is a RateSource with fixed rates.
type table struct {
	rates []fx.ObservedRate
	err   error
}

func (table) Name() string { return "table" }

func (s table) GetRates(_ context.Context, pairs []fx.Pair) ([]fx.ObservedRate, error) {
	return s.rates, s.err
}

// clock is a settable fixed clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func sys() context.Context { return viewer.SystemContext(context.Background()) }

func merchant(id string) context.Context {
	return viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr", MerchantID: id, Role: viewer.RoleAdmin})
}

type env struct {
	svc   *fx.Service
	l     *ledger.Ledger
	clock *clock
	db    *store.DB
}

func each(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{now: t0}
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: c.Now})
		t.Cleanup(l.Close)
		src := table{rates: []fx.ObservedRate{
			{Pair: fx.Pair{Base: usd, Quote: jpy}, Rate: money.MustRate("151.25"), At: t0},
			{Pair: fx.Pair{Base: kwd, Quote: usd}, Rate: money.MustRate("3.253"), At: t0},
		}}
		svc := fx.NewService(db.Client, l, fx.Config{Source: src, Now: c.Now})
		if n, err := svc.RefreshRates(context.Background()); err != nil || n != 2 {
			t.Fatalf("refresh = %d, %v", n, err)
		}
		// Fund mer_a with 500.00 USD of captured money.
		_, err := l.Post(sys(), ledger.Entry{
			Source: ledger.Source{Type: ledger.SourceCapture, ID: "pay_1"}, EffectiveAt: t0,
			Postings: []ledger.Posting{
				{Account: ledger.ChannelAccount("cardnet", usd), Amount: money.Amount{Minor: -50000, Currency: usd}},
				{Account: ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd), Amount: money.Amount{Minor: 50000, Currency: usd}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, env{svc: svc, l: l, clock: c, db: db})
	})
}

func bal(t *testing.T, l *ledger.Ledger, k ledger.AccountKey) int64 {
	t.Helper()
	b, err := l.Balance(sys(), k)
	if err != nil {
		t.Fatal(err)
	}
	return b.Minor
}

func TestConvertMovesBothLegsThroughTheFXAccount(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		q, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, jpy)
		if err != nil {
			t.Fatal(err)
		}
		if q.Rate.String() != "150.49375" || q.RateSource != "table" || !q.ExpiresAt.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("quote = %+v", q)
		}
		c, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, money.Amount{Minor: 10000, Currency: usd}, "key-1")
		if err != nil {
			t.Fatal(err)
		}
		if c.To.Minor != 15049 || c.Replayed {
			t.Errorf("conversion = %+v", c)
		}
		// The conversion's journal entry references the quote it used.
		if entry, err := e.db.Client.JournalEntry.Get(sys(), c.EntryID); err != nil || entry.Reference != q.ID {
			t.Errorf("entry reference = %q (%v), want the quote %s", entry.Reference, err, q.ID)
		}
		want := map[ledger.AccountKey]int64{
			ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd): 40000,
			ledger.MerchantAccount("mer_a", ledger.KindAvailable, jpy): 15049,
			ledger.PlatformAccount(ledger.KindFX, usd):                 10000,
			ledger.PlatformAccount(ledger.KindFX, jpy):                 -15049,
		}
		for k, v := range want {
			if got := bal(t, e.l, k); got != v {
				t.Errorf("%s = %d, want %d", k, got, v)
			}
		}

		// A retry after the quote expired replays the first conversion.
		e.clock.now = t0.Add(time.Hour)
		again, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, money.Amount{Minor: 10000, Currency: usd}, "key-1")
		if err != nil || !again.Replayed || again.EntryID != c.EntryID {
			t.Errorf("retry = %+v, %v", again, err)
		}
		lines, err := e.l.TrialBalance(sys())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			if !line.Net.IsZero() || !line.PostingsNet.IsZero() {
				t.Errorf("%s unbalanced: %+v", line.Currency, line)
			}
		}
	})
}

func TestConvertRefusals(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		q, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, jpy)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, money.Amount{Minor: 100, Currency: usd}, "used"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			ctx      context.Context
			merchant string
			amount   money.Amount
			key      string
			at       time.Time
			code     string
		}{
			{"above the available balance", merchant("mer_a"), "mer_a", money.Amount{Minor: 50000, Currency: usd}, "k1", t0, payments.ECONFLICT},
			{"another merchant's quote", merchant("mer_b"), "mer_b", money.Amount{Minor: 100, Currency: usd}, "k2", t0, payments.ENOTFOUND},
			{"expired quote", merchant("mer_a"), "mer_a", money.Amount{Minor: 100, Currency: usd}, "k3", t0.Add(30 * time.Second), payments.EINVALID},
			{"wrong currency", merchant("mer_a"), "mer_a", money.Amount{Minor: 100, Currency: jpy}, "k4", t0, payments.EINVALID},
			{"key reused for another amount", merchant("mer_a"), "mer_a", money.Amount{Minor: 200, Currency: usd}, "used", t0, payments.ECONFLICT},
			{"bad key", merchant("mer_a"), "mer_a", money.Amount{Minor: 100, Currency: usd}, "", t0, payments.EINVALID},
		}
		for _, tt := range tests {
			e.clock.now = tt.at
			if _, err := e.svc.Convert(tt.ctx, tt.merchant, q.ID, tt.amount, tt.key); payments.ErrorCode(err) != tt.code {
				t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
			}
		}
		if got := bal(t, e.l, ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd)); got != 49900 {
			t.Errorf("USD available = %d, want 49900: a refusal moved money", got)
		}
	})
}

func TestQuotesUseInverseRatesAndRefuseStaleOnes(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		q, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, kwd)
		if err != nil {
			t.Fatal(err)
		}
		if q.BaseRate.String() != "0.307408545957577621" {
			t.Errorf("USD/KWD mid = %s", q.BaseRate)
		}
		if _, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, money.MustCurrency("EUR")); payments.ErrorCode(err) != payments.EUNAVAILABLE {
			t.Errorf("unknown pair: err = %v, want EUNAVAILABLE", err)
		}
		e.clock.now = t0.Add(16 * time.Minute)
		if _, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, jpy); payments.ErrorCode(err) != payments.EUNAVAILABLE {
			t.Errorf("stale rate: err = %v, want EUNAVAILABLE", err)
		}
	})
}

func TestRefreshReportsAnUnavailableSource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
		defer l.Close()
		svc := fx.NewService(db.Client, l, fx.Config{Source: table{err: errors.New("connection refused")}})
		if _, err := svc.RefreshRates(context.Background()); payments.ErrorCode(err) != payments.EUNAVAILABLE {
			t.Errorf("err = %v, want EUNAVAILABLE", err)
		}
	})
}
