package events

import (
	"context"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// cashierFilter is what a cashier's subscription asks for.
func cashierFilter(merchant, session string) Filter {
	return Filter{MerchantID: merchant, CheckoutSessionID: session, Types: []string{"payment.", "checkout_session."}}
}

func TestFilterBySessionMatchesOnlyThatSessionsEvents(t *testing.T) {
	f := cashierFilter("mer_1", "cs_1")
	for _, c := range []struct {
		name string
		m    Message
		want bool
	}{
		{"its payment", Message{MerchantID: "mer_1", Type: "payment.succeeded", ObjectID: "pay_1", CheckoutSessionID: "cs_1"}, true},
		{"its completion", Message{MerchantID: "mer_1", Type: "checkout_session.completed", ObjectID: "cs_1", CheckoutSessionID: "cs_1"}, true},
		{"another session's payment", Message{MerchantID: "mer_1", Type: "payment.succeeded", ObjectID: "pay_2", CheckoutSessionID: "cs_2"}, false},
		{"a payment of no session", Message{MerchantID: "mer_1", Type: "payment.succeeded", ObjectID: "pay_3"}, false},
		{"another merchant's", Message{MerchantID: "mer_2", Type: "payment.succeeded", ObjectID: "pay_1", CheckoutSessionID: "cs_1"}, false},
		{"its attempt (not a type it asks for)", Message{MerchantID: "mer_1", Type: "payment_attempt.created", ObjectID: "att_1", CheckoutSessionID: "cs_1"}, false},
	} {
		if got := f.match(c.m); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.name, got, c.want)
		}
	}
	if !(Filter{MerchantID: "mer_1"}).match(Message{MerchantID: "mer_1", Type: "payment.succeeded", CheckoutSessionID: "cs_2"}) {
		t.Error("a filter without a session dropped a session's event")
	}
}

// writeSessionEvent commits one event of merchant, about object, naming
// session ("": none, as every event written before the column was).
func writeSessionEvent(t *testing.T, client *ent.Client, merchant, typ, object, session string) {
	t.Helper()
	c := client.Event.Create().SetMerchantID(merchant).SetType(typ).SetObjectID(object).SetData(map[string]any{})
	if session != "" {
		c.SetCheckoutSessionID(session)
	}
	if err := c.Exec(viewer.SystemContext(context.Background())); err != nil {
		t.Fatal(err)
	}
}

func TestSessionSubscriptionReplaysAndFollowsOnlyItsSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hub, relay := liveHub(ctx, t, db)
		step := func() {
			t.Helper()
			if _, err := relay.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Stored before the subscriber comes: two sessions' payments at one
		// merchant, and a payment event written before the column existed.
		writeSessionEvent(t, db.Client, "mer_1", "checkout_session.created", "cs_1", "cs_1")
		writeSessionEvent(t, db.Client, "mer_1", "payment.processing", "pay_2", "cs_2")
		writeSessionEvent(t, db.Client, "mer_1", "payment.processing", "pay_1", "cs_1")
		writeSessionEvent(t, db.Client, "mer_1", "payment.processing", "pay_old", "")
		writeSessionEvent(t, db.Client, "mer_2", "payment.processing", "pay_9", "cs_1") // another merchant's, same session id
		step()

		sub, err := hub.Subscribe(ctx, cashierFilter("mer_1", "cs_1"), FromStart)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"cs_1", "pay_1"} // the replay
		// Live: the other session's payment moves first, then this one's.
		writeSessionEvent(t, db.Client, "mer_1", "payment.succeeded", "pay_2", "cs_2")
		writeSessionEvent(t, db.Client, "mer_1", "payment_attempt.created", "att_1", "cs_1")
		writeSessionEvent(t, db.Client, "mer_1", "payment.succeeded", "pay_1", "cs_1")
		writeSessionEvent(t, db.Client, "mer_1", "checkout_session.completed", "cs_1", "cs_1")
		step()
		want = append(want, "pay_1", "cs_1")
		var got []string
		timeout := time.After(10 * time.Second)
		for len(got) < len(want) {
			select {
			case m := <-sub.C():
				if m.CheckoutSessionID != "cs_1" || m.MerchantID != "mer_1" {
					t.Fatalf("got %s of %s, session %q", m.Type, m.ObjectID, m.CheckoutSessionID)
				}
				got = append(got, m.ObjectID)
			case <-timeout:
				t.Fatalf("got %v, want %v", got, want)
			}
		}
		// Nothing else follows: the other session's and the pre-column
		// events were never handed over.
		writeSessionEvent(t, db.Client, "mer_1", "payment.canceled", "pay_2", "cs_2")
		step()
		select {
		case m := <-sub.C():
			t.Fatalf("got %s of %s (session %q) after its own", m.Type, m.ObjectID, m.CheckoutSessionID)
		case <-time.After(200 * time.Millisecond):
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}

		// The hub keeps session subscribers by session, and forgets them.
		hub.mu.Lock()
		n := len(hub.sessions["cs_1"])
		hub.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d subscribers of cs_1 in the hub, want 1", n)
		}
		cancel()
		for range sub.C() {
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			hub.mu.Lock()
			left := len(hub.sessions)
			hub.mu.Unlock()
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions left in the hub after their subscriber ended", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
