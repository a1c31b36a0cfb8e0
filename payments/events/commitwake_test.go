package events

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestWakeOnCommitWakesAfterTheCommitOnly: an event written in a
// transaction wakes the relay when the transaction commits, not before and
// not on a rollback; one written outside a transaction wakes it at once.
func TestWakeOnCommitWakesAfterTheCommitOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var wakes atomic.Int64
		WakeOnCommit(db.Client, func() { wakes.Add(1) })
		ctx := viewer.SystemContext(context.Background())
		create := func(c *ent.Client, object string) {
			t.Helper()
			if err := c.Event.Create().SetType("payment.processing").SetObjectID(object).SetData(map[string]any{}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}

		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		create(tx.Client(), "pay_1")
		if err := tx.Event.CreateBulk(tx.Event.Create().SetType("payment.processing").SetObjectID("pay_2").SetData(map[string]any{})).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if n := wakes.Load(); n != 0 {
			t.Fatalf("%d wakes before the commit", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := wakes.Load(); n < 1 {
			t.Fatal("no wake after the commit")
		}

		before := wakes.Load()
		tx, err = db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		create(tx.Client(), "pay_3")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := wakes.Load(); n != before {
			t.Fatalf("a rolled back event woke the relay (%d → %d)", before, n)
		}

		create(db.Client, "pay_4")
		if n := wakes.Load(); n != before+1 {
			t.Fatalf("an event outside a transaction: %d wakes, want %d", n, before+1)
		}

		// An event deferred to the commit (store.Writes; deferred on MySQL).
		before = wakes.Load()
		tx, err = db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w := store.NewWrites(tx, db.Dialect, true)
		create(w.Client(), "pay_5")
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := wakes.Load(); n != before {
			t.Fatalf("a deferred event woke the relay before its commit")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := wakes.Load(); n <= before {
			t.Fatal("a deferred event's commit did not wake the relay")
		}
	})
}

// TestNATSNudgeReachesEveryReplica: a nudge from one replica wakes the
// relay of another on the same subjects, and not one on other subjects.
func TestNATSNudgeReachesEveryReplica(t *testing.T) {
	a, cfg := testNATS(t)
	b, err := DialNATS(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other, _ := testNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	woke, strayed := make(chan struct{}, 1), make(chan struct{}, 1)
	if err := b.OnNudge(ctx, func() { woke <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := other.OnNudge(ctx, func() { strayed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	a.Nudge()
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("replica b's relay was not nudged in 5 s")
	}
	select {
	case <-strayed:
		t.Fatal("a nudge reached a relay on other subjects")
	case <-time.After(200 * time.Millisecond):
	}
}
