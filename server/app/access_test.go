package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

var principals = []string{"", "OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY", "CASHIER"}

var (
	everyone    = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY", "CASHIER"}
	merchantAPI = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER", "MERCHANT_ANALYST", "API_KEY"}
	keyManagers = []string{"OPERATOR", "MERCHANT_ADMIN", "MERCHANT_DEVELOPER"}
	admins      = []string{"OPERATOR", "MERCHANT_ADMIN"}
	operators   = []string{"OPERATOR"}
)

// TestAccessMatrix calls every operation as every principal: the allowed ones
// succeed, an anonymous caller is UNAUTHENTICATED (HTTP 401) and everyone else
// is FORBIDDEN, with nothing written.
func TestAccessMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ops := []struct {
			name    string
			query   string
			vars    func(principal string) map[string]any
			allowed []string
		}{
			{"viewer", `{ viewer { principal subject } }`, nil, everyone},
			{"merchant", `query($id: ID) { merchant(id: $id) { id legalName } }`,
				func(string) map[string]any { return map[string]any{"id": e.a.ID} }, merchantAPI},
			{"merchants", `{ merchants(first: 10) { edges { node { id } } } }`, nil, operators},
			{"apiKeys", `{ apiKeys(first: 10) { edges { node { id prefix } } } }`, nil, keyManagers},
			{"auditLogs", `{ auditLogs(first: 10) { edges { node { id action } } } }`, nil, admins},
			{"payment", `query($id: ID!) { payment(id: $id) { id amount { amount currency } } }`,
				func(string) map[string]any { return map[string]any{"id": e.payA[0].ID} }, merchantAPI},
			{"payments", `{ payments(first: 10) { edges { node { id } } } }`, nil, merchantAPI},
			{"createMerchant", `mutation { createMerchant(input: {legalName: "New Co", country: "JP", settlementCurrency: "JPY"}) { id } }`, nil, operators},
			{"createMerchantUser", `mutation($m: ID, $email: String!) { createMerchantUser(input: {merchantID: $m, email: $email, role: ANALYST}) { id } }`,
				func(p string) map[string]any {
					return map[string]any{"m": e.a.ID, "email": fmt.Sprintf("new-%s@alpha.test", p)}
				}, admins},
			{"createAPIKey", `mutation($m: ID) { createAPIKey(input: {merchantID: $m, name: "ci"}) { secret apiKey { id } } }`,
				func(string) map[string]any { return map[string]any{"m": e.a.ID} }, keyManagers},
			{"revokeAPIKey", `mutation($id: ID!) { revokeAPIKey(id: $id) { id revokedAt } }`,
				func(string) map[string]any { return map[string]any{"id": e.newKey(e.a.ID)} }, keyManagers},
		}
		for _, op := range ops {
			for _, p := range principals {
				name := p
				if name == "" {
					name = "ANONYMOUS"
				}
				t.Run(op.name+"/"+name, func(t *testing.T) {
					var vars map[string]any
					if op.vars != nil {
						vars = op.vars(name)
					}
					before := e.countRows()
					r := e.do(p, op.query, vars)
					switch {
					case p == "":
						if r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
							t.Fatalf("anonymous: status %d code %q: %s", r.Status, r.code(), r.Raw)
						}
					case slices.Contains(op.allowed, p):
						if len(r.Errors) > 0 {
							t.Fatalf("allowed principal got errors: %s", r.Raw)
						}
					default:
						if r.code() != "FORBIDDEN" {
							t.Fatalf("want FORBIDDEN, got status %d: %s", r.Status, r.Raw)
						}
						if after := e.countRows(); after != before {
							t.Fatalf("a refused call wrote rows: %d before, %d after", before, after)
						}
					}
				})
			}
		}
	})
}

// newKey creates an API key for merchant and returns its ID.
func (e *env) newKey(merchantID string) string {
	e.t.Helper()
	k, _, err := e.app.Tenancy.CreateAPIKey(viewer.SystemContext(e.t.Context()), tenancyKeyInput(merchantID))
	if err != nil {
		e.t.Fatal(err)
	}
	return k.ID
}

// countRows counts the rows of the tables a refused call might write to.
func (e *env) countRows() int {
	e.t.Helper()
	ctx := viewer.SystemContext(e.t.Context())
	c := e.db.Client
	total := 0
	for _, n := range []func() (int, error){
		func() (int, error) { return c.Merchant.Query().Count(ctx) },
		func() (int, error) { return c.MerchantUser.Query().Count(ctx) },
		func() (int, error) { return c.APIKey.Query().Count(ctx) },
		func() (int, error) { return c.AuditLog.Query().Count(ctx) },
	} {
		v, err := n()
		if err != nil {
			e.t.Fatal(err)
		}
		total += v
	}
	return total
}
