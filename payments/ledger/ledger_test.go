package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

var (
	usd = money.MustCurrency("USD")
	jpy = money.MustCurrency("JPY")
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func sys() context.Context { return viewer.SystemContext(context.Background()) }

func merchantCtx(id string) context.Context {
	return viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_1", MerchantID: id, Role: viewer.RoleAdmin})
}

type env struct {
	db *store.DB
	l  *ledger.Ledger
}

// each runs fn on SQLite, and on MySQL when STRAIT_TEST_MYSQL_DSN is set.
func each(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: func() time.Time { return t0 }})
		t.Cleanup(l.Close)
		fn(t, env{db: db, l: l})
	})
}

func amt(minor int64, c money.Currency) money.Amount { return money.Amount{Minor: minor, Currency: c} }

func captureEntry(id string, amount, fee int64) ledger.Entry {
	return ledger.Entry{
		Source:      ledger.Source{Type: ledger.SourceCapture, ID: id},
		Description: "capture " + id,
		EffectiveAt: t0,
		Postings: []ledger.Posting{
			{Account: ledger.ChannelAccount("cardnet", usd), Amount: amt(-amount, usd)},
			{Account: ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd), Amount: amt(amount-fee, usd)},
			{Account: ledger.PlatformAccount(ledger.KindFees, usd), Amount: amt(fee, usd)},
		},
	}
}

func payout(id, merchant string, amount int64) ledger.Entry {
	return ledger.Entry{
		Source:      ledger.Source{Type: ledger.SourcePayout, ID: id},
		EffectiveAt: t0,
		Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount(merchant, ledger.KindAvailable, usd), Amount: amt(-amount, usd)},
			{Account: ledger.ChannelAccount("bank", usd), Amount: amt(amount, usd)},
		},
	}
}

func mustPost(t *testing.T, l *ledger.Ledger, e ledger.Entry) ledger.Posted {
	t.Helper()
	p, err := l.Post(sys(), e)
	if err != nil {
		t.Fatalf("post %s: %v", e.Source, err)
	}
	return p
}

func balance(t *testing.T, l *ledger.Ledger, k ledger.AccountKey) int64 {
	t.Helper()
	b, err := l.Balance(sys(), k)
	if err != nil {
		t.Fatalf("balance of %s: %v", k, err)
	}
	return b.Minor
}

// checkBooks asserts the ledger's invariants: every currency nets to zero over
// balances and over postings, and every balance equals its postings.
func checkBooks(t *testing.T, l *ledger.Ledger) []ledger.TrialBalanceLine {
	t.Helper()
	lines, err := l.TrialBalance(sys())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		if !line.Net.IsZero() || !line.PostingsNet.IsZero() {
			t.Errorf("%s does not balance: net %s, postings net %s", line.Currency, line.Net, line.PostingsNet)
		}
	}
	bad, err := l.Verify(sys())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bad {
		t.Errorf("account %s: balance %d, postings sum %d, version %d, postings %d", d.AccountID, d.Balance, d.PostingsSum, d.Version, d.Postings)
	}
	return lines
}

func countEntries(t *testing.T, c *ent.Client) int {
	t.Helper()
	n, err := c.JournalEntry.Query().Count(sys())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostMovesBalancesAndRecordsPostings(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		p := mustPost(t, e.l, captureEntry("pay_1", 10000, 320))
		if p.Replayed || p.EntryID == "" {
			t.Fatalf("posted = %+v", p)
		}
		if got := balance(t, e.l, ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd)); got != 9680 {
			t.Errorf("merchant available = %d, want 9680", got)
		}
		if got := balance(t, e.l, ledger.ChannelAccount("cardnet", usd)); got != -10000 {
			t.Errorf("receivable = %d, want -10000", got)
		}
		entries, err := e.l.EntriesBySource(sys(), ledger.SourceCapture, "pay_1")
		if err != nil || len(entries) != 1 || len(entries[0].Edges.Postings) != 3 {
			t.Fatalf("entries = %v, %v", entries, err)
		}
		lines := checkBooks(t, e.l)
		if len(lines) != 1 || lines[0].Credits.Minor != 10000 || lines[0].Debits.Minor != 10000 || lines[0].Accounts != 3 {
			t.Errorf("trial balance = %+v", lines)
		}
	})
}

func TestPostIsExactlyOncePerSource(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		first := mustPost(t, e.l, captureEntry("pay_1", 10000, 320))

		// The same postings in another order, described differently: a replay.
		again := captureEntry("pay_1", 10000, 320)
		again.Postings[0], again.Postings[2] = again.Postings[2], again.Postings[0]
		again.Description = "retried"
		p := mustPost(t, e.l, again)
		if !p.Replayed || p.EntryID != first.EntryID {
			t.Errorf("replay = %+v, want replay of %s", p, first.EntryID)
		}

		// Different postings under the same source: a conflict.
		_, err := e.l.Post(sys(), captureEntry("pay_1", 10000, 300))
		if payments.ErrorCode(err) != payments.ECONFLICT {
			t.Errorf("repost with different postings: err = %v, want ECONFLICT", err)
		}
		if got := balance(t, e.l, ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd)); got != 9680 {
			t.Errorf("merchant available = %d after replays, want 9680", got)
		}
		if n := countEntries(t, e.db.Client); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
		checkBooks(t, e.l)
	})
}

func TestBadEntriesLeaveTheLedgerUntouched(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		mustPost(t, e.l, captureEntry("pay_1", 1000, 30))
		unbalanced := captureEntry("pay_2", 1000, 30)
		unbalanced.Postings[2].Amount.Minor = 31
		wrongCurrency := captureEntry("pay_3", 1000, 30)
		wrongCurrency.Postings[1].Amount.Currency = jpy
		tests := []struct {
			name  string
			entry ledger.Entry
			code  string
		}{
			{"unbalanced", unbalanced, payments.EINVALID},
			{"posting currency differs from its account's", wrongCurrency, payments.EINVALID},
			{"overdraft of a merchant account", payout("po_1", "mer_a", 971), payments.ECONFLICT},
			{"payout from a merchant with no money", payout("po_2", "mer_b", 1), payments.ECONFLICT},
			{"repost of a source with different postings", captureEntry("pay_1", 1000, 31), payments.ECONFLICT},
		}
		for _, tt := range tests {
			if _, err := e.l.Post(sys(), tt.entry); payments.ErrorCode(err) != tt.code {
				t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
			}
		}
		if n := countEntries(t, e.db.Client); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
		if got := balance(t, e.l, ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd)); got != 970 {
			t.Errorf("merchant available = %d, want 970", got)
		}
		// Paying out exactly what is there is fine.
		mustPost(t, e.l, payout("po_3", "mer_a", 970))
		checkBooks(t, e.l)
	})
}

func TestBalanceAsOfCountsEntriesEffectiveByThen(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		avail := ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd)
		for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
			c := captureEntry(fmt.Sprintf("pay_%d", i), 1000, 0)
			c.Postings = c.Postings[:2]
			c.EffectiveAt = at
			mustPost(t, e.l, c)
		}
		tests := []struct {
			at   time.Time
			want int64
		}{
			{t0.Add(-time.Nanosecond), 0},
			{t0, 1000},
			{t0.Add(90 * time.Minute), 2000},
			{t0.Add(24 * time.Hour), 3000},
		}
		for _, tt := range tests {
			got, err := e.l.BalanceAsOf(sys(), avail, tt.at)
			if err != nil || got.Minor != tt.want {
				t.Errorf("as of %s: %v, %v; want %d", tt.at.Format(time.TimeOnly), got, err, tt.want)
			}
		}
	})
}

func TestStatementPagesNewestFirstWithRunningBalance(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		for i := range 5 {
			mustPost(t, e.l, captureEntry(fmt.Sprintf("pay_%d", i), 1000, 100))
		}
		acc, err := e.l.FindAccount(sys(), ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd))
		if err != nil {
			t.Fatal(err)
		}
		var seqs, balances []int64
		var after *ent.Cursor
		for {
			two := 2
			page, err := e.l.Statement(merchantCtx("mer_a"), acc.ID, after, &two)
			if err != nil {
				t.Fatal(err)
			}
			for _, edge := range page.Edges {
				seqs = append(seqs, edge.Node.Seq)
				balances = append(balances, edge.Node.BalanceAfter)
			}
			if !page.PageInfo.HasNextPage {
				break
			}
			after = page.PageInfo.EndCursor
		}
		if fmt.Sprint(seqs) != "[5 4 3 2 1]" || fmt.Sprint(balances) != "[4500 3600 2700 1800 900]" {
			t.Errorf("statement seqs %v balances %v", seqs, balances)
		}
		if _, err := e.l.Statement(merchantCtx("mer_b"), acc.ID, nil, nil); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("another merchant's statement: err = %v, want ENOTFOUND", err)
		}
	})
}

func TestPostingsAndEntriesAreAppendOnly(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		mustPost(t, e.l, captureEntry("pay_1", 1000, 30))
		p := e.db.Client.Posting.Query().FirstX(sys())
		if err := e.db.Client.Posting.UpdateOneID(p.ID).Exec(sys()); err == nil {
			t.Error("a posting was updated")
		}
		if err := e.db.Client.Posting.DeleteOneID(p.ID).Exec(sys()); err == nil {
			t.Error("a posting was deleted")
		}
		if _, err := e.db.Client.JournalEntry.Delete().Exec(sys()); err == nil {
			t.Error("journal entries were deleted")
		}
		if err := e.db.Client.LedgerAccount.Update().SetBalance(1).Exec(merchantCtx("mer_a")); err == nil {
			t.Error("a merchant changed a balance")
		}
		checkBooks(t, e.l)
	})
}

func TestMerchantsSeeOnlyTheirOwnAccounts(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		mustPost(t, e.l, captureEntry("pay_1", 1000, 30))
		mine, err := e.l.MerchantBalances(merchantCtx("mer_a"), "mer_a")
		if err != nil || len(mine) != 1 || mine[0].Available.Minor != 970 || mine[0].Pending.Minor != 0 {
			t.Fatalf("own balances = %+v, %v", mine, err)
		}
		theirs, err := e.l.MerchantBalances(merchantCtx("mer_b"), "mer_a")
		if err != nil || len(theirs) != 0 {
			t.Errorf("mer_b sees mer_a's balances: %+v, %v", theirs, err)
		}
		if _, err := e.l.Balance(merchantCtx("mer_b"), ledger.PlatformAccount(ledger.KindFees, usd)); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("merchant reads platform fees: err = %v, want ENOTFOUND", err)
		}
		// A merchant reads the entries it has a posting in, with its own
		// postings only; another merchant reads none of them.
		own, err := e.l.EntriesBySource(merchantCtx("mer_a"), ledger.SourceCapture, "pay_1")
		if err != nil || len(own) != 1 || len(own[0].Edges.Postings) != 1 || own[0].Edges.Postings[0].Amount != 970 {
			t.Errorf("mer_a's own entry: %+v, %v", own, err)
		}
		if other, err := e.l.EntriesBySource(merchantCtx("mer_b"), ledger.SourceCapture, "pay_1"); err != nil || len(other) != 0 {
			t.Errorf("mer_b reads mer_a's entry: %+v, %v", other, err)
		}
		if all, err := e.l.EntriesBySource(sys(), ledger.SourceCapture, "pay_1"); err != nil || len(all) != 1 || len(all[0].Edges.Postings) != 3 {
			t.Errorf("Strait itself: %+v, %v", all, err)
		}
	})
}
