package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/straitpay/strait/graph"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// TestSharedSubscriptionsNeverCrossVisibility: the same paymentUpdated
// document from five principals runs once per visibility scope (kind,
// merchant, role, session), never once for principals who may see
// different things: two admins of merchant A share one execution; A's
// analyst, B's admin and the operator each have their own; each sees
// exactly what it may, and a resuming subscription (after:) runs alone.
func TestSharedSubscriptionsNeverCrossVisibility(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			e, srv := liveEnvOn(t, dialect, nil)
			tokens := map[string]string{
				"A admin":   e.tokens["MERCHANT_ADMIN"],
				"A admin 2": e.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_second_admin", MerchantID: e.a.ID, Role: viewer.RoleAdmin}),
				"A analyst": e.tokens["MERCHANT_ANALYST"],
				"B admin":   e.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_beta_admin", MerchantID: e.b.ID, Role: viewer.RoleAdmin}),
				"operator":  e.tokens["OPERATOR"],
			}
			clients := map[string]*wsClient{}
			for name, tok := range tokens {
				w := subscribedWS(t, srv, tok, "p", paymentUpdatedQuery, nil)
				clients[name] = w
			}
			waitShared(t, e, 4) // A admins, A analyst, B admin, operator
			emit(t, e, e.payB[0], "payment.succeeded")
			emit(t, e, e.payA[0], "payment.succeeded")
			want := map[string][]string{
				"A admin": {e.payA[0].ID}, "A admin 2": {e.payA[0].ID}, "A analyst": {e.payA[0].ID},
				"B admin": {e.payB[0].ID}, "operator": {e.payB[0].ID, e.payA[0].ID},
			}
			cursor := ""
			for name, ids := range want {
				for _, id := range ids {
					got := nextPaymentChange(t, clients[name], "p")
					if got.Payment.ID != id {
						t.Fatalf("%s got payment %s, want %s", name, got.Payment.ID, id)
					}
					cursor = got.Cursor
				}
			}
			// Nothing else arrives: a ping's pong is the next message.
			for name, w := range clients {
				w.send(map[string]any{"type": "ping"})
				var m wsMessage
				if err := json.Unmarshal(mustRead(t, w), &m); err != nil || m.Type != "pong" {
					t.Fatalf("%s: after its changes got %+v (%v), want only the pong", name, m, err)
				}
			}
			// Resuming replays for one client: it runs alone, not as a fifth
			// shared execution.
			clients["A admin 2"].subscribe("resume", paymentUpdatedQuery, map[string]any{"after": cursor})
			time.Sleep(100 * time.Millisecond)
			if n := app.SharedExecutions(e.app); n != 4 {
				t.Fatalf("%d shared executions after a resuming subscribe, want 4", n)
			}
		})
	}
}

func waitShared(t *testing.T, e *env, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); app.SharedExecutions(e.app) != n; {
		if time.Now().After(end) {
			t.Fatalf("%d shared executions, want %d", app.SharedExecutions(e.app), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // their hub subscriptions are registered
}

func mustRead(t *testing.T, w *wsClient) []byte {
	t.Helper()
	_, b, err := w.c.Read(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNoSubscriptionReachesTheViewer guards what shared execution relies
// on: the Viewer type (the only one that shows the principal's Subject,
// which a visibility scope leaves out) is not reachable from Subscription.
// A schema change that makes it reachable must add Subject to shareScope.
func TestNoSubscriptionReachesTheViewer(t *testing.T) {
	s := graph.PublicSchema()
	seen := map[string]bool{}
	var walk func(name string, path string)
	walk = func(name, path string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if name == "Viewer" {
			t.Fatalf("Subscription reaches Viewer: %s", path)
		}
		def := s.Types[name]
		if def == nil {
			return
		}
		for _, f := range def.Fields {
			walk(f.Type.Name(), path+"."+f.Name)
		}
		for _, p := range s.GetPossibleTypes(def) {
			walk(p.Name, path+"…"+p.Name)
		}
	}
	walk(s.Subscription.Name, "Subscription")
	if len(seen) < 5 {
		t.Fatalf("walked only %v", seen)
	}
}
