package recon_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/recon"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

var usd = money.MustCurrency("USD")

func sys() context.Context { return viewer.SystemContext(context.Background()) }

// channel is a connector whose settlement report is lines; it pages them
// unless whole is set (a connector built before paging).
type channel struct {
	connectors.Unimplemented
	lines []connectors.SettlementLine
	whole bool
	calls int
}

func (c *channel) FetchSettlementReport(_ context.Context, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	c.calls++
	out := connectors.SettlementReport{Result: connectors.Approved(), Date: r.Date}
	if c.whole || r.PageSize == 0 {
		out.Lines = c.lines
		return out, nil
	}
	from, _ := strconv.Atoi(r.PageToken)
	to := min(from+r.PageSize, len(c.lines))
	out.Lines = c.lines[from:to]
	if to < len(c.lines) {
		out.NextPageToken = strconv.Itoa(to)
	}
	return out, nil
}

type host map[string]connectors.Connector

func (h host) Get(name string) (connectors.Connector, bool) { c, ok := h[name]; return c, ok }
func (h host) List() []connectors.Status {
	var out []connectors.Status
	for n := range h {
		out = append(out, connectors.Status{Name: n, Health: connectors.HealthUp,
			Capabilities: []connectors.Capability{connectors.CapSettlementReport, connectors.CapSettlementReportPages}})
	}
	return out
}

func line(typ, payID, ref, txID string, gross, fee, net int64, cur string) connectors.SettlementLine {
	return connectors.SettlementLine{Type: typ, PaymentID: payID, Reference: ref, TransactionID: txID,
		Gross: connectors.NewMoney(gross, cur), Fee: connectors.NewMoney(fee, cur), Net: connectors.NewMoney(net, cur)}
}

type env struct {
	t        *testing.T
	db       *store.DB
	l        *ledger.Ledger
	merchant string
	day      time.Time
	pays     []*ent.Payment
	atts     []*ent.PaymentAttempt
	refund   *ent.Refund
}

// setup records seven card captures of 10.00 + i USD through "cardnet"
// (channel fee 30 + i cents), booked on the day as the payment core books
// them (channel −gross, merchant pending +(gross − fee), fees +fee), and a
// refund of 2.00 USD of the first.
func setup(t *testing.T, db *store.DB) *env {
	e := &env{t: t, db: db, day: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	e.l = ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	t.Cleanup(e.l.Close)
	m := db.Client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").SaveX(sys())
	e.merchant = m.ID
	for i := range 7 {
		gross, fee := int64(1000+100*i), int64(30+i)
		p := db.Client.Payment.Create().SetMerchantID(m.ID).SetAmount(gross).SetCurrency("USD").SetAmountCaptured(gross).
			SetFeeAmount(fee).SetStatus(paymentstatus.Succeeded).SetPaymentMethodType("card").SetConnector("cardnet").SaveX(sys())
		a := db.Client.PaymentAttempt.Create().SetMerchantID(m.ID).SetPaymentID(p.ID).SetConnector("cardnet").
			SetAmount(gross).SetCurrency("USD").SetStatus(attemptstatus.Captured).SetChannelIdempotencyKey("k" + p.ID).
			SetConnectorReference("cp_" + strconv.Itoa(i)).SaveX(sys())
		e.pays, e.atts = append(e.pays, p), append(e.atts, a)
		e.post(ledger.SourceCapture, p.ID, gross, fee)
	}
	e.refund = db.Client.Refund.Create().SetMerchantID(m.ID).SetPaymentID(e.pays[0].ID).SetAmount(200).SetCurrency("USD").
		SetStatus("SUCCEEDED").SetConnectorReference("rf_0").SaveX(sys())
	e.post(ledger.SourceRefund, e.refund.ID, -200, 0)
	return e
}

func (e *env) post(typ, id string, gross, fee int64) {
	e.t.Helper()
	ps := []ledger.Posting{
		{Account: ledger.ChannelAccount("cardnet", usd), Amount: money.Amount{Minor: -gross, Currency: usd}},
		{Account: ledger.MerchantAccount(e.merchant, ledger.KindPending, usd), Amount: money.Amount{Minor: gross - fee, Currency: usd}},
	}
	if fee != 0 {
		ps = append(ps, ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, usd), Amount: money.Amount{Minor: fee, Currency: usd}})
	}
	if _, err := e.l.Post(sys(), ledger.Entry{Source: ledger.Source{Type: typ, ID: id}, EffectiveAt: e.day.Add(10 * time.Hour), Postings: ps}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(k ledger.AccountKey) int64 {
	e.t.Helper()
	b, err := e.l.Balance(sys(), k)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Minor
}

// report is the channel's side of setup's day, with one line of each
// fault: capture 0 and 1 as booked, 2 with a gross 1 cent higher, 3 in
// EUR, 4 with a fee 1 cent higher, 5 as booked and listed twice, 6 left
// out; the refund as booked; a capture Strait never made; and a line whose
// net is not gross − fee.
func (e *env) report() []connectors.SettlementLine {
	c := func(i int, gross, fee int64, cur string) connectors.SettlementLine {
		return line("capture", "cp_"+strconv.Itoa(i), e.atts[i].ID, "cap_"+strconv.Itoa(i), gross, fee, gross-fee, cur)
	}
	return []connectors.SettlementLine{
		c(0, 1000, 30, "USD"),
		c(1, 1100, 31, "USD"),
		c(2, 1201, 32, "USD"),
		c(3, 1300, 33, "EUR"),
		c(4, 1400, 35, "USD"),
		c(5, 1500, 35, "USD"),
		line("refund", "cp_0", e.atts[0].ID, "rf_0", -200, 0, -200, "USD"),
		line("capture", "cp_unknown", "att_unknown", "cap_unknown", 999, 9, 990, "USD"),
		c(5, 1500, 35, "USD"),
		line("capture", "", "", "", 500, 10, 400, "USD"),
	}
}

func recons(t *testing.T, db *store.DB) int {
	t.Helper()
	n, err := db.Client.JournalEntry.Query().Where(journalentry.SourceTypeIn(recon.SourceRecon, recon.SourceAdjustment)).Count(sys())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReconcileClassifiesEveryLineAndPostsTheMatched streams the report in
// pages of three: every fault is found once, the matched lines (captures
// 0, 1 and 5, and the refund) move from the channel's receivable into the
// platform's cash, the channel's fees leave the fee account, and a second
// run of the day, this time by a connector that does not page, changes
// nothing.
func TestReconcileClassifiesEveryLineAndPostsTheMatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ch := &channel{lines: e.report()}
		now := e.day.Add(30 * time.Hour)
		svc := recon.NewService(recon.Config{Client: db.Client, Ledger: e.l, Connectors: host{"cardnet": ch}, PageSize: 3,
			Now: func() time.Time { return now }})
		receivable, fees := e.balance(ledger.ChannelAccount("cardnet", usd)), e.balance(ledger.PlatformAccount(ledger.KindFees, usd))

		run, err := svc.Reconcile(sys(), "cardnet", "2026-03-02")
		if err != nil {
			t.Fatal(err)
		}
		want := map[recon.Class]int64{recon.Matched: 4, recon.MissingOurs: 1, recon.MissingTheirs: 1, recon.AmountMismatch: 1,
			recon.CurrencyMismatch: 1, recon.FeeMismatch: 1, recon.Duplicate: 1, recon.Malformed: 1}
		check := func(run *recon.Run) {
			t.Helper()
			if run.Status != "SUCCEEDED" || run.LinesRead != 10 {
				t.Fatalf("run %+v", run)
			}
			for c, n := range want {
				if run.Counts[c] != n {
					t.Errorf("%s: %d lines, want %d (%v)", c, run.Counts[c], n, run.Counts)
				}
			}
		}
		check(run)
		if ch.calls != 4 {
			t.Errorf("%d pages fetched for 10 lines in pages of 3, want 4", ch.calls)
		}
		// Matched: captures 0 (1000, fee 30), 1 (1100, 31), 5 (1500, 35)
		// and the refund (−200): gross 3400, fee 96, net 3304.
		if got := e.balance(ledger.CashAccount(usd)); got != -3304 {
			t.Errorf("cash %d, want −3304", got)
		}
		if got := e.balance(ledger.ChannelAccount("cardnet", usd)) - receivable; got != 3400 {
			t.Errorf("receivable moved by %d, want +3400", got)
		}
		if got := e.balance(ledger.PlatformAccount(ledger.KindFees, usd)) - fees; got != -96 {
			t.Errorf("fees moved by %d, want −96", got)
		}
		ds, err := svc.Discrepancies(sys(), recon.Filter{RunID: run.ID}, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		byKind := map[recon.Class]*recon.Discrepancy{}
		for _, d := range ds {
			if byKind[d.Kind] != nil {
				t.Errorf("two %s discrepancies", d.Kind)
			}
			byKind[d.Kind] = d
		}
		if len(ds) != 7 {
			t.Fatalf("%d discrepancies, want 7: %+v", len(ds), ds)
		}
		if d := byKind[recon.MissingTheirs]; d == nil || d.OurID != e.pays[6].ID || d.ExpectedGross.Minor != 1600 {
			t.Errorf("missing on theirs: %+v", d)
		}
		if d := byKind[recon.AmountMismatch]; d == nil || d.OurID != e.pays[2].ID || d.ExpectedGross.Minor != 1200 || d.ReportedGross.Minor != 1201 {
			t.Errorf("amount mismatch: %+v", d)
		}
		if d := byKind[recon.Duplicate]; d == nil || *d.LineNo != 8 || d.LineKey != "capture:cap_5" {
			t.Errorf("duplicate: %+v", d)
		}
		if d := byKind[recon.Malformed]; d == nil || *d.LineNo != 9 || d.ReportedGross != nil {
			t.Errorf("malformed: %+v", d)
		}
		entries := recons(t, db)
		if entries != 3 {
			t.Errorf("%d recon entries, want 3 (pages 1, 2 and 3 hold matched lines)", entries)
		}

		// Again, whole: nothing new.
		old := recon.NewService(recon.Config{Client: db.Client, Ledger: e.l, Connectors: host{"cardnet": &channel{lines: e.report(), whole: true}},
			PageSize: 3, Now: func() time.Time { return now.Add(time.Hour) }})
		again, err := old.Reconcile(sys(), "cardnet", "2026-03-02")
		if err != nil {
			t.Fatal(err)
		}
		check(again)
		if again.ID != run.ID || recons(t, db) != entries || e.balance(ledger.CashAccount(usd)) != -3304 {
			t.Errorf("the re-run moved money: run %s, %d entries", again.ID, recons(t, db))
		}
		if ds2, _ := svc.Discrepancies(sys(), recon.Filter{RunID: run.ID}, 100, ""); len(ds2) != 7 {
			t.Errorf("%d discrepancies after the re-run", len(ds2))
		}

		// Resolve the amount mismatch: the channel paid a cent more than it
		// owed; the operator books the cent to suspense.
		d := byKind[recon.AmountMismatch]
		adj := money.Amount{Minor: -1, Currency: usd}
		if _, err := svc.Resolve(sys(), d.ID, " ", &adj); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("no reason: %v", err)
		}
		before := e.balance(ledger.ChannelAccount("cardnet", usd))
		got, err := svc.Resolve(sys(), d.ID, "channel overpaid by a cent", &adj)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "RESOLVED" || got.AdjustmentEntryID == "" {
			t.Fatalf("resolved: %+v", got)
		}
		if e.balance(ledger.ChannelAccount("cardnet", usd))-before != -1 || e.balance(ledger.PlatformAccount(ledger.KindSuspense, usd)) != 1 {
			t.Error("the adjustment did not move receivable −1 and suspense +1")
		}
		if _, err := svc.Resolve(sys(), d.ID, "channel overpaid by a cent", &adj); err != nil {
			t.Errorf("the same resolution again: %v", err)
		}
		if _, err := svc.Resolve(sys(), d.ID, "another reason", nil); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Errorf("another resolution: %v", err)
		}
		if recons(t, db) != entries+1 {
			t.Errorf("%d entries, want %d", recons(t, db), entries+1)
		}
		// A re-run keeps the resolution.
		if _, err := svc.Reconcile(sys(), "cardnet", "2026-03-02"); err != nil {
			t.Fatal(err)
		}
		if open, _ := svc.Discrepancies(sys(), recon.Filter{RunID: run.ID, Status: "OPEN"}, 100, ""); len(open) != 6 {
			t.Errorf("%d open after a re-run, want 6", len(open))
		}
		if problems, err := e.l.Verify(sys()); err != nil || len(problems) > 0 {
			t.Fatalf("ledger: %v %v", problems, err)
		}
	})
}

// TestReconcileRefusesBadInput: a day that is not a date or is in the
// future, and an unknown connector.
func TestReconcileRefusesBadInput(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	t.Cleanup(l.Close)
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	svc := recon.NewService(recon.Config{Client: db.Client, Ledger: l, Connectors: host{"cardnet": &channel{}}, Now: func() time.Time { return now }})
	for _, c := range []struct{ conn, day, code, field string }{
		{"cardnet", "2026-3-1", payments.EINVALID, "day"},
		{"cardnet", "2026-03-03", payments.EINVALID, "day"},
		{"nope", "2026-03-01", payments.ENOTFOUND, "connector"},
	} {
		_, err := svc.Reconcile(sys(), c.conn, c.day)
		if payments.ErrorCode(err) != c.code || payments.ErrorField(err) != c.field {
			t.Errorf("%s %s: %v", c.conn, c.day, err)
		}
	}
	run, err := svc.Reconcile(sys(), "cardnet", "2026-03-02")
	if err != nil || run.Status != "SUCCEEDED" || run.LinesRead != 0 {
		t.Fatalf("an empty day: %+v %v", run, err)
	}
}

// TestRunDueReconcilesYesterdayOnce: the scheduler's pass reconciles
// yesterday (UTC) for each connector that is up and fetches reports, and a
// later pass finds the day done and fetches nothing.
func TestRunDueReconcilesYesterdayOnce(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	e := setup(t, db)
	ch := &channel{lines: e.report()}
	now := e.day.Add(30 * time.Hour) // the next day, 06:00 UTC
	svc := recon.NewService(recon.Config{Client: db.Client, Ledger: e.l, Connectors: host{"cardnet": ch},
		Now: func() time.Time { return now }})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if n := svc.RunDue(sys(), log); n != 1 {
		t.Fatalf("first pass: %d runs", n)
	}
	runs, err := svc.Runs(sys(), "cardnet", 10)
	if err != nil || len(runs) != 1 || runs[0].BusinessDate != "2026-03-02" || runs[0].Counts[recon.Matched] != 4 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	calls := ch.calls
	if n := svc.RunDue(sys(), log); n != 0 || ch.calls != calls {
		t.Fatalf("second pass: %d runs, %d more fetches", n, ch.calls-calls)
	}
}
