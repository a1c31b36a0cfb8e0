package ledger_test

import (
	"testing"

	"github.com/straitpay/strait/ent"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
)

// postInTx posts entry with PostTx in a transaction of its own, and commits
// when PostTx succeeds.
func postInTx(t *testing.T, e env, entry ledger.Entry) (ledger.Posted, error) {
	t.Helper()
	return inOwnTx(t, e, entry, func(tx *ent.Tx) (ledger.Posted, error) { return e.l.PostTx(sys(), tx, entry) })
}

// inOwnTx prepares entry's accounts, runs post in a transaction of its
// own, and commits when post succeeds (rolls back when it fails).
func inOwnTx(t *testing.T, e env, entry ledger.Entry, post func(tx *ent.Tx) (ledger.Posted, error)) (ledger.Posted, error) {
	t.Helper()
	if err := e.l.Prepare(sys(), entry); err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.Client.Tx(sys())
	if err != nil {
		t.Fatal(err)
	}
	posted, err := post(tx)
	if err != nil {
		_ = tx.Rollback()
		return posted, err
	}
	return posted, tx.Commit()
}

// TestPostTxIsExactlyOncePerSource: PostTx inserts without looking the source
// up first; a source posted before is refused by its unique index, and then
// answered like Post does (a replay with the same postings, ECONFLICT with
// others), with nothing written and the caller's transaction still usable.
func TestPostTxIsExactlyOncePerSource(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		first, err := postInTx(t, e, captureEntry("pay_tx", 10000, 290))
		if err != nil || first.Replayed || first.EntryID == "" {
			t.Fatalf("first post: %+v, %v", first, err)
		}
		again, err := postInTx(t, e, captureEntry("pay_tx", 10000, 290))
		if err != nil || !again.Replayed || again.EntryID != first.EntryID {
			t.Fatalf("replay: %+v, %v; want entry %s replayed", again, err, first.EntryID)
		}
		if _, err := postInTx(t, e, captureEntry("pay_tx", 10000, 300)); payments.ErrorCode(err) != payments.ECONFLICT {
			t.Fatalf("same source, other postings: %v, want ECONFLICT", err)
		}

		// After a refused insert the transaction goes on and commits.
		entry := captureEntry("pay_tx", 10000, 290)
		if err := e.l.Prepare(sys(), captureEntry("pay_tx2", 500, 10)); err != nil {
			t.Fatal(err)
		}
		tx, err := e.db.Client.Tx(sys())
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.l.PostTx(sys(), tx, entry); err != nil || !p.Replayed {
			t.Fatalf("replay in a transaction: %+v, %v", p, err)
		}
		if _, err := e.l.PostTx(sys(), tx, captureEntry("pay_tx2", 500, 10)); err != nil {
			t.Fatalf("a new source after a refused one, same transaction: %v", err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := countEntries(t, e.db.Client); n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
		if got := balance(t, e.l, ledger.ChannelAccount("cardnet", usd)); got != -10500 {
			t.Fatalf("channel balance %d, want -10500", got)
		}
		checkBooks(t, e.l)
	})
}
