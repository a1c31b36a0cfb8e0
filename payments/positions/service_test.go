package positions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/positions"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

var usd = money.MustCurrency("USD")

// fake is a connector whose QueryBalance answers balance, fails, or
// hangs past every deadline (ignoring its context, as a wedged plugin
// would).
type fake struct {
	connectors.Unimplemented
	balance *int64
	fail    bool
	hang    chan struct{}
}

func (f *fake) QueryBalance(ctx context.Context, _ connectors.BalanceRequest) (connectors.BalanceResponse, error) {
	switch {
	case f.hang != nil:
		<-f.hang
		return connectors.BalanceResponse{}, errors.New("too late")
	case f.fail:
		return connectors.BalanceResponse{}, errors.New("channel said 502")
	}
	return connectors.BalanceResponse{Result: connectors.Approved(), Balances: []connectors.Balance{{
		Available: connectors.NewMoney(*f.balance, "USD"), Pending: connectors.NewMoney(0, "USD")}}}, nil
}

type host map[string]*fake

func (h host) List() []connectors.Status {
	var out []connectors.Status
	for _, n := range []string{"bank", "broken", "stuck", "cardnet"} {
		st := connectors.Status{Name: n, Health: connectors.HealthUp, Capabilities: []connectors.Capability{connectors.CapBalance}}
		if n == "cardnet" {
			st.Capabilities = nil
		}
		out = append(out, st)
	}
	return out
}

func (h host) Get(name string) (connectors.Connector, bool) {
	f, ok := h[name]
	return f, ok
}

func sys() context.Context { return viewer.SystemContext(context.Background()) }

// TestCheckShowsEveryChannelAndAlertsOnceOnDrift: a failing and a hanging
// connector show their errors while the bank answers within the timeout;
// the bank's drift beyond its threshold raises one channel.position_drift
// event, not one per check; back within the threshold it clears.
func TestCheckShowsEveryChannelAndAlertsOnceOnDrift(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
		defer l.Close()
		bal := int64(10_000)
		stuck := make(chan struct{})
		defer close(stuck)
		h := host{"bank": {balance: &bal}, "broken": {fail: true}, "stuck": {hang: stuck}, "cardnet": {}}
		svc := positions.NewService(db.Client, h, positions.Config{Timeout: 200 * time.Millisecond})
		one := money.Amount{Minor: 1, Currency: usd}
		for _, n := range []string{"bank", "broken", "stuck", "cardnet"} {
			_, err := l.Post(sys(), ledger.Entry{Source: ledger.Source{Type: "capture", ID: "pay_" + n}, EffectiveAt: time.Now(),
				Postings: []ledger.Posting{{Account: ledger.ChannelAccount(n, usd), Amount: money.Amount{Minor: -9_000, Currency: usd}},
					{Account: ledger.MerchantAccount("mer_a", ledger.KindPending, usd), Amount: money.Amount{Minor: 9_000, Currency: usd}}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.SetThreshold(sys(), "bank", "USD", &money.Amount{Minor: 500, Currency: usd}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetThreshold(sys(), "nope", "USD", &one); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Fatalf("unknown connector: %v", err)
		}
		if _, err := svc.SetThreshold(sys(), "bank", "USD", &money.Amount{Minor: -1, Currency: usd}); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("negative threshold: %v", err)
		}

		start := time.Now()
		ps, err := svc.Check(sys())
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("a hanging connector held the check for %s", took)
		}
		got := map[string]positions.Position{}
		for _, p := range ps {
			got[p.Connector] = p
		}
		if b := got["bank"]; b.Drift == nil || b.Drift.Minor != 1_000 || !b.Alerting || b.Error != "" {
			t.Fatalf("bank = %+v", b)
		}
		if got["broken"].Error == "" || got["stuck"].Error == "" || got["cardnet"].Error == "" || got["stuck"].Ledger.Minor != -9_000 {
			t.Fatalf("errors: broken %q, stuck %q, cardnet %q", got["broken"].Error, got["stuck"].Error, got["cardnet"].Error)
		}
		drifts := func() int {
			n, err := db.Client.Event.Query().Where(event.Type(positions.EventDrift)).Count(sys())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := svc.Check(sys()); err != nil || drifts() != 1 {
			t.Fatalf("after two checks: %d drift events, %v", drifts(), err)
		}
		bal = 9_100 // within 500 again: clears
		if _, err := svc.Check(sys()); err != nil || drifts() != 1 {
			t.Fatalf("cleared: %d events, %v", drifts(), err)
		}
		bal = 8_000 // beyond again: a new alert
		if _, err := svc.Check(sys()); err != nil || drifts() != 2 {
			t.Fatalf("crossed again: %d events, %v", drifts(), err)
		}
		for _, m := range svc.Metrics() {
			if m.Connector == "bank" && (m.Alerts != 2 || !m.Alerting) {
				t.Fatalf("metrics = %+v", m)
			}
		}
	})
}
