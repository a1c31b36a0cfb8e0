package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/reports"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// The benchmark merchant's traffic: payments spread over 30 days, in two
// currencies, through three connectors, by three methods; 85 % approved
// (a tenth of them after one decline), 15 % declined for good, 3 % of the
// approved refunded in part, 0.5 % disputed.
var (
	benchCurrencies = []string{"SGD", "USD"}
	benchConnectors = []string{"cardnet", "acquirer2", "walletpay"}
	benchMethods    = []string{"card", "wallet", "bank_transfer"}
)

const reportDays = 30

// benchPayment makes payment i's events and rows, as the cashier, refunds
// and disputes write them.
func benchPayment(rng *rand.Rand, merchant string, i int, start time.Time) ([]reports.Event, reports.Rows) {
	id := fmt.Sprintf("pay_%s_%08d", merchant[len(merchant)-8:], i)
	at := start.Add(time.Duration(rng.Int64N(int64(reportDays * 24 * time.Hour))))
	amount := 500 + rng.Int64N(50_000)
	p := reports.Payment{ID: id, Currency: benchCurrencies[rng.IntN(len(benchCurrencies))],
		Connector: benchConnectors[rng.IntN(len(benchConnectors))], Method: benchMethods[rng.IntN(len(benchMethods))]}
	rows := reports.Rows{Payments: map[string]reports.Payment{}, Refunds: map[string]reports.Refund{}}
	ev := func(n int, typ, object string, after time.Duration, data map[string]any) reports.Event {
		return reports.Event{ID: fmt.Sprintf("evt_%s_%d", id, n), Type: typ, MerchantID: merchant, ObjectID: object, Data: data, At: at.Add(after)}
	}
	evs := []reports.Event{ev(0, "payment.processing", id, 0, map[string]any{"connector": p.Connector})}
	roll := rng.IntN(1000)
	switch {
	case roll < 150:
		evs = append(evs, ev(1, "payment.failed", id, time.Second, map[string]any{"status": "failed", "connector": p.Connector}))
	default:
		if roll < 235 {
			evs = append(evs, ev(1, "payment.failed", id, time.Second, map[string]any{"status": "requires_payment_method", "connector": p.Connector}))
		}
		p.AmountCaptured, p.FeeAmount = amount, 30+amount*29/1000
		evs = append(evs, ev(2, "payment.succeeded", id, 2*time.Second, map[string]any{"status": "succeeded", "connector": p.Connector}))
		if roll >= 970 {
			rid := "ref_" + id
			rows.Refunds[rid] = reports.Refund{ID: rid, PaymentID: id, Currency: p.Currency, Amount: amount / 2, FeeReversed: p.FeeAmount / 2}
			evs = append(evs, ev(3, "refund.succeeded", rid, time.Hour, nil))
		}
		if roll >= 995 {
			evs = append(evs, ev(4, "dispute.created", "dp_"+id, 2*time.Hour,
				map[string]any{"payment_id": id, "amount": float64(amount), "currency": p.Currency}))
		}
	}
	rows.Payments[id] = p
	return evs, rows
}

// seedRollups folds n payments' events into merchant's rollups with the
// consumer's own fold and upsert (reports.Fold, reports.AddRollups), in
// batches of 1,000 payments, and returns the events folded per second.
// The marks the live consumer also writes are left out here (each batch
// holds whole payments, so nothing in it can count twice); the consumer's
// full rate is measured separately (BenchmarkReportRollupConsumer).
func seedRollups(b *testing.B, db *store.DB, merchant string, n int, start time.Time) float64 {
	b.Helper()
	ctx := viewer.SystemContext(context.Background())
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	began, events := time.Now(), 0
	for i := 0; i < n; i += 1000 {
		var evs []reports.Event
		rows := reports.Rows{Payments: map[string]reports.Payment{}, Refunds: map[string]reports.Refund{}}
		for j := i; j < i+1000 && j < n; j++ {
			e, r := benchPayment(rng, merchant, j, start)
			evs = append(evs, e...)
			for k, v := range r.Payments {
				rows.Payments[k] = v
			}
			for k, v := range r.Refunds {
				rows.Refunds[k] = v
			}
		}
		events += len(evs)
		deltas, _ := reports.Fold(evs, rows, map[string]bool{})
		if _, err := store.WithTx(ctx, db.Client, func(tx *ent.Tx) (struct{}, error) {
			return struct{}{}, reports.AddRollups(ctx, tx.Client(), deltas)
		}); err != nil {
			b.Fatal(err)
		}
	}
	return float64(events) / time.Since(began).Seconds()
}

// BenchmarkMerchantReport measures merchantReport for 30 days by day
// (reports.Service, as the resolver calls it, on MySQL when the tests have
// it) for a merchant with 10k, 100k and 1M payments, p50 and p99 over 200
// calls each, beside the same run's bare single-row INSERT. Goal: p99 ≤
// 100 ms at 1M.
//
//	STRAIT_TEST_MYSQL_DSN='root:@tcp(127.0.0.1:3306)/strait_reports' \
//	  go test -run '^$' -bench 'MerchantReport|ReportRollupConsumer' -benchtime 1x -timeout 30m ./bench/
func BenchmarkMerchantReport(b *testing.B) {
	db := eventsDB(b)
	sys := viewer.SystemContext(context.Background())
	svc := reports.NewService(db.Client)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -reportDays)
	q := reports.Query{From: start.Format("2006-01-02"), To: start.AddDate(0, 0, reportDays-1).Format("2006-01-02"), GroupBy: reports.ByDay}
	const calls = 200
	out := "\n| payments | rollup rows | seeded (events/s) | p50 | p99 | groups |\n| --- | --- | --- | --- | --- | --- |\n"
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		m := db.Client.Merchant.Create().SetLegalName(fmt.Sprintf("Bench %d", n)).SetCountry("SG").SetSettlementCurrency("SGD").SaveX(sys)
		rate := seedRollups(b, db, m.ID, n, start)
		rowsN := db.Client.ReportRollup.Query().CountX(sys)
		ctx := viewer.NewContext(context.Background(), viewer.Viewer{Kind: viewer.APIKey, Subject: "key_bench", MerchantID: m.ID})
		var lat []time.Duration
		var groups int
		for i := 0; i < calls; i++ {
			t0 := time.Now()
			r, err := svc.MerchantReport(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			groups = len(r.Groups)
		}
		p50, p99 := percentiles(lat)
		out += fmt.Sprintf("| %d | %d (all merchants) | %.0f | %s | %s | %d |\n", n, rowsN, rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), groups)
		if n == 1_000_000 {
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		}
	}
	// Baseline: a bare single-row INSERT, as many times, on the same database.
	if _, err := db.SQL.Exec("CREATE TABLE bench_bare (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	var bare []time.Duration
	for i := 0; i < calls; i++ {
		t0 := time.Now()
		if _, err := db.SQL.Exec("INSERT INTO bench_bare (id, v) VALUES (?, ?)", i, i); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(t0))
	}
	p50, p99 := percentiles(bare)
	out += fmt.Sprintf("| bare INSERT (baseline) | | | %s | %s | |\n", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
	fmt.Printf("merchantReport, 30 days by day (%s; goal p99 ≤ 100 ms at 1M):%s", db.Dialect, out)
}

// BenchmarkReportRollupConsumer measures the rollup consumer as it runs in
// production: 10,000 payments' rows and their ~23,000 numbered outbox
// events in the database, then reports.Rollup steps (read the events after
// the cursor, load their payments and refunds, fold, write marks and
// upserts, move the cursor, one transaction per 1,000 events) until it has
// applied them all. It prints events applied per second.
func BenchmarkReportRollupConsumer(b *testing.B) {
	db := eventsDB(b)
	sys := viewer.SystemContext(context.Background())
	m := db.Client.Merchant.Create().SetLegalName("Bench consumer").SetCountry("SG").SetSettlementCurrency("SGD").SaveX(sys)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -reportDays)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 10_000
	var seq int64
	for i := 0; i < n; i += 500 {
		var pays []*ent.PaymentCreate
		var refs []*ent.RefundCreate
		var evs []*ent.EventCreate
		for j := i; j < i+500 && j < n; j++ {
			es, rows := benchPayment(rng, m.ID, j, start)
			for _, p := range rows.Payments {
				pays = append(pays, db.Client.Payment.Create().SetID(p.ID).SetMerchantID(m.ID).SetAmount(p.AmountCaptured+1).
					SetCurrency(p.Currency).SetConnector(p.Connector).SetPaymentMethodType(p.Method).
					SetAmountCaptured(p.AmountCaptured).SetFeeAmount(p.FeeAmount).SetStatus(paymentstatus.Succeeded))
			}
			for _, r := range rows.Refunds {
				refs = append(refs, db.Client.Refund.Create().SetID(r.ID).SetMerchantID(m.ID).SetPaymentID(r.PaymentID).
					SetAmount(r.Amount).SetCurrency(r.Currency).SetFeeReversed(r.FeeReversed).SetStatus("SUCCEEDED"))
			}
			for _, e := range es {
				seq++
				evs = append(evs, db.Client.Event.Create().SetMerchantID(m.ID).SetType(e.Type).SetObjectID(e.ObjectID).
					SetData(e.Data).SetCreatedAt(e.At).SetSeq(seq))
			}
		}
		if err := db.Client.Payment.CreateBulk(pays...).Exec(sys); err != nil {
			b.Fatal(err)
		}
		if len(refs) > 0 {
			if err := db.Client.Refund.CreateBulk(refs...).Exec(sys); err != nil {
				b.Fatal(err)
			}
		}
		for k := 0; k < len(evs); k += 500 {
			if err := db.Client.Event.CreateBulk(evs[k:min(k+500, len(evs))]...).Exec(sys); err != nil {
				b.Fatal(err)
			}
		}
	}
	r := reports.NewRollup(reports.RollupConfig{Client: db.Client, StepTimeout: time.Minute})
	b.ResetTimer()
	began := time.Now()
	applied := 0
	for {
		k, err := r.Step(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			break
		}
		applied += k
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if int64(applied) != seq {
		b.Fatalf("applied %d of %d events", applied, seq)
	}
	rate := float64(applied) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	fmt.Printf("report rollup consumer (%s): %d events of %d payments applied in %s: %.0f events/s (%.0f payments/s)\n",
		db.Dialect, applied, n, elapsed.Round(time.Millisecond), rate, float64(n)/elapsed.Seconds())
}
