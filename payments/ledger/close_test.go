package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/privacy"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// day1 is t0's day; its close is possible from clockAfter on.
const day1 = "2025-03-01"

var (
	day1End    = time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	clockAfter = time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC)
)

// eachAt is each with a ledger whose clock reads clockAfter.
func eachAt(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: func() time.Time { return clockAfter }})
		t.Cleanup(l.Close)
		fn(t, env{db: db, l: l})
	})
}

func refundEntry(id string, amount int64, at time.Time) ledger.Entry {
	return ledger.Entry{
		Source:      ledger.Source{Type: ledger.SourceRefund, ID: id},
		EffectiveAt: at,
		Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount("mer_a", ledger.KindAvailable, usd), Amount: amt(-amount, usd)},
			{Account: ledger.ChannelAccount("cardnet", usd), Amount: amt(amount, usd)},
		},
	}
}

// TestCloseDayFreezesTheDayAndMovesLateEntries: a close freezes the day's
// trial balance and each account's statement; an entry posted later but
// effective in the closed day (by Post and by PostTx) takes effect at the
// next day's midnight and keeps the time it asked for; the frozen rows do
// not change; a second close is CONFLICT, a gap or an unfinished day
// BAD_USER_INPUT; a merchant reads only its own statement lines.
func TestCloseDayFreezesTheDayAndMovesLateEntries(t *testing.T) {
	eachAt(t, func(t *testing.T, e env) {
		before := captureEntry("pay_before", 5000, 150)
		before.EffectiveAt = t0.Add(-24 * time.Hour)
		mustPost(t, e.l, before)
		mustPost(t, e.l, captureEntry("pay_1", 10000, 290))
		other := captureEntry("pay_2", 2000, 60)
		other.Postings[1].Account = ledger.MerchantAccount("mer_b", ledger.KindAvailable, usd)
		mustPost(t, e.l, other)

		if _, err := e.l.CloseDay(sys(), "2025-03-02", "UTC"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("close of an unfinished day: %v, want EINVALID", err)
		}
		dc, err := e.l.CloseDay(sys(), day1, "UTC")
		if err != nil {
			t.Fatal(err)
		}
		if dc.Entries != 2 || dc.Accounts != 4 || !dc.Period.End.Equal(day1End) || len(dc.Balances) != 1 {
			t.Fatalf("close = %+v", dc)
		}
		tb := dc.Balances[0]
		if tb.Debits.Minor != 17000 || tb.Credits.Minor != 17000 || tb.DayDebits.Minor != 12000 || tb.DayCredits.Minor != 12000 {
			t.Fatalf("trial balance = %+v", tb)
		}
		if _, err := e.l.CloseDay(sys(), day1, "UTC"); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("second close: %v, want ECONFLICT", err)
		}
		if through, err := e.l.ClosedThrough(sys()); err != nil || !through.Equal(day1End) {
			t.Fatalf("closed through %s, %v", through, err)
		}

		// A late refund, effective in the closed day, by both paths.
		asked := t0.Add(3 * time.Hour)
		p := mustPost(t, e.l, refundEntry("ref_late", 1000, asked))
		ptx, err := postInTx(t, e, refundEntry("ref_late_tx", 500, asked))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{p.EntryID, ptx.EntryID} {
			je, err := e.db.Client.JournalEntry.Query().Where(journalentry.ID(id)).WithPostings().Only(sys())
			if err != nil {
				t.Fatal(err)
			}
			if !je.EffectiveAt.UTC().Equal(day1End) || je.OriginalEffectiveAt == nil || !je.OriginalEffectiveAt.UTC().Equal(asked) {
				t.Fatalf("late entry effective %s (asked %v), want %s keeping %s", je.EffectiveAt, je.OriginalEffectiveAt, day1End, asked)
			}
			for _, ps := range je.Edges.Postings {
				if !ps.EffectiveAt.UTC().Equal(day1End) {
					t.Fatalf("posting effective %s", ps.EffectiveAt)
				}
			}
		}
		// The replay of a moved entry is still a replay.
		if again := mustPost(t, e.l, refundEntry("ref_late", 1000, asked)); !again.Replayed || again.EntryID != p.EntryID {
			t.Fatalf("replay = %+v", again)
		}

		// The frozen day is what the ledger says of it now.
		frozen, err := e.l.FindDayClose(sys(), day1)
		if err != nil || frozen.Balances[0] != tb {
			t.Fatalf("frozen trial balance %+v, %v", frozen, err)
		}
		lines, err := e.l.DayStatement(sys(), day1)
		if err != nil || len(lines) != 4 {
			t.Fatalf("statement %+v, %v", lines, err)
		}
		for _, ln := range lines {
			now, err := e.l.BalanceAsOf(sys(), ln.AccountKey, day1End.Add(-time.Microsecond))
			if err != nil {
				t.Fatal(err)
			}
			if now != ln.Closing || ln.Opening.Minor+ln.Credits.Minor-ln.Debits.Minor != ln.Closing.Minor {
				t.Fatalf("%s: frozen %+v, ledger as of the day's end %s", ln.AccountKey, ln, now.Decimal())
			}
		}
		mine, err := e.l.DayStatement(merchantCtx("mer_a"), day1)
		if err != nil || len(mine) != 1 || mine[0].OwnerID != "mer_a" || mine[0].Opening.Minor != 4850 || mine[0].Closing.Minor != 14560 {
			t.Fatalf("merchant's statement %+v, %v", mine, err)
		}
		if _, err := e.l.FindDayClose(merchantCtx("mer_a"), day1); !errors.Is(err, privacy.Deny) {
			t.Fatalf("merchant reading the close: %v, want a privacy denial", err)
		}
		if _, err := e.l.DayStatement(merchantCtx("mer_a"), "2025-02-28"); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Fatalf("statement of an open day: %v, want ENOTFOUND", err)
		}
		checkBooks(t, e.l)
	})
}

// TestCloseRefusesAGapAndAnOpenDay: after day 1, closing day 3 leaves
// day 2 open in the middle: refused.
func TestCloseRefusesAGap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: func() time.Time { return clockAfter.AddDate(0, 0, 5) }})
		defer l.Close()
		if _, err := l.CloseDay(sys(), day1, "UTC"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.CloseDay(sys(), "2025-03-03", "UTC"); payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("gap: %v, want EINVALID", err)
		}
		dc, err := l.CloseDay(sys(), "2025-03-02", "Asia/Tokyo")
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Period.Start.Equal(day1End) || dc.Period.End.Format(time.RFC3339) != "2025-03-02T15:00:00Z" {
			t.Fatalf("period %+v", dc.Period)
		}
		all, err := l.DayCloses(sys(), 10)
		if err != nil || len(all) != 2 || all[0].Period.Day != "2025-03-02" {
			t.Fatalf("closes %+v, %v", all, err)
		}
	})
}

// TestNoEntryLandsInAClosedDayWhileClosing: posters keep posting entries
// effective late in day 1 (by Post, PostTx, and PostTxMany with the
// accounts and the mark read ahead: LockAhead) while the day closes. Each
// entry is either in the close (counted, in the frozen balances) or moved
// to day 2; what the close froze is what the ledger still says of day 1.
func TestNoEntryLandsInAClosedDayWhileClosing(t *testing.T) {
	eachAt(t, func(t *testing.T, e env) {
		mustPost(t, e.l, captureEntry("pay_seed", 1_000_000, 1))
		var stop atomic.Bool
		var posted atomic.Int64
		var wg sync.WaitGroup
		late := day1End.Add(-time.Millisecond)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					entry := refundEntry(fmt.Sprintf("ref_%d_%d", w, i), 1, late)
					var err error
					switch w % 3 {
					case 0:
						_, err = e.l.Post(sys(), entry)
					case 1:
						_, err = postInTx(t, e, entry)
					default: // the record step's way: the accounts and the mark read ahead
						_, err = postLockedAhead(t, e, entry)
					}
					if err != nil && store.IsTransient(err) {
						continue
					}
					if err != nil {
						t.Errorf("post: %v", err)
						return
					}
					posted.Add(1)
				}
			}()
		}
		for posted.Load() < 30 {
			time.Sleep(time.Millisecond)
		}
		dc, err := e.l.CloseDay(sys(), day1, "UTC")
		if err != nil {
			t.Fatal(err)
		}
		atEnd := posted.Load()
		for posted.Load() < atEnd+30 && !t.Failed() {
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()

		inDay, err := e.db.Client.JournalEntry.Query().Where(journalentry.EffectiveAtLT(day1End)).Count(sys())
		if err != nil {
			t.Fatal(err)
		}
		moved, err := e.db.Client.JournalEntry.Query().Where(journalentry.OriginalEffectiveAtNotNil()).Count(sys())
		if err != nil {
			t.Fatal(err)
		}
		total := countEntries(t, e.db.Client)
		if inDay != dc.Entries || moved == 0 || inDay+moved != total {
			t.Fatalf("entries: %d in day 1 now, %d when it closed, %d moved to day 2, %d in all", inDay, dc.Entries, moved, total)
		}
		lines, err := e.l.DayStatement(sys(), day1)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range lines {
			now, err := e.l.BalanceAsOf(sys(), ln.AccountKey, day1End.Add(-time.Microsecond))
			if err != nil {
				t.Fatal(err)
			}
			if now != ln.Closing {
				t.Fatalf("%s: frozen closing %s, the ledger now says %s", ln.AccountKey, ln.Closing.Decimal(), now.Decimal())
			}
		}
		t.Logf("%d entries in the closed day, %d moved to the next", inDay, moved)
		checkBooks(t, e.l)
	})
}

// TestCloseDueCatchesUpDayByDay: the scheduled close closes yesterday
// when nothing was ever closed, then every day over since the latest
// close, and nothing while today runs.
func TestCloseDueCatchesUpDayByDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var clock atomic.Pointer[time.Time]
		set := func(t time.Time) { clock.Store(&t) }
		set(time.Date(2025, 3, 4, 8, 0, 0, 0, time.UTC))
		l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: func() time.Time { return *clock.Load() }})
		defer l.Close()
		days := func(dcs []*ledger.DayClose, err error) []string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, d := range dcs {
				out = append(out, d.Day)
			}
			return out
		}
		if got := days(l.CloseDue(sys(), "Asia/Singapore")); fmt.Sprint(got) != "[2025-03-03]" {
			t.Fatalf("first pass closed %v", got)
		}
		if got := days(l.CloseDue(sys(), "Asia/Singapore")); len(got) != 0 {
			t.Fatalf("second pass closed %v", got)
		}
		set(time.Date(2025, 3, 6, 17, 0, 0, 0, time.UTC)) // 01:00 on the 7th in Singapore
		if got := days(l.CloseDue(sys(), "Asia/Singapore")); fmt.Sprint(got) != "[2025-03-04 2025-03-05 2025-03-06]" {
			t.Fatalf("catch-up closed %v", got)
		}
	})
}
