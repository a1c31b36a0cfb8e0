package reports

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/reportrollup"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// outbox writes events as the relay leaves them: committed and numbered.
type outbox struct {
	t      *testing.T
	client *ent.Client
	seq    int64
}

func (o *outbox) write(merchant, typ, object string, at time.Time, data map[string]any) {
	o.t.Helper()
	o.seq++
	err := o.client.Event.Create().SetMerchantID(merchant).SetType(typ).SetObjectID(object).SetData(data).
		SetCreatedAt(at).SetSeq(o.seq).Exec(viewer.SystemContext(context.Background()))
	if err != nil {
		o.t.Fatal(err)
	}
}

func merchant(t *testing.T, client *ent.Client) string {
	t.Helper()
	return client.Merchant.Create().SetLegalName("Acme").SetCountry("US").SetSettlementCurrency("USD").
		SaveX(viewer.SystemContext(context.Background())).ID
}

func drain(t *testing.T, r *Rollup) {
	t.Helper()
	for i := 0; i < 100; i++ {
		n, err := r.Step(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the rollup never caught up")
}

func TestRollupAppliesEveryEventOnceAcrossReplicasAndReplays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := viewer.SystemContext(context.Background())
		at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		ob := &outbox{t: t, client: db.Client}
		m := merchant(t, db.Client)
		const n = 40
		var want Counts
		for i := 0; i < n; i++ {
			p, err := db.Client.Payment.Create().SetMerchantID(m).SetAmount(1000).SetCurrency("USD").
				SetAmountCaptured(1000).SetFeeAmount(30).SetStatus(paymentstatus.Succeeded).SetConnector("acme").
				SetPaymentMethodType("card").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ob.write(m, "payment.processing", p.ID, at, map[string]any{"connector": "acme"})
			if i%4 == 0 { // declined once, then succeeded
				ob.write(m, "payment.failed", p.ID, at, map[string]any{"status": "requires_payment_method"})
				want.Declined++
			}
			ob.write(m, "payment.succeeded", p.ID, at.Add(time.Minute), map[string]any{"connector": "acme"})
			ob.write(m, "api_key.revoked", "key_1", at, nil)
			want.Payments++
			want.Succeeded++
			want.Authorized++
			want.Gross += 1000
			want.Fees += 30
		}
		a := NewRollup(RollupConfig{Client: db.Client, Batch: 7})
		b := NewRollup(RollupConfig{Client: db.Client, Batch: 7})
		var wg sync.WaitGroup
		for _, r := range []*Rollup{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); drain(t, r) }()
		}
		wg.Wait()
		check := func(when string) {
			t.Helper()
			rows, err := db.Client.ReportRollup.Query().Order(ent.Asc(reportrollup.FieldID)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The hour's row through acme by card, and the hour's total.
			if len(rows) != 2 || rows[0].Total || !rows[1].Total {
				t.Fatalf("%s: rollup rows %v, want one detailed and its total", when, rows)
			}
			r, tot := rows[0], rows[1]
			if tot.Payments != want.Payments || tot.Gross != want.Gross || tot.Declined != want.Declined || !tot.Hour.Equal(at) {
				t.Fatalf("%s: total %+v, want %+v", when, tot, want)
			}
			got := Counts{Payments: r.Payments, Succeeded: r.Succeeded, Failed: r.Failed, Authorized: r.Authorized,
				Declined: r.Declined, Refunds: r.Refunds, Disputes: r.Disputes, Gross: r.Gross, Fees: r.Fees,
				Refunded: r.Refunded, Disputed: r.Disputed}
			if got != want || !r.Hour.Equal(at) || r.Currency != "USD" || r.Connector != "acme" || r.Method != "card" {
				t.Fatalf("%s: rollup %+v %+v, want %+v", when, r, got, want)
			}
		}
		check("two replicas")
		// A replay from the start (a cursor lost, a restore) counts nothing twice.
		if err := db.Client.ReportCursor.UpdateOneID("report_rollup").SetSeq(0).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		drain(t, a)
		check("replayed")
		// A restarted consumer resumes from its cursor.
		ob.write(m, "payment.failed", "pay_missing", at, nil) // no row: counts nothing
		c := NewRollup(RollupConfig{Client: db.Client})
		drain(t, c)
		check("restarted")
		cur, err := db.Client.ReportCursor.Get(ctx, "report_rollup")
		if err != nil || cur.Seq != ob.seq {
			t.Fatalf("cursor = %+v, %v; want %d", cur, err, ob.seq)
		}
	})
}

func TestRollupWaitsAtAGapInSeq(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	ctx := viewer.SystemContext(context.Background())
	m := merchant(t, db.Client)
	p, err := db.Client.Payment.Create().SetMerchantID(m).SetAmount(1000).SetCurrency("USD").
		SetStatus(paymentstatus.Processing).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ob := &outbox{t: t, client: db.Client}
	ob.write(m, "payment.processing", p.ID, time.Now(), nil)
	ob.seq++ // seq 2 not committed yet
	ob.write(m, "payment.processing", p.ID, time.Now(), nil)
	r := NewRollup(RollupConfig{Client: db.Client})
	if n, err := r.Step(context.Background()); err != nil || n != 1 {
		t.Fatalf("step = %d, %v; want 1 (up to the gap)", n, err)
	}
	if n, err := r.Step(context.Background()); err != nil || n != 0 {
		t.Fatalf("step = %d, %v; want 0 (waiting at the gap)", n, err)
	}
}
