package store_test

import (
	"context"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestUpdateRowsWritesEachRowItsOwnValues: one statement gives each row its
// own values (ints, strings, times, JSON and NULL), leaves the columns a row
// does not name alone, and stamps updated_at; ent reads back what was
// written, on both dialects.
func TestUpdateRowsWritesEachRowItsOwnValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := viewer.SystemContext(context.Background())
		m := db.Client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").SaveX(ctx)
		mk := func(ref string) *ent.Payment {
			return db.Client.Payment.Create().SetMerchantID(m.ID).SetAmount(1000).SetCurrency("USD").
				SetMerchantReference(ref).SetNextAction(map[string]any{"type": "redirect"}).SaveX(ctx)
		}
		a, b, c := mk("a"), mk("b"), mk("c")
		at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
		now := time.Now().UTC().Truncate(time.Microsecond)
		_, err := store.UpdateRows(ctx, db.Client, payment.Table, []store.RowUpdate{
			{ID: a.ID, Set: store.Row{payment.FieldAmountCaptured: int64(1000), payment.FieldStatus: "SUCCEEDED", payment.FieldNextAction: nil}},
			{ID: b.ID, Set: store.Row{payment.FieldCaptureBefore: at, payment.FieldNextAction: map[string]any{"type": "qr_code", "n": 2}}},
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		ga, gb, gc := db.Client.Payment.GetX(ctx, a.ID), db.Client.Payment.GetX(ctx, b.ID), db.Client.Payment.GetX(ctx, c.ID)
		if ga.AmountCaptured != 1000 || ga.Status != paymentstatus.Succeeded || ga.NextAction != nil || ga.MerchantReference != "a" {
			t.Fatalf("a = %+v", ga)
		}
		if gb.CaptureBefore == nil || !gb.CaptureBefore.Equal(at) || gb.NextAction["type"] != "qr_code" || gb.Status != b.Status || gb.AmountCaptured != 0 {
			t.Fatalf("b = %+v", gb)
		}
		if !ga.UpdatedAt.Equal(now) || !gb.UpdatedAt.Equal(now) {
			t.Fatalf("updated_at %v, %v, want %v", ga.UpdatedAt, gb.UpdatedAt, now)
		}
		if gc.UpdatedAt.Equal(now) || gc.NextAction["type"] != "redirect" {
			t.Fatalf("a row not named changed: %+v", gc)
		}
	})
}
