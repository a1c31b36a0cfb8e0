package rulebook_test

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/rulebook"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestForgetDeletesOnlyOldCounterEventsInChunks: events older than the
// cut-off go, in as many chunks as it takes; newer ones stay and still sum.
func TestForgetDeletesOnlyOldCounterEventsInChunks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		book := rulebook.New(db.Client)
		c := book.Counters().(risk.BatchCounters)
		now := time.Now().UTC()
		old := make([]string, 2500)
		for i := range old {
			old[i] = "attempts|card|old"
		}
		if err := c.AddAll(ctx, old, now.Add(-8*24*time.Hour), 1); err != nil {
			t.Fatal(err)
		}
		if err := c.AddAll(ctx, []string{"attempts|card|new", "attempts|ip|new"}, now.Add(-time.Hour), 1); err != nil {
			t.Fatal(err)
		}
		n, err := book.Forget(ctx, now.Add(-risk.Retention))
		if err != nil || n != 2500 {
			t.Fatalf("forgot %d, %v; want 2500", n, err)
		}
		if count, _, err := c.Sum(ctx, "attempts|card|new", now.Add(-2*time.Hour)); err != nil || count != 1 {
			t.Fatalf("a recent event: %d, %v", count, err)
		}
		if count, _, _ := c.Sum(ctx, "attempts|card|old", now.Add(-30*24*time.Hour)); count != 0 {
			t.Fatalf("%d old events left", count)
		}
	})
}
