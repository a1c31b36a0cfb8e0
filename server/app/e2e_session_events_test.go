package app_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

const sessionUpdatedQuery = `subscription($after: Cursor) { checkoutSessionUpdated(after: $after) {
	cursor eventID type session { id } payment { id } } }`

type sessionChange struct {
	Cursor, EventID, Type string
	Session               struct{ ID string }
	Payment               *struct{ ID string }
}

// nextSessionChange reads the next change of subscription id.
func nextSessionChange(t *testing.T, w *wsClient, id string) sessionChange {
	t.Helper()
	var c sessionChange
	nextResult(t, w, id, "checkoutSessionUpdated", &c)
	return c
}

// sessionChangesUntil reads subscription id's changes up to the first of
// type last, and fails t on one that is not about session s.
func sessionChangesUntil(t *testing.T, w *wsClient, id string, s session, last string) []sessionChange {
	t.Helper()
	var out []sessionChange
	for {
		c := nextSessionChange(t, w, id)
		if c.Session.ID != s.ID {
			t.Fatalf("the cashier of %s got a change of %s: %+v", s.ID, c.Session.ID, c)
		}
		out = append(out, c)
		if c.Type == last {
			return out
		}
	}
}

// sessionEventIDs are the IDs of the events a cashier of session id may
// see, after seq, in order, found from what they are about (the session
// and its payments), not from the events' session column.
func sessionEventIDs(t *testing.T, db *store.DB, id string, after int64) []string {
	t.Helper()
	sys := viewer.SystemContext(context.Background())
	objects, err := db.Client.Payment.Query().Where(payment.CheckoutSessionID(id)).IDs(sys)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Client.Event.Query().Where(event.ObjectIDIn(append(objects, id)...), event.SeqGT(after),
		event.Or(event.TypeHasPrefix("payment."), event.TypeHasPrefix("checkout_session."))).
		Order(ent.Asc(event.FieldSeq)).All(sys)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func eventIDsOf(cs []sessionChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.EventID
	}
	return out
}

// TestACashierSeesOnlyItsOwnSessionsEventsLiveAndOnResume runs two
// sessions' card payments at one merchant, interleaved, through the
// cardnet plugin and the sandbox: the first session's cashier is handed
// its own session's events only, live and on a resume with `after`, and
// the other session's events, committed between its own, never reach it.
func TestACashierSeesOnlyItsOwnSessionsEventsLiveAndOnResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}})
		a := x.open(t, map[string]any{"amount": amountOf(5_000, "SGD"), "captureMethod": "MANUAL"})
		b := x.open(t, map[string]any{"amount": amountOf(700, "SGD")})
		cashier := subscribedWS(t, x.srv, a.Cashier, "live", sessionUpdatedQuery, nil)
		time.Sleep(100 * time.Millisecond)

		// b declined, a authorized, b paid, a captured: b's events fall
		// between a's.
		if p := x.payCard(t, b, "4000000000000002", cvc3); p.Status != "REQUIRES_PAYMENT_METHOD" {
			t.Fatalf("b declined: %+v", p)
		}
		pa := x.payCard(t, a, "4242424242424242", cvc3)
		if pa.Status != "REQUIRES_CAPTURE" {
			t.Fatalf("a authorized: %+v", pa)
		}
		if p := x.payCard(t, b, "4242424242424242", cvc3); p.Status != "SUCCEEDED" {
			t.Fatalf("b paid: %+v", p)
		}
		var captured struct{ Status string }
		x.ok(t, x.gql("API_KEY", capturePayment, map[string]any{"in": map[string]any{"id": pa.ID, "idempotencyKey": "cap-a"}}),
			"capturePayment", &captured)
		if captured.Status != "SUCCEEDED" {
			t.Fatalf("a captured: %+v", captured)
		}

		live := sessionChangesUntil(t, cashier, "live", a, "payment.captured")
		for _, c := range live {
			if c.Payment != nil && c.Payment.ID != pa.ID {
				t.Fatalf("the cashier of %s got payment %s: %+v", a.ID, c.Payment.ID, c)
			}
		}
		types := make([]string, len(live))
		for i, c := range live {
			types[i] = c.Type
		}
		for _, want := range []string{"payment.requires_capture", "checkout_session.completed", "payment.succeeded"} {
			if !slices.Contains(types, want) {
				t.Fatalf("live changes %v: no %s", types, want)
			}
		}
		// Every event of a's, from the first it was handed on, and
		// nothing else.
		sys := viewer.SystemContext(context.Background())
		first, err := db.Client.Event.Get(sys, live[0].EventID)
		if err != nil || first.Seq == nil {
			t.Fatalf("the first change's event %s: %v", live[0].EventID, err)
		}
		if got, want := eventIDsOf(live), sessionEventIDs(t, db, a.ID, *first.Seq-1); !slices.Equal(got, want) {
			t.Fatalf("live events %v, want a's %v", got, want)
		}

		// A resume after the first change replays the rest of a's, and
		// none of b's, which the event table holds between them.
		cashier.subscribe("resume", sessionUpdatedQuery, map[string]any{"after": live[0].Cursor})
		resumed := sessionChangesUntil(t, cashier, "resume", a, "payment.captured")
		if got, want := eventIDsOf(resumed), eventIDsOf(live[1:]); !slices.Equal(got, want) {
			t.Fatalf("resumed with %v, want %v", got, want)
		}
		bEvents := sessionEventIDs(t, db, b.ID, *first.Seq)
		if len(bEvents) < 2 {
			t.Fatalf("b has %d events after a's first: the test interleaves nothing", len(bEvents))
		}
	})
}

// cashierReads counts the queries of the payments table a cashier makes
// (ent privacy confines them to a checkout session, so the session's ID is
// an argument) about one of the watched payments, by payment.
type cashierReads struct {
	dialect.Driver
	mu       sync.Mutex
	reads    map[string]int  // payment ID → reads
	sessions map[string]bool // the cashiers' sessions
}

func (d *cashierReads) Query(ctx context.Context, query string, args, v any) error {
	if as, ok := args.([]any); ok && (strings.Contains(query, "FROM `payments`") || strings.Contains(query, `FROM "payments"`)) {
		d.mu.Lock()
		var pays []string
		cashier := false
		for _, a := range as {
			if s, ok := a.(string); ok {
				if _, watched := d.reads[s]; watched {
					pays = append(pays, s)
				}
				cashier = cashier || d.sessions[s]
			}
		}
		if cashier {
			for _, p := range pays {
				d.reads[p]++
			}
		}
		d.mu.Unlock()
	}
	return d.Driver.Query(ctx, query, args, v)
}

// TestACashierSubscriptionCostsNothingForOtherSessionsPayments opens
// several sessions' cashier subscriptions at one merchant and commits
// events of each session's payment: each payment is read once per event,
// by its own session's subscriber, and by none of the others (they were
// each handed only their own session's events).
func TestACashierSubscriptionCostsNothingForOtherSessionsPayments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		drv := &cashierReads{Driver: entsql.OpenDB(db.Dialect, db.SQL), reads: map[string]int{}, sessions: map[string]bool{}}
		counted := &store.DB{Client: ent.NewClient(ent.Driver(drv)), Dialect: db.Dialect, SQL: db.SQL}
		e, srv := liveEnvWith(t, newEnv(t, counted))
		sys := viewer.SystemContext(context.Background())
		const sessions, eventsEach = 6, 3
		type follower struct {
			session string
			pay     *ent.Payment
			ws      *wsClient
		}
		var fs []follower
		for range sessions {
			s, err := db.Client.CheckoutSession.Create().SetMerchantID(e.a.ID).SetAmount(1000).SetCurrency("SGD").
				SetExpiresAt(time.Now().Add(time.Hour)).Save(sys)
			if err != nil {
				t.Fatal(err)
			}
			p, err := db.Client.Payment.Create().SetMerchantID(e.a.ID).SetAmount(1000).SetCurrency("SGD").
				SetCheckoutSessionID(s.ID).SetStatus("PROCESSING").Save(sys)
			if err != nil {
				t.Fatal(err)
			}
			ws := subscribedWS(t, srv, e.mint(viewer.Viewer{Kind: viewer.Cashier, Subject: s.ID, MerchantID: e.a.ID, SessionID: s.ID}), "s", sessionUpdatedQuery, nil)
			fs = append(fs, follower{session: s.ID, pay: p, ws: ws})
		}
		time.Sleep(100 * time.Millisecond) // the subscriptions are registered
		drv.mu.Lock()
		for _, f := range fs {
			drv.reads[f.pay.ID], drv.sessions[f.session] = 0, true
		}
		drv.mu.Unlock()
		// Each payment's events, as the cashier writes them: naming the
		// session.
		for i := range eventsEach {
			for _, f := range fs {
				err := db.Client.Event.Create().SetMerchantID(e.a.ID).SetType("payment.processing").SetObjectID(f.pay.ID).
					SetCheckoutSessionID(f.session).SetData(map[string]any{"payment_id": f.pay.ID, "step": i}).Exec(sys)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		e.app.Relay.Wake()
		for _, f := range fs {
			for range eventsEach {
				c := nextSessionChange(t, f.ws, "s")
				if c.Session.ID != f.session || c.Payment == nil || c.Payment.ID != f.pay.ID {
					t.Fatalf("the cashier of %s got %+v", f.session, c)
				}
			}
		}
		time.Sleep(200 * time.Millisecond) // any other subscriber's read would be done
		drv.mu.Lock()
		defer drv.mu.Unlock()
		for _, f := range fs {
			if n := drv.reads[f.pay.ID]; n != eventsEach {
				t.Errorf("payment %s read %d times for its %d events by %d cashiers; want %d (its own cashier's)",
					f.pay.ID, n, eventsEach, sessions, eventsEach)
			}
		}
	})
}
