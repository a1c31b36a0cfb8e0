package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// randomEntry builds a balanced entry of 2–5 postings over accounts in one or
// two currencies: money moves from merchants and channels to merchants and the
// platform, so some entries overdraw and must be refused.
func randomEntry(rng *rand.Rand, source string, curs []money.Currency) ledger.Entry {
	e := ledger.Entry{Source: ledger.Source{Type: ledger.SourceTransfer, ID: source}, EffectiveAt: t0}
	for _, c := range curs[:1+rng.IntN(len(curs))] {
		n := 1 + rng.IntN(3)
		var total int64
		for range n {
			m := 1 + rng.Int64N(5000)
			total += m
			var to ledger.AccountKey
			switch rng.IntN(3) {
			case 0:
				to = ledger.PlatformAccount(ledger.KindFees, c)
			default:
				to = ledger.MerchantAccount(fmt.Sprintf("mer_%d", rng.IntN(4)), ledger.KindAvailable, c)
			}
			e.Postings = append(e.Postings, ledger.Posting{Account: to, Amount: amt(m, c)})
		}
		from := ledger.ChannelAccount("cardnet", c)
		if rng.IntN(2) == 0 {
			from = ledger.MerchantAccount(fmt.Sprintf("mer_%d", rng.IntN(4)), ledger.KindAvailable, c)
		}
		e.Postings = append(e.Postings, ledger.Posting{Account: from, Amount: amt(-total, c)})
	}
	return e
}

// TestConcurrentRandomEntriesKeepTheBooksBalanced posts random entries from 8
// goroutines, including replays and conflicting reposts of earlier sources,
// and then checks that every currency nets to zero, every balance equals its
// postings, no merchant account is negative, and each accepted source has
// exactly one entry.
func TestConcurrentRandomEntriesKeepTheBooksBalanced(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		curs := []money.Currency{usd, jpy, money.MustCurrency("KWD")}
		const workers, perWorker = 8, 60
		var mu sync.Mutex
		accepted := map[string]bool{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				var mine []ledger.Entry
				for i := range perWorker {
					var entry ledger.Entry
					switch {
					case len(mine) > 0 && rng.IntN(8) == 0: // replay an earlier entry
						entry = mine[rng.IntN(len(mine))]
					case len(mine) > 0 && rng.IntN(8) == 0: // conflicting repost
						entry = randomEntry(rng, mine[rng.IntN(len(mine))].Source.ID, curs)
					default:
						entry = randomEntry(rng, fmt.Sprintf("w%d-%d", w, i), curs)
					}
					p, err := e.l.Post(sys(), entry)
					switch code := payments.ErrorCode(err); code {
					case "":
						if !p.Replayed {
							mine = append(mine, entry)
							mu.Lock()
							accepted[entry.Source.ID] = true
							mu.Unlock()
						}
					case payments.ECONFLICT: // overdraft or conflicting repost
					default:
						t.Errorf("post %s: %v", entry.Source, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		checkBooks(t, e.l)
		for m := range 4 {
			for _, c := range curs {
				if b := balance(t, e.l, ledger.MerchantAccount(fmt.Sprintf("mer_%d", m), ledger.KindAvailable, c)); b < 0 {
					t.Errorf("mer_%d %s balance %d < 0", m, c, b)
				}
			}
		}
		if n := countEntries(t, e.db.Client); n != len(accepted) {
			t.Errorf("%d entries for %d accepted sources", n, len(accepted))
		}
		if len(accepted) < workers*perWorker/3 {
			t.Errorf("only %d of %d entries accepted: the test exercises too little", len(accepted), workers*perWorker)
		}
	})
}
