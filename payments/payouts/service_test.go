package payouts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// bank is a bank connector whose first answers are scripted.
type bank struct {
	connectors.Unimplemented
	mu      sync.Mutex
	keys    []string
	answers []error // nil: pending
}

func (b *bank) Payout(_ context.Context, r connectors.PayoutRequest) (connectors.OperationResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = append(b.keys, r.IdempotencyKey)
	if len(b.answers) > 0 {
		err := b.answers[0]
		b.answers = b.answers[1:]
		if err != nil {
			return connectors.OperationResponse{Result: connectors.Result{Outcome: connectors.OutcomeUnknown}}, err
		}
	}
	return connectors.OperationResponse{Result: connectors.Result{Outcome: connectors.OutcomePending}, ID: "bank_" + r.IdempotencyKey}, nil
}

type one struct{ c connectors.Connector }

func (o one) Get(name string) (connectors.Connector, bool) { return o.c, name == "bank" }

func sys() context.Context { return viewer.SystemContext(context.Background()) }

// TestUnknownOutcomeIsAskedAgainWithTheSameKey: a payout whose bank call
// times out stays pending and can no longer be canceled; the scheduler
// makes the same call with the same key once the retry is due, the bank's
// answer puts it in transit, its event pays it (a repeat changes nothing).
// A second payout's failure event gives its funds back.
func TestUnknownOutcomeIsAskedAgainWithTheSameKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: clock})
		t.Cleanup(l.Close)
		b := &bank{answers: []error{connectors.Errorf(connectors.EUNKNOWN, "timeout")}}
		svc := payouts.New(payouts.Config{Client: db.Client, Dialect: db.Dialect, Ledger: l, Connectors: one{b}, Now: clock, Retry: time.Minute})
		usd := money.MustCurrency("USD")
		m := db.Client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").SaveX(sys())
		acc := db.Client.BankAccount.Create().SetMerchantID(m.ID).SetCountry("US").SetCurrency("USD").SetHolderName("Acme").
			SetNumber("000123456789").SetRouting("011000015").SetLast4("6789").SetFingerprint(string(make([]byte, 64))).
			SetConnector("bank").SetStatus(bankaccount.StatusVERIFIED).SaveX(sys())
		avail := ledger.MerchantAccount(m.ID, ledger.KindAvailable, usd)
		if _, err := l.Post(sys(), ledger.Entry{Source: ledger.Source{Type: ledger.SourceAdjustment, ID: "fund-" + m.ID}, EffectiveAt: now,
			Postings: []ledger.Posting{{Account: avail, Amount: money.Amount{Minor: 10000, Currency: usd}},
				{Account: ledger.PlatformAccount(ledger.KindSuspense, usd), Amount: money.Amount{Minor: -10000, Currency: usd}}}}); err != nil {
			t.Fatal(err)
		}
		balance := func(k ledger.AccountKey) int64 { t.Helper(); a, err := l.Balance(sys(), k); e(t, err); return a.Minor }

		p, err := svc.Create(sys(), payouts.CreateInput{MerchantID: m.ID, BankAccountID: acc.ID, Amount: money.Amount{Minor: 4000, Currency: usd}, IdempotencyKey: "k1"})
		e(t, err)
		if p.Status != payoutstatus.Pending || balance(avail) != 6000 {
			t.Fatalf("after an unknown answer %+v, available %d", p, balance(avail))
		}
		if _, err := svc.Cancel(sys(), p.ID); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("cancel a payout the bank may have: %v", err)
		}
		if n, _ := svc.RunDue(sys(), time.Minute, nil); n != 0 {
			t.Fatalf("asked again before the retry: %d", n)
		}
		now = now.Add(2 * time.Minute)
		if _, err := svc.RunDue(sys(), time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		if len(b.keys) != 2 || b.keys[0] != p.ID || b.keys[1] != p.ID {
			t.Fatalf("bank calls %v, want twice %s", b.keys, p.ID)
		}
		got, err := svc.Payout(sys(), p.ID)
		e(t, err)
		if got.Status != payoutstatus.InTransit {
			t.Fatalf("after the bank's answer %+v", got)
		}
		paid := connectors.Event{Type: connectors.EventPayoutResult, Connector: "bank", Reference: p.ID, ObjectID: "bank_" + p.ID, Result: connectors.Approved()}
		for range 2 {
			e(t, svc.HandleEvent(sys(), paid))
		}
		got, _ = svc.Payout(sys(), p.ID)
		inTransit := ledger.MerchantAccount(m.ID, ledger.KindInTransit, usd)
		if got.Status != payoutstatus.Paid || balance(inTransit) != 0 || balance(ledger.ChannelAccount("bank", usd)) != 4000 || balance(avail) != 6000 {
			t.Fatalf("paid %+v: in transit %d", got, balance(inTransit))
		}
		// The same key replays; another request with it is a conflict.
		again, err := svc.Create(sys(), payouts.CreateInput{MerchantID: m.ID, BankAccountID: acc.ID, Amount: money.Amount{Minor: 4000, Currency: usd}, IdempotencyKey: "k1"})
		if err != nil || again.ID != p.ID {
			t.Fatalf("replay %+v %v", again, err)
		}
		if _, err := svc.Create(sys(), payouts.CreateInput{MerchantID: m.ID, BankAccountID: acc.ID, Amount: money.Amount{Minor: 1, Currency: usd}, IdempotencyKey: "k1"}); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("the key for another payout: %v", err)
		}

		f, err := svc.Create(sys(), payouts.CreateInput{MerchantID: m.ID, BankAccountID: acc.ID, Amount: money.Amount{Minor: 6000, Currency: usd}, IdempotencyKey: "k2"})
		e(t, err)
		if f.Status != payoutstatus.InTransit || balance(avail) != 0 {
			t.Fatalf("second payout %+v", f)
		}
		if _, err := svc.Create(sys(), payouts.CreateInput{MerchantID: m.ID, BankAccountID: acc.ID, Amount: money.Amount{Minor: 1, Currency: usd}, IdempotencyKey: "k3"}); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("a payout above available: %v", err)
		}
		e(t, svc.HandleEvent(sys(), connectors.Event{Type: connectors.EventPayoutResult, Connector: "bank", Reference: f.ID,
			Result: connectors.Declined(connectors.DeclineHard, "account_closed", "")}))
		got, _ = svc.Payout(sys(), f.ID)
		if got.Status != payoutstatus.Failed || got.FailureCode != "account_closed" || balance(avail) != 6000 || balance(inTransit) != 0 {
			t.Fatalf("failed %+v: available %d", got, balance(avail))
		}

		// A daily schedule pays the whole available balance out once a day,
		// however many passes run.
		sc, err := svc.SetSchedule(sys(), payouts.Schedule{MerchantID: m.ID, BankAccountID: acc.ID, Currency: "USD", Interval: payouts.Daily, Minimum: 100, Enabled: true})
		e(t, err)
		if sc == nil || sc.NextRunAt == nil {
			t.Fatalf("schedule %+v", sc)
		}
		for range 3 {
			if _, err := svc.RunDue(sys(), time.Minute, nil); err != nil {
				t.Fatal(err)
			}
		}
		list, err := svc.Payouts(sys(), m.ID, 10, nil)
		e(t, err)
		if len(list) != 3 || list[0].Amount.Minor != 6000 || list[0].Status != payoutstatus.InTransit || balance(avail) != 0 {
			t.Fatalf("after the scheduled runs: %+v, available %d", list, balance(avail))
		}
		sc, _ = svc.Schedule(sys(), m.ID)
		if want := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC); !sc.NextRunAt.Equal(want) {
			t.Fatalf("next run %s, want %s", sc.NextRunAt, want)
		}
	})
}

func e(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
