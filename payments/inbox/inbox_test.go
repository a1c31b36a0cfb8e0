package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/inbox"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// clock is a fixed clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func event(id string) connectors.Event {
	return connectors.Event{
		ID: id, Connector: "cardnet", Type: connectors.EventPaymentResult, OccurredAt: time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC),
		PaymentID: "cp_" + id, Reference: "att_" + id, Result: connectors.Declined(connectors.DeclineSoft, "51", "insufficient funds"),
		// In the channel's hundredths, stated: the exponent must survive storage.
		Amount: connectors.Money{Minor: 105_030, Currency: "IDR", Exponent: connectors.Exp(2)}, Status: "declined", Data: map[string]string{"k": "v"},
	}
}

func TestDuplicateEventsAreStoredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := inbox.New(db.Client, inbox.Config{Now: newClock().Now})
		for range 3 {
			if err := in.Store(ctx, event("evt_1")); err != nil {
				t.Fatal(err)
			}
		}
		other := event("evt_1")
		other.Connector = "wallet" // same id from another connector is another event
		if err := in.Store(ctx, other); err != nil {
			t.Fatal(err)
		}
		rows := db.Client.ChannelEvent.Query().AllX(viewer.SystemContext(ctx))
		if len(rows) != 2 {
			t.Fatalf("stored %d rows, want 2", len(rows))
		}
		got, err := inbox.Event(rows[0])
		if err != nil {
			t.Fatal(err)
		}
		want := event("evt_1")
		want.Connector = rows[0].Connector
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
}

func TestChannelEventsArePlatformOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := inbox.New(db.Client, inbox.Config{}).Store(ctx, event("evt_p")); err != nil {
			t.Fatal(err)
		}
		merchant := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_x", MerchantID: "mer_x", Role: viewer.RoleAdmin})
		if _, err := db.Client.ChannelEvent.Query().All(merchant); err == nil {
			t.Fatal("a merchant read channel events")
		}
		op := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
		if n := db.Client.ChannelEvent.Query().CountX(op); n != 1 {
			t.Fatalf("operator sees %d events", n)
		}
		if err := db.Client.ChannelEvent.Update().SetLastError("x").Exec(op); err == nil {
			t.Fatal("an operator rewrote channel events")
		}
	})
}

func TestFailedHandlerIsRetriedWithBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		in := inbox.New(db.Client, inbox.Config{Now: clk.Now})
		p := inbox.NewProcessor(db.Client, inbox.ProcessorConfig{Log: quiet, Now: clk.Now, MinBackoff: time.Second, MaxBackoff: time.Minute})
		calls := 0
		p.Register(inbox.HandlerFunc(func(context.Context, *ent.ChannelEvent) error {
			calls++
			if calls <= 2 {
				return errors.New("payment core unavailable")
			}
			return nil
		}))
		ignored := 0
		p.Register(inbox.HandlerFunc(func(context.Context, *ent.ChannelEvent) error { ignored++; return nil }), connectors.EventRefundResult)
		if err := in.Store(ctx, event("evt_r")); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			advance time.Duration
			claimed int
			calls   int
		}{
			{0, 1, 1},                       // first attempt fails: retry in 1 s
			{500 * time.Millisecond, 0, 1},  // not due yet
			{500 * time.Millisecond, 1, 2},  // second attempt fails: retry in 2 s
			{1900 * time.Millisecond, 0, 2}, // not due yet
			{100 * time.Millisecond, 1, 3},  // third attempt succeeds
			{time.Hour, 0, 3},               // processed: never again
		}
		for i, s := range steps {
			clk.Add(s.advance)
			n, err := p.ProcessDue(ctx)
			if err != nil || n != s.claimed || calls != s.calls {
				t.Fatalf("step %d: claimed %d (want %d), calls %d (want %d), err %v", i, n, s.claimed, calls, s.calls, err)
			}
		}
		row := db.Client.ChannelEvent.Query().OnlyX(viewer.SystemContext(ctx))
		if row.ProcessedAt == nil || row.Attempts != 3 || row.LastError != "" {
			t.Fatalf("row = processed %v, attempts %d, last error %q", row.ProcessedAt, row.Attempts, row.LastError)
		}
		if ignored != 0 {
			t.Fatalf("refund handler saw a payment event %d times", ignored)
		}
	})
}

func TestPanickingHandlerIsAFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		p := inbox.NewProcessor(db.Client, inbox.ProcessorConfig{Log: quiet, Now: clk.Now})
		p.Register(inbox.HandlerFunc(func(context.Context, *ent.ChannelEvent) error { panic("boom") }))
		if err := inbox.New(db.Client, inbox.Config{Now: clk.Now}).Store(ctx, event("evt_x")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.ProcessDue(ctx); err != nil {
			t.Fatal(err)
		}
		row := db.Client.ChannelEvent.Query().OnlyX(viewer.SystemContext(ctx))
		if row.ProcessedAt != nil || row.LastError != "handler panicked: boom" {
			t.Fatalf("row = processed %v, last error %q", row.ProcessedAt, row.LastError)
		}
	})
}

// Two processors, as two Strait replicas would run them, drain the same
// inbox: every event is handled exactly once. On SQLite the single writer
// serialises them; on MySQL the conditional UPDATE is what decides.
func TestTwoProcessorsHandleEachEventExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const events = 120
		in := inbox.New(db.Client, inbox.Config{})
		for i := range events {
			if err := in.Store(ctx, event(fmt.Sprintf("evt_%03d", i))); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		byProc := [2]int{}
		var wg sync.WaitGroup
		for i := range 2 {
			p := inbox.NewProcessor(db.Client, inbox.ProcessorConfig{Log: quiet, Batch: 10, Poll: 10 * time.Millisecond})
			p.Register(inbox.HandlerFunc(func(context.Context, *ent.ChannelEvent) error { return nil }))
			p.Register(inbox.HandlerFunc(func(_ context.Context, ev *ent.ChannelEvent) error {
				mu.Lock()
				seen[ev.EventID]++
				byProc[i]++
				mu.Unlock()
				time.Sleep(time.Millisecond) // let the other processor race for the same rows
				return nil
			}))
			wg.Add(1)
			go func() { defer wg.Done(); p.Run(ctx) }()
		}
		sys := viewer.SystemContext(ctx)
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, err := db.Client.ChannelEvent.Query().Where().Count(sys)
			if err != nil {
				t.Fatal(err)
			}
			left := 0
			for _, r := range db.Client.ChannelEvent.Query().AllX(sys) {
				if r.ProcessedAt == nil {
					left++
				}
			}
			if n == events && left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d events unprocessed after 30 s", left, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if len(seen) != events {
			t.Fatalf("handled %d distinct events, want %d", len(seen), events)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s handled %d times", id, n)
			}
		}
		t.Logf("processor split: %v", byProc)
	})
}

func TestDisputeEventSurvivesStorage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := inbox.New(db.Client, inbox.Config{Now: newClock().Now})
		ev := connectors.Event{ID: "evt_d", Connector: "cardnet", Type: connectors.EventDispute, Result: connectors.Approved(),
			PaymentID: "cp_1", ObjectID: "dp_1", Amount: connectors.NewMoney(3_000_000_000, "USD"),
			Dispute: &connectors.Dispute{ID: "dp_1", PaymentID: "cp_1", Reference: "att_1", Stage: connectors.DisputePreArbitration,
				Status: connectors.DisputeNeedsResponse, ReasonCode: "10.4", Reason: "fraudulent",
				Amount: connectors.NewMoney(3_000_000_000, "USD"), Fee: connectors.NewMoney(1500, "USD"),
				DueBy: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)}}
		if err := in.Store(ctx, ev); err != nil {
			t.Fatal(err)
		}
		row := db.Client.ChannelEvent.Query().OnlyX(viewer.SystemContext(ctx))
		got, err := inbox.Event(row)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dispute == nil || fmt.Sprint(*got.Dispute) != fmt.Sprint(*ev.Dispute) {
			t.Fatalf("dispute round trip:\n got %+v\nwant %+v", got.Dispute, ev.Dispute)
		}
	})
}
