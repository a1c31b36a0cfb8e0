package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/webhookdelivery"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
	"github.com/straitpay/strait/vocab/attemptstatus"
)

// listedEvents returns the types of the events about objectID, as the
// merchant's `events` query lists them, oldest first.
func (x *e2e) listedEvents(t *testing.T, objectID string) []string {
	t.Helper()
	var listed struct {
		Edges []struct{ Node struct{ ID, Type string } }
	}
	x.ok(t, x.gql("MERCHANT_ADMIN", `query($id: ID) { events(first: 100, filter: {objectID: $id}) { edges { node { id type } } } }`,
		map[string]any{"id": objectID}), "events", &listed)
	out := make([]string, len(listed.Edges))
	for i, e := range listed.Edges {
		out[len(out)-1-i] = e.Node.Type // listed newest first
	}
	return out
}

// storedEvents returns the outbox rows of type typ about objectID, in ID
// (commit) order.
func (x *e2e) storedEvents(t *testing.T, objectID, typ string) []*ent.Event {
	t.Helper()
	evs, err := x.db.Client.Event.Query().Where(event.ObjectID(objectID), event.Type(typ)).Order(ent.Asc(event.FieldID)).
		All(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func count(types []string, typ string) int {
	n := 0
	for _, ty := range types {
		if ty == typ {
			n++
		}
	}
	return n
}

// TestEveryNewEventTypeIsWrittenOncePerTransition drives real payments
// through the cardnet plugin and the sandbox over GraphQL: a session created
// (and its creation replayed), a card declined then approved on a MANUAL
// session, captured in part (and the capture replayed, by key and by
// amount), a session completed, another expired by a read and by the
// janitor. Each new event type is written once per transition, about the
// right object, with its figures; the merchant's paymentUpdated carries
// payment.captured, the cashier's checkoutSessionUpdated its own session's
// events only, and a webhook endpoint subscribed to the new types gets
// each once, signed.
func TestEveryNewEventTypeIsWrittenOncePerTransition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, configure: func(c *app.Config) { c.WebhookAllowPrivate = true }})
		hooks := newHookReceiver(t)
		var created struct{ Secret string }
		x.ok(t, x.gql("MERCHANT_ADMIN", `mutation($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret } }`,
			map[string]any{"in": map[string]any{"url": hooks.srv.URL + "/strait",
				"eventTypes": []string{"payment.captured", "payment_attempt.", "checkout_session."}}}),
			"createWebhookEndpoint", &created)
		hooks.mu.Lock()
		hooks.secret = created.Secret
		hooks.mu.Unlock()

		// A session created, then its creation replayed with the same key:
		// one checkout_session.created.
		in := map[string]any{"amount": amountOf(10_000, "SGD"), "captureMethod": "MANUAL", "idempotencyKey": "cs-events-1"}
		s := x.open(t, in)
		if again := x.open(t, in); again.ID != s.ID {
			t.Fatalf("replayed creation made %s, want %s", again.ID, s.ID)
		}
		other := x.open(t, map[string]any{"amount": amountOf(700, "SGD")})

		merchant := subscribedWS(t, x.srv, x.tokens["API_KEY"], "p", paymentUpdatedQuery, nil)
		cashier := subscribedWS(t, x.srv, s.Cashier, "s", `subscription { checkoutSessionUpdated { type session { id status } payment { id status } } }`, nil)
		time.Sleep(100 * time.Millisecond)

		// Declined, then approved on a second try: two attempts, one failed.
		if p := x.payCard(t, s, "4000000000000002", cvc3); p.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("declined card: %+v", p)
		}
		p := x.payCard(t, s, "4242424242424242", cvc3)
		if p.Status != "REQUIRES_CAPTURE" {
			t.Fatalf("authorized: %+v", p)
		}
		// The other session's payment: its events are not s's cashier's.
		po := x.payCard(t, other, "4242424242424242", cvc3)

		capture := map[string]any{"id": p.ID, "amount": amountOf(6_000, "SGD"), "idempotencyKey": "cap-events-1"}
		var captured struct{ Status string }
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": capture}), "capturePayment", &captured)
		if captured.Status != "SUCCEEDED" {
			t.Fatalf("captured: %+v", captured)
		}
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": capture}), "capturePayment", &captured)
		capture["idempotencyKey"] = "cap-events-2" // the same amount again: returned unchanged
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": capture}), "capturePayment", &captured)

		// The merchant sees the capture live, with its payment (after the
		// other payment's, captured with its authorization).
		for {
			c := nextPaymentChange(t, merchant, "p")
			if c.Type == "payment.captured" && c.Payment.ID == p.ID {
				break
			}
		}
		// The cashier sees its session completed, with the payment, and
		// nothing of the other session.
		var sawCompleted bool
		for !sawCompleted {
			m := cashier.expect("next")
			var body struct {
				Data struct {
					CheckoutSessionUpdated struct {
						Type    string
						Session struct{ ID, Status string }
						Payment *struct{ ID string }
					}
				}
			}
			if err := json.Unmarshal(m.Payload, &body); err != nil {
				t.Fatal(err)
			}
			u := body.Data.CheckoutSessionUpdated
			if u.Session.ID != s.ID || (u.Payment != nil && u.Payment.ID == po.ID) {
				t.Fatalf("cashier of %s got %s", s.ID, m.Payload)
			}
			if u.Type == "checkout_session.completed" {
				if u.Payment == nil || u.Payment.ID != p.ID || u.Session.Status != "COMPLETE" {
					t.Fatalf("completion %s", m.Payload)
				}
				sawCompleted = true
			}
		}

		// A session expired by a read past its expiry, and one by the
		// janitor: one checkout_session.expired each, however often they
		// are read or swept.
		byRead := x.open(t, map[string]any{"amount": amountOf(500, "SGD"), "expiresIn": 60})
		byJanitor := x.open(t, map[string]any{"amount": amountOf(600, "SGD"), "expiresIn": 60})
		// The clock jumps past the webhook lease (60 s): a delivery in
		// flight then would be claimed again and sent twice, as a lost
		// answer is. Every delivery so far is settled first.
		waitFor(t, "the webhooks so far delivered and recorded", func() bool {
			hooks.mu.Lock()
			created := 0
			for _, ty := range hooks.types {
				if ty == "checkout_session.created" {
					created++
				}
			}
			hooks.mu.Unlock()
			pending, err := x.db.Client.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING)).
				Count(viewer.SystemContext(context.Background()))
			return err == nil && created == 4 && pending == 0
		})
		x.clock.Advance(2 * time.Minute)
		for range 2 {
			var read struct{ Status string }
			x.ok(t, x.gql("API_KEY", `query($id: ID!) { checkoutSession(id: $id) { status } }`, map[string]any{"id": byRead.ID}),
				"checkoutSession", &read)
			if read.Status != "EXPIRED" {
				t.Fatalf("read past expiry: %s", read.Status)
			}
		}
		for range 2 {
			if _, err := x.app.Checkout.ExpireSessions(context.Background()); err != nil {
				t.Fatal(err)
			}
		}

		// Each transition's event, once, about its object.
		pe := x.listedEvents(t, p.ID)
		want := map[string]int{"payment.failed": 1, "payment.requires_capture": 1, "payment.succeeded": 1, "payment.captured": 1}
		for typ, n := range want {
			if count(pe, typ) != n {
				t.Fatalf("payment events %v: %s %d times, want %d", pe, typ, count(pe, typ), n)
			}
		}
		if i, j := strings.Index(strings.Join(pe, ","), "payment.succeeded"), strings.Index(strings.Join(pe, ","), "payment.captured"); i < 0 || j < i {
			t.Fatalf("payment events out of order: %v", pe)
		}
		capEvents := x.storedEvents(t, p.ID, "payment.captured")
		if got := capEvents[0].Data; got["amount"] != float64(6_000) || got["currency"] != "SGD" || got["attempt_id"] == nil {
			t.Fatalf("payment.captured data %v", got)
		}
		// The payment was declined, then approved on a second try: two
		// attempts, each created once, the first failed once.
		atts := x.payment(t, p.ID).attempts()
		if len(atts) != 2 {
			t.Fatalf("payment %s has %d attempts", p.ID, len(atts))
		}
		for _, a := range atts {
			if a.Status == "DECLINED" {
				continue
			}
			if ae := x.listedEvents(t, a.ID); count(ae, "payment_attempt.created") != 1 || count(ae, "payment_attempt.failed") != 0 {
				t.Fatalf("approved attempt's events %v", ae)
			}
		}
		// The declined attempt: on the session's first payment.
		sys := viewer.SystemContext(context.Background())
		declinedAtt, err := x.db.Client.PaymentAttempt.Query().
			Where(paymentattempt.StatusEQ(attemptstatus.Declined), paymentattempt.HasPaymentWith(payment.CheckoutSessionID(s.ID))).
			Only(sys)
		if err != nil {
			t.Fatalf("the declined attempt of %s: %v", s.ID, err)
		}
		declined := declinedAtt.ID
		if ae := x.listedEvents(t, declined); count(ae, "payment_attempt.created") != 1 || count(ae, "payment_attempt.failed") != 1 {
			t.Fatalf("declined attempt's events %v", ae)
		}
		failed := x.storedEvents(t, declined, "payment_attempt.failed")[0].Data
		if failed["decline_code"] != "do_not_honor" || failed["decline_type"] != "HARD" || failed["status"] != "declined" {
			t.Fatalf("payment_attempt.failed data %v", failed)
		}
		for id, w := range map[string]map[string]int{
			s.ID:         {"checkout_session.created": 1, "checkout_session.completed": 1, "checkout_session.expired": 0},
			other.ID:     {"checkout_session.created": 1, "checkout_session.completed": 1},
			byRead.ID:    {"checkout_session.created": 1, "checkout_session.expired": 1, "checkout_session.completed": 0},
			byJanitor.ID: {"checkout_session.created": 1, "checkout_session.expired": 1},
		} {
			se := x.listedEvents(t, id)
			for typ, n := range w {
				if count(se, typ) != n {
					t.Fatalf("session %s events %v: %s %d times, want %d", id, se, typ, count(se, typ), n)
				}
			}
		}

		// The endpoint got each of them once, verified.
		hooks.waitFor(t, "checkout_session.expired")
		deadline := time.Now().Add(15 * time.Second)
		for {
			hooks.mu.Lock()
			types := map[string]int{}
			for _, ty := range hooks.types {
				types[ty]++
			}
			hooks.mu.Unlock()
			if types["checkout_session.expired"] == 2 && types["checkout_session.created"] == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("webhooks by type %v", types)
			}
			time.Sleep(50 * time.Millisecond)
		}
		hooks.mu.Lock()
		for id, n := range hooks.byID {
			if n != 1 {
				t.Errorf("event %s (%s) delivered %d times", id, hooks.types[id], n)
			}
			if !strings.HasPrefix(hooks.types[id], "payment_attempt.") && !strings.HasPrefix(hooks.types[id], "checkout_session.") &&
				hooks.types[id] != "payment.captured" {
				t.Errorf("event %s of type %s delivered to an endpoint that did not ask for it", id, hooks.types[id])
			}
		}
		hooks.mu.Unlock()
		x.noCardData(t)
	})
}
