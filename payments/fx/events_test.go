package fx_test

import (
	"sync"
	"testing"

	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/money"
)

// TestAConversionWritesItsEventOnceWithItsPosting: a conversion commits
// fx.conversion_completed (about its journal entry, with both amounts and
// the rate) with its posting; a retry with the same key, sequential or
// concurrent, posts nothing and writes no second event; a refused
// conversion writes none.
func TestAConversionWritesItsEventOnceWithItsPosting(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		q, err := e.svc.CreateQuote(merchant("mer_a"), "mer_a", usd, jpy)
		if err != nil {
			t.Fatal(err)
		}
		amount := money.Amount{Minor: 10000, Currency: usd}
		var wg sync.WaitGroup
		entries := make([]string, 4)
		errs := make([]error, 4)
		for i := range entries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, amount, "key-ev")
				entries[i], errs[i] = c.EntryID, err
			}()
		}
		wg.Wait()
		for i := range entries {
			if errs[i] != nil || entries[i] != entries[0] {
				t.Fatalf("conversion %d: %s, %v (first %s)", i, entries[i], errs[i], entries[0])
			}
		}
		if _, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, amount, "key-ev"); err != nil {
			t.Fatal(err)
		}
		// Above the balance: refused, nothing written.
		if _, err := e.svc.Convert(merchant("mer_a"), "mer_a", q.ID, money.Amount{Minor: 10_000_000, Currency: usd}, "key-big"); err == nil {
			t.Fatal("a conversion above the balance went through")
		}
		evs, err := e.db.Client.Event.Query().Where(event.Type(fx.EventConversionCompleted)).All(sys())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d conversion events, want 1", len(evs))
		}
		ev := evs[0]
		if ev.ObjectID != entries[0] || ev.MerchantID != "mer_a" || ev.Data["quote_id"] != q.ID || ev.Data["currency"] != "USD" ||
			ev.Data["converted_currency"] != "JPY" || ev.Data["rate"] != q.Rate.String() {
			t.Fatalf("event %+v", ev)
		}
		for k, want := range map[string]float64{"amount": 10000, "converted_amount": 15049} {
			if n, ok := ev.Data[k].(float64); !ok || n != want {
				t.Fatalf("event %s = %v, want %v", k, ev.Data[k], want)
			}
		}
	})
}
