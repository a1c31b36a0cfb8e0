package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestIDORScan walks node and nodes over every ID that belongs to merchant B,
// as each of merchant A's principals, and gets nothing back: no data, only
// NOT_FOUND or null, exactly as for an ID that never existed.
func TestIDORScan(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		if len(e.idsOfB) < 10 {
			t.Fatalf("fixture too small: %d ids of B", len(e.idsOfB))
		}
		for _, p := range []string{"MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY", "CASHIER"} {
			t.Run(p, func(t *testing.T) {
				for _, id := range e.idsOfB {
					r := e.do(p, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
					if string(r.Data["node"]) != "null" || r.code() != "NOT_FOUND" {
						t.Fatalf("node(%s): %s", id, r.Raw)
					}
					// Typed lookups leak no more than node does.
					r = e.do(p, `query($id: ID!) { payment(id: $id) { id } }`, map[string]any{"id": id})
					if r.code() != "NOT_FOUND" && r.code() != "FORBIDDEN" {
						t.Fatalf("payment(%s): %s", id, r.Raw)
					}
				}
				r := e.do(p, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": e.idsOfB})
				var nodes []json.RawMessage
				if err := json.Unmarshal(r.Data["nodes"], &nodes); err != nil {
					t.Fatalf("nodes: %s", r.Raw)
				}
				if len(nodes) != len(e.idsOfB) {
					t.Fatalf("nodes returned %d entries for %d ids", len(nodes), len(e.idsOfB))
				}
				for i, n := range nodes {
					if string(n) != "null" {
						t.Fatalf("nodes leaked %s: %s", e.idsOfB[i], n)
					}
				}
				// Lists never include B's rows either.
				r = e.do(p, `{ payments(first: 100) { edges { node { id } } } }`, nil)
				for _, id := range e.idsOfB {
					if r.code() == "" && containsID(r.Raw, id) {
						t.Fatalf("payments list leaked %s", id)
					}
				}
			})
		}
		t.Run("own IDs resolve", func(t *testing.T) {
			r := e.do("MERCHANT_ANALYST", `query($id: ID!) { node(id: $id) { id ... on Payment { amount { amount currency } } } }`, map[string]any{"id": e.payA[0].ID})
			if r.code() != "" || !containsID(r.Raw, e.payA[0].ID) {
				t.Fatalf("own payment: %s", r.Raw)
			}
			if !containsID(r.Raw, `"amount":"500000000000"`) {
				t.Fatalf("amount above 2^31 must come back exactly, as a string: %s", r.Raw)
			}
		})
		t.Run("cashier sees only its session", func(t *testing.T) {
			r := e.do("CASHIER", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": e.session.ID})
			if r.code() != "" || !containsID(r.Raw, e.session.ID) {
				t.Fatalf("cashier own session: %s", r.Raw)
			}
			r = e.do("CASHIER", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": e.payA[0].ID})
			if r.code() != "NOT_FOUND" {
				t.Fatalf("cashier reached a payment outside its session: %s", r.Raw)
			}
		})
		t.Run("operator sees everyone", func(t *testing.T) {
			r := e.do("OPERATOR", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": e.idsOfB})
			for _, id := range e.idsOfB {
				if !containsID(r.Raw, id) {
					t.Fatalf("operator missing %s: %s", id, r.Raw)
				}
			}
		})
	})
}

func containsID(raw, id string) bool {
	return id != "" && strings.Contains(raw, id)
}
