package recon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/discrepancy"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/payments/recon"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// TestReconcileMatchesPayoutsAndFindsWhatTheReportLacks: a bank's report
// of a day with a paid payout, one verification deposit of an account and
// a chargeback. They match (the payout by the bank's id, the deposit by the
// account and its amount, the chargeback by the network's id) and post
// from the receivable into cash; what the report lacks is missing on
// theirs: the account's other deposit (booked on the receivable), a payout
// the bank took that day, a chargeback held that day. A payout the bank
// declined at once, one sent another day and another connector's
// chargeback are not looked for. The day again changes nothing.
func TestReconcileMatchesPayoutsAndFindsWhatTheReportLacks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		at := day.Add(10 * time.Hour)
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
		t.Cleanup(l.Close)
		m := db.Client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").SaveX(sys())
		post := func(typ, id, ref string, ps ...ledger.Posting) {
			t.Helper()
			e := ledger.Entry{Source: ledger.Source{Type: typ, ID: id}, Reference: ref, EffectiveAt: at, Postings: ps}
			if err := l.Prepare(sys(), e); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Post(sys(), e); err != nil {
				t.Fatal(err)
			}
		}
		amt := func(v int64) money.Amount { return money.Amount{Minor: v, Currency: usd} }
		bank := ledger.ChannelAccount("bank", usd)
		available := ledger.MerchantAccount(m.ID, ledger.KindAvailable, usd)
		post("fund", "fund", "", ledger.Posting{Account: available, Amount: amt(100000)},
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindSuspense, usd), Amount: amt(-100000)})

		acc := db.Client.BankAccount.Create().SetMerchantID(m.ID).SetCountry("US").SetCurrency("USD").SetHolderName("Acme").
			SetNumber("12345678").SetRouting("021000021").SetLast4("5678").SetFingerprint(strings.Repeat("f", 64)).
			SetConnector("bank").SetDeposits([]int64{12, 34}).SaveX(sys())
		for i, d := range acc.Deposits {
			post(ledger.SourcePayout, payouts.DepositRef(acc.ID, i), acc.ID,
				ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, usd), Amount: amt(-d)}, ledger.Posting{Account: bank, Amount: amt(d)})
		}
		payout := func(amount int64, status payoutstatus.Status, ref string, sent time.Time) *ent.Payout {
			p := db.Client.Payout.Create().SetMerchantID(m.ID).SetBankAccountID(acc.ID).SetAmount(amount).SetCurrency("USD").
				SetSourceAmount(amount).SetSourceCurrency("USD").SetConnector("bank").SetStatus(status).SetConnectorReference(ref).
				SetSendAt(sent).SetSubmittedAt(sent).SaveX(sys())
			post(ledger.SourcePayout, p.ID, "", ledger.Posting{Account: available, Amount: amt(-amount)},
				ledger.Posting{Account: ledger.MerchantAccount(m.ID, ledger.KindInTransit, usd), Amount: amt(amount)})
			return p
		}
		paid := payout(5000, payoutstatus.Paid, "bpo_1", at)
		post(ledger.SourcePayout, paid.ID+"/paid", "", ledger.Posting{Account: ledger.MerchantAccount(m.ID, ledger.KindInTransit, usd), Amount: amt(-5000)},
			ledger.Posting{Account: bank, Amount: amt(5000)})
		inTransit := payout(700, payoutstatus.InTransit, "bpo_2", at)
		payout(800, payoutstatus.Failed, "", at)                            // declined at once: never the bank's
		payout(900, payoutstatus.InTransit, "bpo_4", day.Add(-2*time.Hour)) // sent the day before
		charged := db.Client.Payment.Create().SetMerchantID(m.ID).SetAmount(10000).SetCurrency("USD").SetAmountCaptured(10000).
			SetStatus(paymentstatus.Succeeded).SetPaymentMethodType("card").SetConnector("bank").SaveX(sys())
		dispute := func(connector, network string, amount int64) *ent.Dispute {
			d := db.Client.Dispute.Create().SetMerchantID(m.ID).SetPaymentID(charged.ID).SetConnector(connector).SetNetworkDisputeID(network).
				SetState("NEEDS_RESPONSE").SetStage("CHARGEBACK").SetReason("FRAUD").SetAmount(amount).SetCurrency("USD").SetFee(1500).SaveX(sys())
			post(ledger.SourceDispute, d.ID+"/hold", d.ID, ledger.Posting{Account: available, Amount: amt(-amount - 1500)},
				ledger.Posting{Account: ledger.MerchantAccount(m.ID, ledger.KindDisputeHold, usd), Amount: amt(amount + 1500)})
			return d
		}
		dispute("bank", "dp_1", 2000)
		lacking := dispute("bank", "dp_2", 3000)
		dispute("cardnet", "dp_3", 4000)

		ch := &channel{lines: []connectors.SettlementLine{
			line("payout", "bpo_1", paid.ID, "bpo_1", -5000, 500, -5500, "USD"),
			line("payout", "bpo_9", acc.ID, "bpo_9", -12, 500, -512, "USD"),
			line("chargeback", "cp_1", "pay_x", "dp_1", -2000, 1500, -3500, "USD"),
		}}
		svc := recon.NewService(recon.Config{Client: db.Client, Ledger: l, Connectors: host{"bank": ch}, PageSize: 2,
			Now: func() time.Time { return day.Add(30 * time.Hour) }})
		cash := ledger.CashAccount(usd)
		before := [3]int64{balance(t, l, bank), balance(t, l, cash), balance(t, l, ledger.PlatformAccount(ledger.KindFees, usd))}
		for range 2 {
			run, err := svc.Reconcile(sys(), "bank", "2026-03-02")
			if err != nil {
				t.Fatal(err)
			}
			if run.Counts[recon.Matched] != 3 || run.Counts[recon.MissingTheirs] != 3 || run.LinesRead != 3 {
				t.Fatalf("run %+v", run)
			}
			ds := db.Client.Discrepancy.Query().Where(discrepancy.RunID(run.ID)).AllX(sys())
			got := map[string]bool{}
			for _, d := range ds {
				got[d.Kind+" "+d.OurType+" "+d.OurID] = true
			}
			for _, k := range []string{"missing_theirs payout " + payouts.DepositRef(acc.ID, 1), "missing_theirs payout " + inTransit.ID,
				"missing_theirs dispute " + lacking.ID} {
				if !got[k] {
					t.Errorf("no %s in %v", k, got)
				}
			}
			if len(ds) != 3 {
				t.Errorf("discrepancies %v", got)
			}
			// Receivable −5000 − 12 − (2000 + 1500); cash +5500 + 512 +
			// 3500; fees −500 − 500 (the bank's payout fees).
			after := [3]int64{balance(t, l, bank), balance(t, l, cash), balance(t, l, ledger.PlatformAccount(ledger.KindFees, usd))}
			if d := [3]int64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}; d != [3]int64{-8512, 9512, -1000} {
				t.Errorf("receivable, cash, fees moved by %v", d)
			}
		}
	})
}

func balance(t *testing.T, l *ledger.Ledger, k ledger.AccountKey) int64 {
	t.Helper()
	b, err := l.Balance(sys(), k)
	if err != nil {
		t.Fatal(err)
	}
	return b.Minor
}
