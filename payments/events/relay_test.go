package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// writeEvents commits n events per object, interleaved, as the cashier does.
func writeEvents(t *testing.T, client *ent.Client, merchant string, objects []string, n int) []*ent.Event {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	var out []*ent.Event
	for i := 0; i < n; i++ {
		for _, o := range objects {
			e, err := client.Event.Create().SetMerchantID(merchant).SetType("payment.processing").
				SetObjectID(o).SetData(map[string]any{"step": i}).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

// recorder is a bus that keeps what was published.
type recorder struct {
	mu   sync.Mutex
	msgs []Message
	fail error
}

func (r *recorder) Publish(_ context.Context, msgs []Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}
func (r *recorder) Subscribe(context.Context, func(Message)) error { return nil }
func (r *recorder) Close() error                                   { return nil }

func TestRelaysOnTwoReplicasPublishEveryEventOnceInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		bus := &recorder{}
		a := NewRelay(RelayConfig{Client: db.Client, Bus: bus, Holder: "a", Batch: 7})
		b := NewRelay(RelayConfig{Client: db.Client, Bus: bus, Holder: "b", Batch: 7})
		objects := []string{"pay_1", "pay_2", "pay_3"}
		var written []*ent.Event
		ctx := context.Background()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for _, r := range []*Relay{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := r.Step(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		for i := 0; i < 5; i++ {
			written = append(written, writeEvents(t, db.Client, "mer_1", objects, 4)...)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			bus.mu.Lock()
			n := len(bus.msgs)
			bus.mu.Unlock()
			if n >= len(written) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if len(bus.msgs) != len(written) {
			t.Fatalf("published %d messages, want %d (each event once)", len(bus.msgs), len(written))
		}
		seen := map[string]bool{}
		lastID := map[string]string{}
		for i, m := range bus.msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d: want gapless publish order", i, m.Seq)
			}
			if seen[m.ID] {
				t.Fatalf("event %s published twice", m.ID)
			}
			seen[m.ID] = true
			if m.ID <= lastID[m.ObjectID] {
				t.Fatalf("events of %s out of order: %s after %s", m.ObjectID, m.ID, lastID[m.ObjectID])
			}
			lastID[m.ObjectID] = m.ID
		}
	})
}

func TestRelayRepublishesEventsNumberedBeforeAFailedPublish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		bus := &recorder{fail: errors.New("bus down")}
		r := NewRelay(RelayConfig{Client: db.Client, Bus: bus, Holder: "a"})
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 3)
		if _, err := r.Step(context.Background()); err == nil {
			t.Fatal("step over a failing bus succeeded")
		}
		bus.fail = nil
		// The lease passes to another replica, which publishes what the
		// first numbered, with the same numbers.
		other := NewRelay(RelayConfig{Client: db.Client, Bus: bus, Holder: "b", LeaseTTL: time.Second})
		releaseLease(context.Background(), db.Client, relayLease, "a")
		n, err := other.Step(context.Background())
		if err != nil || n != 3 {
			t.Fatalf("step = %d, %v; want the 3 numbered events", n, err)
		}
		for i, m := range bus.msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("republished seq %d at %d", m.Seq, i)
			}
		}
		if n, _ := other.Step(context.Background()); n != 0 {
			t.Fatalf("published %d again after marking", n)
		}
	})
}

func TestLeaseHasOneHolderUntilItExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		for _, c := range []struct {
			holder string
			at     time.Time
			want   bool
		}{
			{"a", now, true},
			{"b", now.Add(time.Second), false},
			{"a", now.Add(2 * time.Second), true},  // renewal
			{"b", now.Add(13 * time.Second), true}, // a's lease ran out
			{"a", now.Add(14 * time.Second), false},
		} {
			got, err := acquireLease(ctx, db.Client, "job", c.holder, c.at, 10*time.Second, 0)
			if err != nil || got != c.want {
				t.Fatalf("%s at +%s: held=%v err=%v, want %v", c.holder, c.at.Sub(now), got, err, c.want)
			}
		}
	})
}

// liveHub is a hub on an in-process bus, until ctx ends, and the relay
// that publishes to it (stepped by the test).
func liveHub(ctx context.Context, t *testing.T, db *store.DB) (*Hub, *Relay) {
	t.Helper()
	bus := NewInProcess()
	hub := NewHub(db.Client, nil)
	if err := hub.Start(ctx, bus); err != nil {
		t.Fatal(err)
	}
	return hub, NewRelay(RelayConfig{Client: db.Client, Bus: bus, Holder: "a"})
}

func TestHubResumesFromACursorWithoutGapsOrDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hub, relay := liveHub(ctx, t, db)
		writeEvents(t, db.Client, "mer_1", []string{"pay_1", "pay_2"}, 3) // seq 1..6
		writeEvents(t, db.Client, "mer_2", []string{"pay_9"}, 2)          // seq 7..8, another merchant
		if _, err := relay.Step(ctx); err != nil {
			t.Fatal(err)
		}
		sub, err := hub.Subscribe(ctx, Filter{MerchantID: "mer_1"}, 2)
		if err != nil {
			t.Fatal(err)
		}
		// More events arrive while the replay runs.
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 3) // seq 9..11
		go func() {
			for i := 0; i < 5; i++ {
				_, _ = relay.Step(ctx)
				time.Sleep(10 * time.Millisecond)
			}
		}()
		var got []int64
		timeout := time.After(10 * time.Second)
		for len(got) < 7 {
			select {
			case m := <-sub.C():
				if m.MerchantID != "mer_1" {
					t.Fatalf("got another merchant's event %s", m.ID)
				}
				got = append(got, m.Seq)
			case <-timeout:
				t.Fatalf("got %v, want seq 3..6 and 9..11", got)
			}
		}
		if fmt.Sprint(got) != "[3 4 5 6 9 10 11]" {
			t.Fatalf("got %v, want [3 4 5 6 9 10 11]", got)
		}
	})
}

func TestHubCutsOffASlowSubscriber(t *testing.T) {
	hub := NewHub(nil, nil)
	ctx := context.Background()
	sub, _ := hub.Subscribe(ctx, Filter{}, 0)
	time.Sleep(10 * time.Millisecond)
	for i := 1; i <= LiveBuffer+2; i++ { // nobody reads
		hub.dispatch(ctx, Message{ID: fmt.Sprint(i), Seq: int64(i)})
	}
	for range sub.C() {
	}
	if !errors.Is(sub.Err(), ErrSlowConsumer) {
		t.Fatalf("err = %v, want ErrSlowConsumer", sub.Err())
	}
}

func TestARelayWhoseLeasePassedCannotNumber(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stalled := NewRelay(RelayConfig{Client: db.Client, Bus: &recorder{}, Holder: "a"})
		if _, err := acquireLease(ctx, db.Client, relayLease, "a", time.Now().Add(-time.Minute), 10*time.Second, 0); err != nil {
			t.Fatal(err)
		}
		// a's lease ran out while it stalled; b took it and numbered.
		b := NewRelay(RelayConfig{Client: db.Client, Bus: &recorder{}, Holder: "b"})
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 2)
		if n, err := b.Step(ctx); err != nil || n != 2 {
			t.Fatalf("b: %d, %v", n, err)
		}
		writeEvents(t, db.Client, "mer_1", []string{"pay_1"}, 1)
		evs := db.Client.Event.Query().Where(event.SeqIsNil()).AllX(viewer.SystemContext(ctx))
		if err := stalled.number(viewer.SystemContext(ctx), evs); !errors.Is(err, errLeaseLost) {
			t.Fatalf("a numbered after losing its lease: %v", err)
		}
		if n, err := b.Step(ctx); err != nil || n != 1 {
			t.Fatalf("b after a's attempt: %d, %v", n, err)
		}
		last := db.Client.Event.Query().Order(ent.Desc(event.FieldSeq)).FirstX(viewer.SystemContext(ctx))
		if *last.Seq != 3 {
			t.Fatalf("last seq %d, want 3", *last.Seq)
		}
	})
}
