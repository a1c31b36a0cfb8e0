package ledger

import (
	"testing"

	"github.com/straitpay/strait/payments/money"
)

// TestDrawOrder: available first, then pending, then reserve, each at most
// its balance (a negative one counts as zero); the rest is short.
func TestDrawOrder(t *testing.T) {
	usd := money.MustCurrency("USD")
	for _, c := range []struct {
		name     string
		amount   int64
		balances map[Kind]int64
		want     map[Kind]int64
		short    int64
	}{
		{"available covers", 500, map[Kind]int64{KindAvailable: 900, KindPending: 900}, map[Kind]int64{KindAvailable: -500}, 0},
		{"then pending", 500, map[Kind]int64{KindAvailable: 200, KindPending: 900}, map[Kind]int64{KindAvailable: -200, KindPending: -300}, 0},
		{"then reserve", 500, map[Kind]int64{KindAvailable: 100, KindPending: 100, KindReserve: 1000}, map[Kind]int64{KindAvailable: -100, KindPending: -100, KindReserve: -300}, 0},
		{"short", 500, map[Kind]int64{KindAvailable: -50, KindReserve: 120}, map[Kind]int64{KindReserve: -120}, 380},
		{"nothing", 500, nil, map[Kind]int64{}, 500},
	} {
		ps, short := Draw("m_1", money.Amount{Minor: c.amount, Currency: usd}, c.balances)
		got := map[Kind]int64{}
		for i, p := range ps {
			if p.Account.OwnerID != "m_1" || p.Account.OwnerType != OwnerMerchant || p.Amount.Currency != usd {
				t.Errorf("%s: posting %d %+v", c.name, i, p)
			}
			if i > 0 && DrawOrder[0] == p.Account.Kind {
				t.Errorf("%s: out of order", c.name)
			}
			got[p.Account.Kind] = p.Amount.Minor
		}
		if short != c.short || len(got) != len(c.want) {
			t.Errorf("%s: %v short %d; want %v short %d", c.name, got, short, c.want, c.short)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s %d, want %d", c.name, k, got[k], v)
			}
		}
	}
}
