package fx

import (
	"testing"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

var (
	jpy = money.MustCurrency("JPY")
	kwd = money.MustCurrency("KWD")
	usd = money.MustCurrency("USD")
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// marketRates is the fixed table of docs/money.md: three mid rates, the other
// three directions derived by inversion.
var marketRates = []ObservedRate{
	{Pair{kwd, jpy}, money.MustRate("492.01"), "test", t0},
	{Pair{kwd, usd}, money.MustRate("3.253"), "test", t0},
	{Pair{usd, jpy}, money.MustRate("151.25"), "test", t0},
}

func TestResolveDerivesMissingDirectionsByInversion(t *testing.T) {
	tests := []struct {
		pair Pair
		want string
	}{
		{Pair{kwd, jpy}, "492.01"},
		{Pair{jpy, kwd}, "0.0020324790146541737"},
		{Pair{usd, kwd}, "0.307408545957577621"},
		{Pair{jpy, usd}, "0.0066115702479338843"},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.pair, marketRates)
		if err != nil || got.Rate.String() != tt.want || got.Pair != tt.pair {
			t.Errorf("Resolve(%s) = %v %s, %v; want %s", tt.pair, got.Pair, got.Rate, err, tt.want)
		}
	}
	if _, err := Resolve(Pair{usd, money.MustCurrency("EUR")}, marketRates); payments.ErrorCode(err) != payments.EUNAVAILABLE {
		t.Errorf("unknown pair: err = %v, want EUNAVAILABLE", err)
	}
}

// TestRoundTripsAreExact runs 1,000,000 JPY around JPY→KWD→USD→JPY and the
// other way, with and without the 50 bp margin. Every figure is the one
// documented in docs/money.md; each leg is rounded once, half away from zero.
func TestRoundTripsAreExact(t *testing.T) {
	type leg struct {
		to       money.Currency
		rate     string // all-in rate of the leg
		minorOut int64
	}
	tests := []struct {
		name   string
		margin int64
		legs   []leg
	}{
		{"JPY→KWD→USD→JPY at mid", 0, []leg{
			{kwd, "0.0020324790146541737", 2032479}, // 2,032.479 KWD
			{usd, "3.253", 661165},                  // 6,611.65 USD
			{jpy, "151.25", 1000012},                // rounding alone gains 12 JPY
		}},
		{"JPY→USD→KWD→JPY at mid", 0, []leg{
			{usd, "0.0066115702479338843", 661157},
			{kwd, "0.307408545957577621", 2032453},
			{jpy, "492.01", 999987}, // and here loses 13 JPY
		}},
		{"JPY→KWD→USD→JPY less 50 bp a leg", 50, []leg{
			{kwd, "0.0020223166195809028315", 2022317},
			{usd, "3.236735", 654570},
			{jpy, "150.49375", 985087}, // three margins cost 14,913 JPY (1.49 %)
		}},
		{"JPY→USD→KWD→JPY less 50 bp a leg", 50, []leg{
			{usd, "0.0065785123966942148785", 657851},
			{kwd, "0.305871503227789732895", 2012179},
			{jpy, "489.54995", 985062},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := Policy{MarginBps: tt.margin, Lock: time.Minute, MaxRateAge: time.Hour}
			amount := money.Amount{Minor: 1000000, Currency: jpy}
			for i, l := range tt.legs {
				pair := Pair{amount.Currency, l.to}
				mid, err := Resolve(pair, marketRates)
				if err != nil {
					t.Fatal(err)
				}
				q, err := NewQuote("mer_1", pair, mid, policy, t0)
				if err != nil {
					t.Fatal(err)
				}
				if q.Rate.String() != l.rate {
					t.Errorf("leg %d %s all-in rate = %s, want %s", i, pair, q.Rate, l.rate)
				}
				out, err := q.Price(amount)
				if err != nil {
					t.Fatal(err)
				}
				if out.Minor != l.minorOut || out.Currency != l.to {
					t.Errorf("leg %d: %s → %v, want %d %s", i, amount, out, l.minorOut, l.to)
				}
				amount = out
			}
		})
	}
}

func TestNewQuoteLocksRateAndMargin(t *testing.T) {
	mid, _ := Resolve(Pair{usd, jpy}, marketRates)
	q, err := NewQuote("mer_1", Pair{usd, jpy}, mid, DefaultPolicy, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if q.BaseRate.String() != "151.25" || q.Rate.String() != "150.49375" || q.MarginBps != 50 {
		t.Errorf("quote rates = %s/%s/%d", q.BaseRate, q.Rate, q.MarginBps)
	}
	if !q.ExpiresAt.Equal(t0.Add(time.Minute + 30*time.Second)) {
		t.Errorf("expires at %s", q.ExpiresAt)
	}
	if q.RateSource != "test" || !q.RateFetchedAt.Equal(t0) {
		t.Errorf("rate provenance = %s %s", q.RateSource, q.RateFetchedAt)
	}
}

func TestNewQuoteRefusesStaleOrMissingRates(t *testing.T) {
	mid, _ := Resolve(Pair{usd, jpy}, marketRates)
	tests := []struct {
		name string
		pair Pair
		mid  ObservedRate
		now  time.Time
		code string
	}{
		{"stale rate", Pair{usd, jpy}, mid, t0.Add(16 * time.Minute), payments.EUNAVAILABLE},
		{"rate for another pair", Pair{jpy, usd}, mid, t0, payments.EUNAVAILABLE},
		{"same currency", Pair{usd, usd}, mid, t0, payments.EINVALID},
		{"missing currency", Pair{Base: usd}, mid, t0, payments.EINVALID},
	}
	for _, tt := range tests {
		if _, err := NewQuote("mer_1", tt.pair, tt.mid, DefaultPolicy, tt.now); payments.ErrorCode(err) != tt.code {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestCheckUsable(t *testing.T) {
	mid, _ := Resolve(Pair{usd, jpy}, marketRates)
	q, _ := NewQuote("mer_1", Pair{usd, jpy}, mid, DefaultPolicy, t0)
	tests := []struct {
		name     string
		merchant string
		now      time.Time
		code     string
	}{
		{"own quote within the lock", "mer_1", t0.Add(29 * time.Second), ""},
		{"expired at the instant of expiry", "mer_1", t0.Add(30 * time.Second), payments.EINVALID},
		{"another merchant's quote does not exist for them", "mer_2", t0, payments.ENOTFOUND},
	}
	for _, tt := range tests {
		if err := q.CheckUsable(tt.merchant, tt.now); payments.ErrorCode(err) != tt.code {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.code)
		}
	}
}

func TestPriceRefusesWrongCurrencyAndDust(t *testing.T) {
	mid, _ := Resolve(Pair{jpy, kwd}, marketRates)
	q, _ := NewQuote("mer_1", Pair{jpy, kwd}, mid, DefaultPolicy, t0)
	for _, a := range []money.Amount{
		{Minor: 100, Currency: usd}, // not the base currency
		{Minor: 0, Currency: jpy},
		{Minor: -5, Currency: jpy},
		{Minor: 0, Currency: jpy},
	} {
		if _, err := q.Price(a); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("Price(%v): err = %v, want EINVALID", a, err)
		}
	}
	// 1 JPY buys 2.02 fils, rounded to 2; 0 fils would be refused.
	if out, err := q.Price(money.Amount{Minor: 1, Currency: jpy}); err != nil || out.Minor != 2 {
		t.Errorf("1 JPY → %v, %v; want 2 fils", out, err)
	}
}

func TestConversionEntryBalancesEachCurrency(t *testing.T) {
	mid, _ := Resolve(Pair{usd, jpy}, marketRates)
	q, _ := NewQuote("mer_1", Pair{usd, jpy}, mid, DefaultPolicy, t0)
	q.ID = "fxq_1"
	from := money.Amount{Minor: 10000, Currency: usd}
	to, _ := q.Price(from)
	e := ConversionEntry(q, "mer_1:key-1", from, to, t0)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	net := e.Net()
	if net[ledger.MerchantAccount("mer_1", ledger.KindAvailable, usd)] != -10000 ||
		net[ledger.MerchantAccount("mer_1", ledger.KindAvailable, jpy)] != 15049 ||
		net[ledger.PlatformAccount(ledger.KindFX, jpy)] != -15049 {
		t.Errorf("postings = %v", net)
	}
}
