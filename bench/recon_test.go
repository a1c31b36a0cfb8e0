package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/recon"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// BenchmarkReconciliation reconciles a settlement report of 100,000 and
// then one of 1,000,000 lines against as many captured payments on MySQL,
// and prints for each the lines reconciled per second and the heap's
// high-water mark during the run (runtime.MemStats.HeapAlloc sampled every
// 10 ms), beside the bare single-row INSERT rate of the same database in
// the same run. A flat heap from 100k to 1M lines is the point: the report
// streams in pages (connectors' FetchSettlementReport paging) and the
// records the report lacks are found by an anti-join in the database.
//
// The payments, their attempts and their capture entries are seeded with
// multi-row INSERTs; the channel is an in-process connector that makes each
// page of lines as it is asked for (one line per payment, every line
// matching, so each page posts). It is a benchmark, not a test: `make
// test` never runs it (it needs MySQL and -bench). Run it with
//
//	STRAIT_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/strait_recon' \
//	  go test ./bench -run '^$' -bench Reconciliation -benchtime 1x -timeout 60m
//
// STRAIT_BENCH_RECON_LINES ("100000,1000000" by default) sets the sizes.
func BenchmarkReconciliation(b *testing.B) {
	db := storetest.Open(b, "mysql")
	sizes := []int{100_000, 1_000_000}
	if s := os.Getenv("STRAIT_BENCH_RECON_LINES"); s != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("STRAIT_BENCH_RECON_LINES: %q", s)
			}
			sizes = append(sizes, n)
		}
	}
	ctx := viewer.SystemContext(context.Background())
	inserts := insertRate(b, db, 5*time.Second)
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	defer l.Close()
	m := db.Client.Merchant.Create().SetLegalName("Bench").SetCountry("US").SetSettlementCurrency("USD").SaveX(ctx)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, n := range sizes {
		name := fmt.Sprintf("bench%d", n)
		start := time.Now()
		seedCaptures(b, db, l, m.ID, name, n, day.Add(8*time.Hour))
		seeded := time.Since(start)
		ch := &reportChannel{n: n}
		svc := recon.NewService(recon.Config{Client: db.Client, Ledger: l, Connectors: benchHost{name: ch},
			Now: func() time.Time { return day.Add(30 * time.Hour) }})
		peak, stop := heapHighWater()
		start = time.Now()
		run, err := svc.Reconcile(ctx, name, day.Format(time.DateOnly))
		took := time.Since(start)
		high := stop()
		if err != nil {
			b.Fatal(err)
		}
		if run.Status != "SUCCEEDED" || run.Counts[recon.Matched] != int64(n) || run.LinesRead != int64(n) {
			b.Fatalf("run %+v", run)
		}
		rate := float64(n) / took.Seconds()
		b.ReportMetric(rate, fmt.Sprintf("lines/s@%d", n))
		b.ReportMetric(float64(high)/(1<<20), fmt.Sprintf("peak-heap-MiB@%d", n))
		fmt.Printf("reconciliation: %d lines against %d payments (seeded in %s): %s, %.0f lines/s; heap high-water %.1f MiB (before the run %.1f MiB); bare INSERT %.0f rows/s (16 connections); ratio %.2f\n",
			n, n, seeded.Round(time.Second), took.Round(time.Millisecond), rate, float64(high)/(1<<20), float64(peak)/(1<<20), inserts, rate/inserts)
	}
	b.ReportMetric(inserts, "inserts/s")
}

// heapHighWater collects the garbage, then samples the live heap every
// 10 ms until stop; it returns the heap after the collection and stop,
// which returns the highest sample.
func heapHighWater() (uint64, func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var high atomic.Uint64
	high.Store(ms.HeapAlloc)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			if s.HeapAlloc > high.Load() {
				high.Store(s.HeapAlloc)
			}
		}
	}()
	return ms.HeapAlloc, func() uint64 {
		close(done)
		<-ended
		return high.Load()
	}
}

// line i of a bench report: a capture of 10.00 + (i mod 1000) cents with a
// fee of 30 + (i mod 7) cents.
func benchAmounts(i int) (gross, fee int64) { return 1000 + int64(i%1000), 30 + int64(i%7) }

// reportChannel makes a report of n capture lines, one per seeded payment,
// a page at a time.
type reportChannel struct {
	connectors.Unimplemented
	n int
}

func (c *reportChannel) FetchSettlementReport(_ context.Context, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	from, _ := strconv.Atoi(r.PageToken)
	to := min(from+r.PageSize, c.n)
	out := connectors.SettlementReport{Result: connectors.Approved(), Date: r.Date, Lines: make([]connectors.SettlementLine, 0, to-from)}
	for i := from; i < to; i++ {
		g, f := benchAmounts(i)
		out.Lines = append(out.Lines, connectors.SettlementLine{Type: "capture", PaymentID: "cp_" + strconv.Itoa(i),
			TransactionID: "cap_" + strconv.Itoa(i), Gross: connectors.NewMoney(g, "USD"), Fee: connectors.NewMoney(f, "USD"),
			Net: connectors.NewMoney(g-f, "USD")})
	}
	if to < c.n {
		out.NextPageToken = strconv.Itoa(to)
	}
	return out, nil
}

type benchHost map[string]connectors.Connector

func (h benchHost) Get(name string) (connectors.Connector, bool) { c, ok := h[name]; return c, ok }
func (h benchHost) List() []connectors.Status                    { return nil }

// seedCaptures writes n captured payments through channel, their attempts
// (the channel's payment id cp_<i>) and their capture entries (channel
// receivable −gross, merchant pending +gross), in multi-row INSERTs of
// 2,000 rows, and sets the two accounts' balances to their postings' sum.
func seedCaptures(b *testing.B, db *store.DB, l *ledger.Ledger, merchant, channel string, n int, at time.Time) {
	b.Helper()
	ctx := viewer.SystemContext(context.Background())
	usd := money.MustCurrency("USD")
	recv, err := l.Account(ctx, ledger.ChannelAccount(channel, usd))
	if err != nil {
		b.Fatal(err)
	}
	pend, err := l.Account(ctx, ledger.MerchantAccount(merchant, ledger.KindPending, usd))
	if err != nil {
		b.Fatal(err)
	}
	recvBal, pendBal, pendSeq := int64(0), pend.Balance, pend.Version
	// One connection, without foreign key and unique checks (the rows are
	// made consistent here): seeding is not what is measured.
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0, unique_checks = 0"); err != nil {
		b.Fatal(err)
	}
	const chunk = 2000
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		var pays, atts, ents, posts strings.Builder
		pays.WriteString("INSERT INTO payments (id, created_at, updated_at, amount, currency, amount_captured, status, payment_method_type, connector, fee_amount, merchant_id) VALUES ")
		atts.WriteString("INSERT INTO payment_attempts (id, created_at, updated_at, connector, amount, currency, status, channel_idempotency_key, connector_reference, payment_id, merchant_id) VALUES ")
		ents.WriteString("INSERT INTO journal_entries (id, source_type, source_id, effective_at, posting_hash, created_at) VALUES ")
		posts.WriteString("INSERT INTO postings (id, merchant_id, amount, currency, seq, balance_after, effective_at, created_at, entry_id, account_id) VALUES ")
		ts := at.Format("2006-01-02 15:04:05.000000")
		for i := from; i < to; i++ {
			sep := ","
			if i == from {
				sep = ""
			}
			g, f := benchAmounts(i)
			pay, att, ent := fmt.Sprintf("pay_%s_%d", channel, i), fmt.Sprintf("att_%s_%d", channel, i), fmt.Sprintf("jen_%s_%d", channel, i)
			recvBal -= g
			pendBal += g
			pendSeq++
			fmt.Fprintf(&pays, "%s('%s','%s','%s',%d,'USD',%d,'SUCCEEDED','card','%s',%d,'%s')", sep, pay, ts, ts, g, g, channel, f, merchant)
			fmt.Fprintf(&atts, "%s('%s','%s','%s','%s',%d,'USD','CAPTURED','k_%s','cp_%d','%s','%s')", sep, att, ts, ts, channel, g, att, i, pay, merchant)
			fmt.Fprintf(&ents, "%s('%s','capture','%s','%s','seed','%s')", sep, ent, pay, ts, ts)
			fmt.Fprintf(&posts, "%s('pst_%s_r%d',NULL,%d,'USD',%d,%d,'%s','%s','%s','%s'),('pst_%s_p%d','%s',%d,'USD',%d,%d,'%s','%s','%s','%s')", sep,
				channel, i, -g, i+1, recvBal, ts, ts, ent, recv.ID,
				channel, i, merchant, g, pendSeq, pendBal, ts, ts, ent, pend.ID)
		}
		for _, q := range []*strings.Builder{&pays, &atts, &ents, &posts} {
			if _, err := conn.ExecContext(ctx, q.String()); err != nil {
				b.Fatalf("seed: %v", err)
			}
		}
	}
	for _, u := range []struct {
		id           string
		bal, version int64
	}{{recv.ID, recvBal, int64(n)}, {pend.ID, pendBal, pendSeq}} {
		if _, err := db.SQL.ExecContext(ctx, "UPDATE ledger_accounts SET balance = ?, version = ? WHERE id = ?", u.bal, u.version, u.id); err != nil {
			b.Fatal(err)
		}
	}
}
