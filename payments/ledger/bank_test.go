package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestBankUnderKilledConnections is a Jepsen-style bank test on MySQL: 8
// merchant accounts funded once, 16 goroutines transferring random amounts
// between them, while another goroutine kills a random connection of the
// test's database every few tens of milliseconds. A transfer that fails for
// any reason but a coded refusal is retried with the same source until it has
// a definite outcome, as a real caller would. Afterwards: the total is
// conserved, no account is negative, every posted transfer has exactly one
// entry, every refused one has none, and balances equal their postings.
//
// It runs for STRAIT_BANK_DURATION (default 30s) and is skipped unless
// STRAIT_TEST_MYSQL_DSN is set.
func TestBankUnderKilledConnections(t *testing.T) {
	db := storetest.Open(t, "mysql")
	_ = mysql.SetLogger(log.New(io.Discard, "", 0)) // killed connections are the point; keep the log readable
	duration := 30 * time.Second
	if s := os.Getenv("STRAIT_BANK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("STRAIT_BANK_DURATION: %v", err)
		}
		duration = d
	}
	l := ledger.New(db.Client, ledger.Config{Dialect: db.Dialect})
	defer l.Close()

	const accounts, workers, initial = 8, 16, 1_000_000
	acct := func(i int) ledger.AccountKey {
		return ledger.MerchantAccount(fmt.Sprintf("mer_bank%d", i), ledger.KindAvailable, usd)
	}
	for i := range accounts {
		mustPost(t, l, ledger.Entry{
			Source: ledger.Source{Type: ledger.SourceAdjustment, ID: fmt.Sprintf("fund-%d", i)}, EffectiveAt: t0,
			Postings: []ledger.Posting{
				{Account: ledger.PlatformAccount(ledger.KindSuspense, usd), Amount: amt(-initial, usd)},
				{Account: acct(i), Amount: amt(initial, usd)},
			},
		})
	}

	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	var kills atomic.Int64
	var killerDone sync.WaitGroup
	killerDone.Add(1)
	go func() {
		defer killerDone.Done()
		killConnections(ctx, t, db.SQL, &kills)
	}()

	var (
		mu      sync.Mutex
		posted  = map[string]bool{}
		refused = map[string]bool{}
		retries atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ctx.Err() == nil; i++ {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				src := fmt.Sprintf("w%d-%d", w, i)
				e := ledger.Entry{
					Source: ledger.Source{Type: ledger.SourceTransfer, ID: src}, EffectiveAt: t0,
					Postings: []ledger.Posting{
						{Account: acct(from), Amount: amt(-(1 + rng.Int64N(initial/4)), usd)},
						{Account: acct(to)},
					},
				}
				e.Postings[1].Amount = amt(-e.Postings[0].Amount.Minor, usd)
				// Retry until a definite answer, even past the deadline: an
				// unknown outcome must be resolved, never dropped.
				for attempt := 0; ; attempt++ {
					_, err := l.Post(sys(), e)
					code := payments.ErrorCode(err)
					if code == "" || code == payments.ECONFLICT {
						mu.Lock()
						if code == "" {
							posted[src] = true
						} else {
							refused[src] = true
						}
						mu.Unlock()
						break
					}
					if attempt > 200 {
						t.Errorf("transfer %s: no definite outcome: %v", src, err)
						return
					}
					retries.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	killerDone.Wait()

	var total int64
	for i := range accounts {
		b := balance(t, l, acct(i))
		if b < 0 {
			t.Errorf("account %d balance %d < 0", i, b)
		}
		total += b
	}
	if total != accounts*initial {
		t.Errorf("total %d, want %d", total, accounts*initial)
	}
	entries, err := l.EntriesBySource(sys(), ledger.SourceTransfer, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.SourceID]++
	}
	for src := range posted {
		if seen[src] != 1 {
			t.Errorf("posted transfer %s has %d entries", src, seen[src])
		}
	}
	for src := range refused {
		if seen[src] != 0 {
			t.Errorf("refused transfer %s has %d entries", src, seen[src])
		}
	}
	if len(seen) != len(posted) {
		t.Errorf("%d transfers in the journal, %d posted", len(seen), len(posted))
	}
	checkBooks(t, l)
	t.Logf("%s: %d transfers posted, %d refused (insufficient funds), %d connections killed, %d retries",
		duration, len(posted), len(refused), kills.Load(), retries.Load())
	if kills.Load() == 0 || len(posted) == 0 {
		t.Error("the test killed no connection or posted nothing")
	}
}

// killConnections kills a random connection of pool's database every 20–80 ms
// until ctx ends, from its own admin connection.
func killConnections(ctx context.Context, t *testing.T, pool *sql.DB, kills *atomic.Int64) {
	t.Helper()
	admin, err := pool.Conn(context.Background())
	if err != nil {
		t.Errorf("admin connection: %v", err)
		return
	}
	defer admin.Close()
	var self int64
	if err := admin.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&self); err != nil {
		t.Errorf("connection id: %v", err)
		return
	}
	rng := rand.New(rand.NewPCG(99, 1))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
		}
		rows, err := admin.QueryContext(ctx, "SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> ?", self)
		if err != nil {
			continue
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		if len(ids) == 0 {
			continue
		}
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL %d", ids[rng.IntN(len(ids))])); err == nil {
			kills.Add(1)
		}
	}
}
