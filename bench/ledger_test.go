// Package bench holds Strait's load, latency and fault benchmarks. Each prints
// its figures next to a baseline measured in the same run on the same database.
package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// BenchmarkLedgerEntries measures balanced journal entries posted per second on
// MySQL (a capture: channel receivable −X, merchant available +X−fee, platform
// fees +fee, over 1,000 merchants) by 256 concurrent callers through the
// group-committing ledger, and beside it the bare single-row autocommit INSERT
// rate of 16 connections on the same database in the same run. It prints both
// and their ratio. Run it with
//
//	STRAIT_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/strait_money' \
//	  go test ./bench -run '^$' -bench LedgerEntries -benchtime 1x
//
// Each phase lasts STRAIT_BENCH_DURATION (default 10s).
func BenchmarkLedgerEntries(b *testing.B) {
	db := storetest.Open(b, "mysql")
	dur := 10 * time.Second
	if s := os.Getenv("STRAIT_BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		dur = d
	}
	ctx := viewer.SystemContext(context.Background())

	inserts := insertRate(b, db, dur)

	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	defer l.Close()
	usd := money.MustCurrency("USD")
	const merchants = 1000
	// Create the accounts up front so the run measures posting, not first use.
	for m := range merchants {
		if _, err := l.Account(ctx, ledger.MerchantAccount(fmt.Sprintf("mer_%d", m), ledger.KindAvailable, usd)); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	entries := run(dur, 256, func(w, i int) error {
		n := seq.Add(1)
		_, err := l.Post(ctx, ledger.Entry{
			Source:      ledger.Source{Type: ledger.SourceCapture, ID: fmt.Sprintf("pay_%d", n)},
			EffectiveAt: time.Now(),
			Postings: []ledger.Posting{
				{Account: ledger.ChannelAccount("cardnet", usd), Amount: money.Amount{Minor: -10000, Currency: usd}},
				{Account: ledger.MerchantAccount(fmt.Sprintf("mer_%d", n%merchants), ledger.KindAvailable, usd), Amount: money.Amount{Minor: 9710, Currency: usd}},
				{Account: ledger.PlatformAccount(ledger.KindFees, usd), Amount: money.Amount{Minor: 290, Currency: usd}},
			},
		})
		return err
	})
	if bad, err := l.Verify(ctx); err != nil || len(bad) > 0 {
		b.Fatalf("ledger does not verify after the run: %v %v", bad, err)
	}
	b.ReportMetric(entries, "entries/s")
	b.ReportMetric(inserts, "inserts/s")
	b.ReportMetric(entries/inserts, "ratio")
	fmt.Printf("ledger: %.0f balanced entries/s (3 postings each, 256 callers); bare INSERT: %.0f rows/s (16 connections); ratio %.2f\n",
		entries, inserts, entries/inserts)
}

// run calls fn from workers goroutines for d and returns the calls per second.
func run(d time.Duration, workers int, fn func(w, i int) error) float64 {
	var done atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := fn(w, i); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		panic(fmt.Sprintf("bench: %v", err))
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// insertRate is the baseline every MySQL figure is stated against: bare
// single-row autocommit INSERTs per second from 16 connections, for d, into
// a table of the database under test. It is what this server and disk can
// commit at all, so a ratio to it carries over between machines better than
// a raw rate does.
func insertRate(b *testing.B, db *store.DB, d time.Duration) float64 {
	b.Helper()
	ctx := context.Background()
	if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench_inserts (id BIGINT AUTO_INCREMENT PRIMARY KEY, v BIGINT NOT NULL, created_at DATETIME(6) NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	return run(d, 16, func(w, i int) error {
		_, err := db.SQL.ExecContext(ctx, "INSERT INTO bench_inserts (v, created_at) VALUES (?, ?)", i, time.Now().UTC())
		return err
	})
}
