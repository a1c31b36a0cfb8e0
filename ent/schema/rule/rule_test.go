package rule_test

import (
	"context"
	"errors"
	"testing"

	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/vocab/viewer"
)

// TestTenantIsolationInTheDataLayer goes around every resolver and uses the ent
// client directly as merchant A: B's rows are invisible to queries, edges and
// counts, and updates, deletes and creates aimed at B change nothing.
func TestTenantIsolationInTheDataLayer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		c := db.Client
		a := c.Merchant.Create().SetLegalName("A").SetCountry("SG").SetSettlementCurrency("SGD").SaveX(sys)
		b := c.Merchant.Create().SetLegalName("B").SetCountry("DE").SetSettlementCurrency("EUR").SaveX(sys)
		payB := c.Payment.Create().SetMerchantID(b.ID).SetAmount(100).SetCurrency("EUR").SaveX(sys)
		c.PaymentAttempt.Create().SetMerchantID(b.ID).SetPaymentID(payB.ID).SetConnector("x").SetAmount(100).
			SetCurrency("EUR").SetChannelIdempotencyKey("k-b").SaveX(sys)
		payA := c.Payment.Create().SetMerchantID(a.ID).SetAmount(100).SetCurrency("SGD").SaveX(sys)

		asA := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.MerchantUser, Subject: "usr_a", MerchantID: a.ID, Role: viewer.RoleAdmin})

		if _, err := c.Payment.Get(asA, payB.ID); !ent.IsNotFound(err) {
			t.Fatalf("Get B's payment as A: %v", err)
		}
		if n := c.Payment.Query().CountX(asA); n != 1 {
			t.Fatalf("A counts %d payments, want 1", n)
		}
		if n := c.PaymentAttempt.Query().CountX(asA); n != 0 {
			t.Fatalf("A sees %d attempts, want 0", n)
		}
		if ms := c.Merchant.Query().AllX(asA); len(ms) != 1 || ms[0].ID != a.ID {
			t.Fatalf("A sees merchants %v", ms)
		}
		// Edges are filtered too: B's merchant through A's payment's edge is not B.
		if n := c.Payment.Query().Where(payment.ID(payB.ID)).QueryAttempts().CountX(asA); n != 0 {
			t.Fatalf("edge traversal reached B's attempts: %d", n)
		}
		// Bulk update and delete aimed at B affect nothing.
		if n, err := c.Payment.Update().Where(payment.ID(payB.ID)).SetDescription("pwned").Save(asA); err != nil || n != 0 {
			t.Fatalf("update B's payment as A: n=%d err=%v", n, err)
		}
		if n, err := c.Refund.Delete().Exec(asA); err != nil || n != 0 {
			t.Fatalf("delete as A: n=%d err=%v", n, err)
		}
		if err := c.Payment.UpdateOneID(payB.ID).SetDescription("pwned").Exec(asA); !ent.IsNotFound(err) {
			t.Fatalf("UpdateOne B's payment as A: %v", err)
		}
		if got := c.Payment.GetX(sys, payB.ID); got.Description != "" {
			t.Fatalf("B's payment was changed: %q", got.Description)
		}
		// Creating a row for B is refused; a create without a merchant gets A's.
		_, err := c.Customer.Create().SetMerchantID(b.ID).SetEmail("x@y.z").Save(asA)
		if !errors.Is(err, privacy.Deny) {
			t.Fatalf("create for B as A: %v", err)
		}
		cus := c.Customer.Create().SetEmail("mine@a.test").SaveX(asA)
		if cus.MerchantID != a.ID {
			t.Fatalf("create stamped merchant %q, want A", cus.MerchantID)
		}
		// Own rows stay usable.
		c.Payment.UpdateOneID(payA.ID).SetDescription("ok").ExecX(asA)

		// No viewer, no data.
		if _, err := c.Payment.Query().All(ctx); !errors.Is(err, privacy.Deny) {
			t.Fatalf("anonymous query: %v", err)
		}
		// Audit rows are append-only, even for operators.
		op := viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.Operator, Subject: "op"})
		au := c.AuditLog.Create().SetActorKind("operator").SetActorID("op").SetAction("x").SaveX(op)
		if err := c.AuditLog.DeleteOneID(au.ID).Exec(op); !errors.Is(err, privacy.Deny) {
			t.Fatalf("operator deleted an audit row: %v", err)
		}
	})
}
