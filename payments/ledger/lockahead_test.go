package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// postLockedAhead posts entry as the payment pipeline's record step does:
// a read of the caller's own (here the entry's source, looked up) joined
// to the ledger's lock-ahead read in one round trip, then PostTxMany with
// the locks and its writes deferred to the commit.
func postLockedAhead(t *testing.T, e env, entry ledger.Entry) (ledger.Posted, error) {
	t.Helper()
	return inOwnTx(t, e, entry, func(tx *ent.Tx) (ledger.Posted, error) {
		read, locks, err := e.l.LockAhead(entry)
		if err != nil {
			return ledger.Posted{}, err
		}
		own := func(ctx context.Context, c *ent.Client) error {
			_, err := c.JournalEntry.Query().Where(journalentry.SourceID(entry.Source.ID)).IDs(ctx)
			return err
		}
		if err := store.ReadTogether(sys(), tx.Client(), e.db.Dialect, own, read); err != nil {
			return ledger.Posted{}, err
		}
		w := store.NewWrites(tx, e.db.Dialect, true)
		p, err := e.l.PostTxMany(sys(), tx, w, locks, []ledger.Entry{entry})
		if err != nil {
			return ledger.Posted{}, err
		}
		return p[0], w.Flush(sys())
	})
}

// TestLockAheadPostsInTwoRoundTrips: on MySQL, a record transaction that
// locks the ledger's accounts ahead (LockAhead) reads the closed-through
// mark in the same round trip, so posting makes none of its own: one
// round trip locks and reads, one writes and commits. An entry dated in
// a closed day still takes effect at the start of the next open one.
func TestLockAheadPostsInTwoRoundTrips(t *testing.T) {
	db, trips := storetest.OpenCounting(t)
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect, Now: func() time.Time { return t0 }})
	t.Cleanup(l.Close)
	e := env{db: db, l: l}
	mustPost(t, l, captureEntry("pay_seed", 1_000_000, 1))
	if _, err := l.CloseDay(sys(), "2025-02-28", "UTC"); err != nil {
		t.Fatal(err)
	}
	const records = 5
	for i := range records {
		entry := captureEntry("pay_ahead_"+string(rune('a'+i)), 10000, 290)
		if i == 0 {
			entry.EffectiveAt = t0.AddDate(0, 0, -1) // in the closed day
		}
		if err := l.Prepare(sys(), entry); err != nil {
			t.Fatal(err)
		}
		before := trips.Trips.Load()
		posted, err := postLockedAhead(t, e, entry)
		if err != nil {
			t.Fatal(err)
		}
		n := trips.Trips.Load() - before
		t.Logf("record %d: %d round trips", i, n)
		if n != 2 {
			t.Errorf("record %d: %d round trips, want 2 (lock and read; write and commit)", i, n)
		}
		if i == 0 {
			je, err := db.Client.JournalEntry.Get(sys(), posted.EntryID)
			if err != nil {
				t.Fatal(err)
			}
			if want := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC); !je.EffectiveAt.Equal(want) || je.OriginalEffectiveAt == nil {
				t.Fatalf("entry dated in the closed day: effective %s (asked %v), want %s", je.EffectiveAt, je.OriginalEffectiveAt, want)
			}
		}
	}
}
