package settlement_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/settlement"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

var (
	usd = money.MustCurrency("USD")
	jpy = money.MustCurrency("JPY")
	// Friday 2026-02-27 and Monday 2026-03-02, 12:00 UTC.
	friday = time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC)
	monday = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
)

type rates []fx.ObservedRate

func (rates) Name() string { return "table" }
func (r rates) GetRates(context.Context, []fx.Pair) ([]fx.ObservedRate, error) {
	return r, nil
}

func sys() context.Context { return viewer.SystemContext(context.Background()) }

type env struct {
	db       *store.DB
	l        *ledger.Ledger
	fx       *fx.Service
	svc      *settlement.Service
	merchant string
	now      *time.Time
	t        *testing.T
}

// setup makes a USD merchant settling T+1 in UTC with the fee plans and a
// split rule of docs/settlement.md's example, and the payment core's
// postings (docs/payments.md) of a Friday: a card capture of 100.00 USD
// (channel fee 3.20), a wallet capture of 5,000 JPY (no channel fee), a
// refund of 25.00 USD of the card payment (channel fee returned 0.80), and
// on Monday morning a capture that does not mature until Tuesday.
func setup(t *testing.T, db *store.DB) *env {
	now := monday
	e := &env{db: db, now: &now, t: t}
	clock := func() time.Time { return *e.now }
	e.l = ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: clock})
	t.Cleanup(e.l.Close)
	e.fx = fx.NewService(db.Client, e.l, fx.Config{Now: clock, Source: rates{
		{Pair: fx.Pair{Base: jpy, Quote: usd}, Rate: money.MustRate("0.0066"), At: monday},
	}})
	if _, err := e.fx.RefreshRates(sys()); err != nil {
		t.Fatal(err)
	}
	e.svc = settlement.NewService(db.Client, e.l, settlement.Config{FX: e.fx, Now: clock})
	m := db.Client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").SaveX(sys())
	e.merchant = m.ID
	e.ok(e.svc.SetSchedule(sys(), settlement.Schedule{MerchantID: m.ID, DelayDays: 1, Timezone: "UTC"}))
	e.ok(e.svc.UpsertFeePlan(sys(), settlement.FeePlan{MerchantID: m.ID, PaymentMethodType: "card", PercentBps: 290,
		Fixed: money.Amount{Minor: 30, Currency: usd}, CrossBorderBps: 100}))
	e.ok(e.svc.UpsertFeePlan(sys(), settlement.FeePlan{MerchantID: m.ID, PercentBps: 200, CrossBorderBps: 100}))
	e.ok(e.svc.UpsertSplitRule(sys(), settlement.SplitRule{MerchantID: m.ID, Name: "referral", Basis: settlement.BasisFee,
		Shares: map[string]int64{"ptr_ref": 2000}, ResiduePartner: "ptr_ref"}))

	card := e.payment(t, "card", 10000, usd)
	e.post(t, ledger.SourceCapture, card.ID, friday, "cardnet", 10000, 320, usd)
	wallet := e.payment(t, "wallet", 5000, jpy)
	e.post(t, ledger.SourceCapture, wallet.ID, friday.Add(time.Hour), "walletpay", 5000, 0, jpy)
	ref := db.Client.Refund.Create().SetMerchantID(m.ID).SetPaymentID(card.ID).SetAmount(2500).SetCurrency("USD").
		SetStatus("SUCCEEDED").SaveX(sys())
	e.post(t, ledger.SourceRefund, ref.ID, friday.Add(2*time.Hour), "cardnet", -2500, -80, usd)
	late := e.payment(t, "card", 7000, usd)
	e.post(t, ledger.SourceCapture, late.ID, monday.Add(-3*time.Hour), "cardnet", 7000, 0, usd)
	return e
}

func (e *env) payment(t *testing.T, method string, amount int64, c money.Currency) *ent.Payment {
	return e.db.Client.Payment.Create().SetMerchantID(e.merchant).SetAmount(amount).SetCurrency(c.Code()).
		SetAmountCaptured(amount).SetStatus(paymentstatus.Succeeded).SetPaymentMethodType(method).SaveX(sys())
}

// post writes the payment core's entry of a capture (gross > 0) or refund
// (gross < 0): channel −gross, merchant pending +(gross − fee), fees +fee.
func (e *env) post(t *testing.T, typ, id string, at time.Time, channel string, gross, fee int64, c money.Currency) {
	t.Helper()
	ps := []ledger.Posting{
		{Account: ledger.ChannelAccount(channel, c), Amount: money.Amount{Minor: -gross, Currency: c}},
		{Account: ledger.MerchantAccount(e.merchant, ledger.KindPending, c), Amount: money.Amount{Minor: gross - fee, Currency: c}},
	}
	if fee != 0 {
		ps = append(ps, ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, c), Amount: money.Amount{Minor: fee, Currency: c}})
	}
	if _, err := e.l.Post(sys(), ledger.Entry{Source: ledger.Source{Type: typ, ID: id}, EffectiveAt: at, Postings: ps}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) balance(t *testing.T, k ledger.AccountKey) int64 {
	t.Helper()
	b, err := e.l.Balance(sys(), k)
	if err != nil {
		t.Fatal(err)
	}
	return b.Minor
}

// ok fails the test on err; it takes any single value with it.
func (e *env) ok(_ any, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestRunSettlesMaturedFundsWithFeesSplitsAndFX checks every balance after
// Monday's run against figures computed by hand (docs/settlement.md):
//
//	card 100.00 USD: MDR 2.9 % + 0.30 = 3.20; channel fee 3.20; split 20 % of the MDR = 0.64
//	  pending −96.80, fees −0.64, ptr_ref +0.64, available +96.80
//	wallet 5,000 JPY: MDR 2 % + 1 % cross-border = 150; split 30
//	  pending −5,000, fees +120, ptr_ref +30 JPY, available +4,850 JPY
//	refund 25.00 USD: MDR returned ⌊320·2500/10000⌋ = 0.80; channel fee returned 0.80;
//	  split clawed back ⌊64·2500/10000⌋ = 0.16
//	  pending +24.20, fees +0.16, ptr_ref −0.16, available −24.20
//	4,850 JPY → USD at 0.0066 less 50 bp = 0.006567: 31.84995 → 31.85 USD
func TestRunSettlesMaturedFundsWithFeesSplitsAndFX(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		b, err := e.svc.Run(sys(), e.merchant, "2026-03-02")
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Lines) != 3 || b.Currency != "USD" || len(b.Conversions) != 1 {
			t.Fatalf("batch = %+v", b)
		}
		if c := b.Conversions[0]; c.From != 4850 || c.FromCurrency != "JPY" || c.To != 3185 || c.ToCurrency != "USD" {
			t.Fatalf("conversion = %+v", c)
		}
		want := map[ledger.AccountKey]int64{
			ledger.MerchantAccount(e.merchant, ledger.KindPending, usd):   7000, // Monday's capture, not mature
			ledger.MerchantAccount(e.merchant, ledger.KindPending, jpy):   0,
			ledger.MerchantAccount(e.merchant, ledger.KindAvailable, usd): 9680 - 2420 + 3185,
			ledger.MerchantAccount(e.merchant, ledger.KindAvailable, jpy): 0,
			ledger.PartnerAccount("ptr_ref", usd):                         64 - 16, // the refund claws back ⌊64·2500/10000⌋
			ledger.PartnerAccount("ptr_ref", jpy):                         30,
			ledger.PlatformAccount(ledger.KindFees, usd):                  320 - 80 - 64 + 16,
			ledger.PlatformAccount(ledger.KindFees, jpy):                  120,
			ledger.PlatformAccount(ledger.KindFX, jpy):                    4850,
			ledger.PlatformAccount(ledger.KindFX, usd):                    -3185,
			ledger.ChannelAccount("cardnet", usd):                         -10000 + 2500 - 7000,
			ledger.ChannelAccount("walletpay", jpy):                       -5000,
		}
		for k, v := range want {
			if got := e.balance(t, k); got != v {
				t.Errorf("%s = %d, want %d", k, got, v)
			}
		}
		lines := map[string]settlement.Line{}
		for _, l := range b.Lines {
			lines[strings.SplitN(l.SourceKey, ":", 2)[0]+"/"+l.Currency.Code()] = l
		}
		if l := lines["capture/USD"]; l.Gross != 10000 || l.ChannelFee != 320 || l.MDR != 320 || l.Split != 64 || l.Net != 9680 {
			t.Errorf("card line = %+v", l)
		}
		if l := lines["capture/JPY"]; l.Gross != 5000 || l.ChannelFee != 0 || l.MDR != 150 || l.Split != 30 || l.Net != 4850 {
			t.Errorf("wallet line = %+v", l)
		}
		if l := lines["refund/USD"]; l.Gross != -2500 || l.ChannelFee != -80 || l.MDR != -80 || l.Split != -16 || l.Net != -2420 {
			t.Errorf("refund line = %+v", l)
		}
		e.balanced(t)

		var csv bytes.Buffer
		if err := b.WriteCSV(&csv); err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(csv.String()), "\n")
		if len(rows) != 4 || !strings.HasPrefix(rows[0], "line_id,source,payment_id,currency,gross") {
			t.Fatalf("csv = %q", csv.String())
		}

		// Running the day again returns the same batch and moves nothing.
		again, err := e.svc.Run(sys(), e.merchant, "2026-03-02")
		if err != nil || again.ID != b.ID || len(again.Lines) != 3 {
			t.Fatalf("re-run = %+v, %v", again, err)
		}
		if got := e.balance(t, ledger.MerchantAccount(e.merchant, ledger.KindAvailable, usd)); got != 10445 {
			t.Fatalf("available after re-run = %d", got)
		}

		// After settlement the merchant can convert its available funds.
		q, err := e.fx.CreateQuote(sys(), e.merchant, usd, jpy)
		if err == nil {
			_, err = e.fx.Convert(sys(), e.merchant, q.ID, money.Amount{Minor: 1000, Currency: usd}, "k1")
		}
		if err != nil {
			t.Fatalf("convert after settlement: %v", err)
		}

		// Tuesday settles Monday's capture, and only it.
		*e.now = monday.Add(24 * time.Hour)
		tue, err := e.svc.Run(sys(), e.merchant, "2026-03-03")
		if err != nil || len(tue.Lines) != 1 || tue.Lines[0].Gross != 7000 {
			t.Fatalf("tuesday = %+v, %v", tue, err)
		}

	})
}

func TestRunRefusesFutureAndUnfinishedDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		for _, day := range []string{"2026-03-03", "2026-13-01", "yesterday"} {
			if _, err := e.svc.Run(sys(), e.merchant, day); payments.ErrorCode(err) != payments.EINVALID {
				t.Errorf("Run(%s) = %v, want EINVALID", day, err)
			}
		}
		e.ok(e.svc.SetSchedule(sys(), settlement.Schedule{MerchantID: e.merchant, DelayDays: 0, Timezone: "UTC"}))
		if _, err := e.svc.Run(sys(), e.merchant, "2026-03-02"); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("T+0 run of today = %v, want EINVALID (the day is not over)", err)
		}
		if _, err := e.svc.Run(sys(), "mer_unknown", "2026-03-02"); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("unknown merchant = %v, want ENOTFOUND", err)
		}
		if got := e.balance(t, ledger.MerchantAccount(e.merchant, ledger.KindAvailable, usd)); got != 0 {
			t.Errorf("refused runs moved money: available %d", got)
		}
	})
}

func TestMaturesSkipsWeekends(t *testing.T) {
	fri := time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)
	for n, want := range map[int]string{0: "2026-02-27", 1: "2026-03-02", 2: "2026-03-03", 5: "2026-03-06"} {
		if got := settlement.Matures(fri, n).Format(time.DateOnly); got != want {
			t.Errorf("Friday T+%d = %s, want %s", n, got, want)
		}
	}
}

// TestRunDueRunsEachMerchantOnceAcrossReplicas runs two schedulers (two
// replicas' services on one database) at once: exactly one claims the
// merchant's run, which settles Monday, and the next run waits for
// Tuesday's midnight.
func TestRunDueRunsEachMerchantOnceAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		clock := func() time.Time { return *e.now }
		other := settlement.NewService(db.Client, e.l, settlement.Config{FX: e.fx, Now: clock})
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var wg sync.WaitGroup
		runs := make([]int, 2)
		errs := make([]error, 2)
		for i, svc := range []*settlement.Service{e.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i], errs[i] = svc.RunDue(sys(), settlement.DefaultLease, log)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || runs[0]+runs[1] != 1 {
			t.Fatalf("runs = %v, errors = %v; want exactly one run", runs, errs)
		}
		b, err := e.svc.Batch(sys(), db.Client.SettlementBatch.Query().OnlyX(sys()).ID)
		if err != nil || b.BusinessDate != "2026-03-02" || len(b.Lines) != 3 {
			t.Fatalf("scheduled batch = %+v, %v", b, err)
		}
		if n, err := e.svc.RunDue(sys(), settlement.DefaultLease, log); n != 0 || err != nil {
			t.Fatalf("second pass the same day = %d, %v", n, err)
		}
		*e.now = time.Date(2026, 3, 3, 0, 0, 1, 0, time.UTC)
		if n, err := e.svc.RunDue(sys(), settlement.DefaultLease, log); n != 1 || err != nil {
			t.Fatalf("Tuesday pass = %d, %v", n, err)
		}
		if n := db.Client.SettlementBatch.Query().CountX(sys()); n != 2 {
			t.Fatalf("%d batches, want 2", n)
		}
	})
}

// TestRollingReserveHeldThenReleased: docs/settlement.md's example with a
// 10 % reserve held 3 days. Monday holds 10 % of each currency's net before
// the conversion; Thursday's run releases Monday's hold and holds 10 % of
// Thursday's own (Monday morning's capture, matured Tuesday):
//
//	Monday: USD net 72.60 → hold 7.26; JPY net 4,850 → hold 485, convert
//	  4,365 at 0.006567 = 28.664955 → 28.66; available 72.60 − 7.26 + 28.66
//	Thursday: 70.00 card capture, MDR 2.03 + 0.30 → net 67.67, hold 6.76;
//	  Monday's 7.26 USD and 485 JPY released
func TestRollingReserveHeldThenReleased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		e.ok(e.svc.SetSchedule(sys(), settlement.Schedule{MerchantID: e.merchant, DelayDays: 1, Timezone: "UTC", ReserveBps: 1000, ReserveDays: 3}))
		b, err := e.svc.Run(sys(), e.merchant, "2026-03-02")
		if err != nil {
			t.Fatal(err)
		}
		if b.ReserveHeld["USD"] != 726 || b.ReserveHeld["JPY"] != 485 || b.ReserveReleaseOn != "2026-03-05" || b.Conversions[0].To != 2866 {
			t.Fatalf("Monday's batch %+v", b)
		}
		check := func(when string, want map[ledger.AccountKey]int64) {
			t.Helper()
			for k, v := range want {
				if got := e.balance(t, k); got != v {
					t.Errorf("%s: %s = %d, want %d", when, k, got, v)
				}
			}
		}
		av, rs := ledger.KindAvailable, ledger.KindReserve
		m := func(k ledger.Kind, c money.Currency) ledger.AccountKey {
			return ledger.MerchantAccount(e.merchant, k, c)
		}
		check("Monday", map[ledger.AccountKey]int64{m(av, usd): 7260 - 726 + 2866, m(rs, usd): 726, m(av, jpy): 0, m(rs, jpy): 485})

		*e.now = monday.AddDate(0, 0, 3)
		b, err = e.svc.Run(sys(), e.merchant, "2026-03-05")
		if err != nil {
			t.Fatal(err)
		}
		if b.ReserveHeld["USD"] != 676 || b.ReserveReleased["USD"] != 726 || b.ReserveReleased["JPY"] != 485 {
			t.Fatalf("Thursday's batch %+v", b)
		}
		thursday := map[ledger.AccountKey]int64{m(av, usd): 7260 - 726 + 2866 + 6767 - 676 + 726, m(rs, usd): 676, m(av, jpy): 485, m(rs, jpy): 0}
		check("Thursday", thursday)
		// Running the day again, or a later day, releases nothing twice.
		e.ok(e.svc.Run(sys(), e.merchant, "2026-03-05"))
		*e.now = monday.AddDate(0, 0, 4)
		e.ok(e.svc.Run(sys(), e.merchant, "2026-03-06"))
		check("again", thursday)
	})
}

// TestChangeScheduleKeepsTheReserveLeftOut: a change that leaves the
// reserve out keeps the merchant's current one; one that names it sets it.
func TestChangeScheduleKeepsTheReserveLeftOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		e.ok(e.svc.SetSchedule(sys(), settlement.Schedule{MerchantID: e.merchant, DelayDays: 1, Timezone: "UTC", ReserveBps: 1000, ReserveDays: 3}))
		sc, err := e.svc.ChangeSchedule(sys(), settlement.ScheduleChange{MerchantID: e.merchant, DelayDays: 2, Timezone: "Asia/Singapore"})
		if err != nil || sc.DelayDays != 2 || sc.Timezone != "Asia/Singapore" || sc.ReserveBps != 1000 || sc.ReserveDays != 3 {
			t.Fatalf("reserve left out: %+v, %v", sc, err)
		}
		zero := 0
		sc, err = e.svc.ChangeSchedule(sys(), settlement.ScheduleChange{MerchantID: e.merchant, DelayDays: 2, Timezone: "UTC", ReserveBps: &zero})
		if err != nil || sc.ReserveBps != 0 || sc.ReserveDays != 3 {
			t.Fatalf("reserve named: %+v, %v", sc, err)
		}
	})
}
