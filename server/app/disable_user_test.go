package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/merchantuser"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

const disableUser = `mutation($id: ID!) { disableMerchantUser(id: $id) { id status } }`
const enableUser = `mutation($id: ID!) { enableMerchantUser(id: $id) { id status } }`

// TestADisabledMerchantUserIsCutOffAtOnce: a merchant admin disables a
// user; the user's open socket closes with 4403 within 5 s, their next
// HTTP call and a new socket are refused (UNAUTHENTICATED), one
// merchant_user.disabled is written however often it is repeated, and an
// operator enables them again. Who may not: a developer (FORBIDDEN),
// another merchant's admin and an unknown ID (NOT_FOUND), the admin
// themselves (BAD_USER_INPUT). On SQLite and MySQL.
func TestADisabledMerchantUserIsCutOffAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, srv := liveEnvWith(t, newEnv(t, db))
		sys := viewer.SystemContext(context.Background())
		userOf := func(email string) *ent.MerchantUser {
			t.Helper()
			u, err := e.db.Client.MerchantUser.Query().Where(merchantuser.MerchantID(e.a.ID), merchantuser.Email(email)).Only(sys)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		analyst, admin := userOf("analyst@alpha.test"), userOf("admin@alpha.test")
		bAdmin := e.mint(viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_b_admin", MerchantID: e.b.ID, Role: viewer.RoleAdmin})
		const me = `{ viewer { subject } }`
		if r := e.do("MERCHANT_ANALYST", me, nil); len(r.Errors) > 0 {
			t.Fatalf("analyst before: %s", r.Raw)
		}

		w := subscribedWS(t, srv, e.tokens["MERCHANT_ANALYST"], "1", paymentUpdatedQuery, nil)

		for _, c := range []struct {
			name, principal, id, code string
		}{
			{"a developer", "MERCHANT_DEVELOPER", analyst.ID, "FORBIDDEN"},
			{"another merchant's admin", bAdmin, analyst.ID, "NOT_FOUND"},
			{"an unknown user", "MERCHANT_ADMIN", "usr_01jdz8k3q6v1y2m4n5p7r8s9t0", "NOT_FOUND"},
			{"the admin themselves", "MERCHANT_ADMIN", admin.ID, "BAD_USER_INPUT"},
		} {
			if r := e.do(c.principal, disableUser, map[string]any{"id": c.id}); r.code() != c.code {
				t.Fatalf("%s disabling: %s, want %s", c.name, r.Raw, c.code)
			}
		}
		if r := e.do(bAdmin, enableUser, map[string]any{"id": analyst.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("another merchant's admin enabling: %s", r.Raw)
		}
		if r := e.do("MERCHANT_ANALYST", me, nil); len(r.Errors) > 0 {
			t.Fatalf("a refused disable cut the analyst off: %s", r.Raw)
		}

		start := time.Now()
		for range 2 { // the second changes nothing
			var got struct {
				Data struct{ DisableMerchantUser struct{ ID, Status string } }
			}
			r := e.do("MERCHANT_ADMIN", disableUser, map[string]any{"id": analyst.ID})
			if err := json.Unmarshal([]byte(r.Raw), &got); err != nil || got.Data.DisableMerchantUser.Status != "DISABLED" {
				t.Fatalf("disable: %s", r.Raw)
			}
		}
		// HTTP: refused at once.
		if r := e.do("MERCHANT_ANALYST", me, nil); r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("a disabled user's call: %d %s", r.Status, r.Raw)
		}
		// The open socket: closed with 4403, within 5 s.
		w.closedWith(4403)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("socket closed %s after the disable", d)
		}
		// A new socket: refused at connection_init.
		w2 := dialWS(t, srv, nil)
		w2.init(e.tokens["MERCHANT_ANALYST"])
		w2.closedWith(4403)
		// The other users go on.
		if r := e.do("MERCHANT_DEVELOPER", me, nil); len(r.Errors) > 0 {
			t.Fatalf("another user cut off: %s", r.Raw)
		}

		// The operator enables the user again: their token works.
		for range 2 {
			if r := e.do("OPERATOR", enableUser, map[string]any{"id": analyst.ID}); len(r.Errors) > 0 {
				t.Fatalf("enable: %s", r.Raw)
			}
		}
		if r := e.do("MERCHANT_ANALYST", me, nil); len(r.Errors) > 0 {
			t.Fatalf("an enabled user's call: %s", r.Raw)
		}
		ackedWS(t, srv, e.tokens["MERCHANT_ANALYST"]) // and their new socket is acknowledged

		// One event per transition, about the user, in the merchant's
		// events and its audit log.
		evs, err := e.db.Client.Event.Query().Where(event.ObjectID(analyst.ID)).Order(ent.Asc(event.FieldID)).All(sys)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Type != "merchant_user.disabled" || evs[1].Type != "merchant_user.enabled" ||
			evs[0].MerchantID != e.a.ID || evs[0].Data["merchant_user_id"] != analyst.ID {
			t.Fatalf("events %+v", evs)
		}
		var listed struct {
			Data struct {
				Events struct {
					Edges []struct{ Node struct{ Type string } }
				}
			}
		}
		r := e.do("MERCHANT_ADMIN", `query($id: ID) { events(first: 10, filter: {objectID: $id}) { edges { node { type } } } }`,
			map[string]any{"id": analyst.ID})
		if err := json.Unmarshal([]byte(r.Raw), &listed); err != nil || len(listed.Data.Events.Edges) != 2 {
			t.Fatalf("events query: %s", r.Raw)
		}
	})
}
