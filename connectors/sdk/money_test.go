package sdk

import (
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/straitpay/strait/connectors"
)

func money(minor int64, code string, exp int) connectors.Money {
	return connectors.Money{Minor: minor, Currency: code, Exponent: connectors.Exp(exp)}
}

func TestToChannelConvertsExactlyOrRefuses(t *testing.T) {
	cases := []struct {
		name string
		in   connectors.Money
		to   int
		want int64
		ok   bool
	}{
		{"same exponent", money(1050, "USD", 2), 2, 1050, true},
		{"IDR whole rupiah to hundredths", money(150, "IDR", 0), 2, 15000, true},
		{"IDR above 2^31 to hundredths", money(5_000_000_000, "IDR", 0), 2, 500_000_000_000, true},
		{"IDR hundredths to whole rupiah", money(15000, "IDR", 2), 0, 150, true},
		{"a remainder is refused, not rounded", money(150, "IDR", 2), 0, 0, false},
		{"one hundredth short", money(14999, "IDR", 2), 0, 0, false},
		{"negative amounts keep their sign", money(-15000, "IDR", 2), 0, -150, true},
		{"negative remainder refused", money(-150, "IDR", 2), 0, 0, false},
		{"IQD whole dinar to fils", money(7, "IQD", 0), 3, 7000, true},
		{"zero converts", money(0, "USD", 2), 0, 0, true},
		{"unstated is Strait's table (USD 2)", connectors.Money{Minor: 1050, Currency: "USD"}, 3, 10500, true},
		{"unstated is Strait's table (IDR 0)", connectors.Money{Minor: 150, Currency: "IDR"}, 2, 15000, true},
		{"overflow refused", money(math.MaxInt64/10, "USD", 2), 4, 0, false},
		{"most negative int64 scaled up refused", money(math.MinInt64, "USD", 2), 3, 0, false},
		{"target exponent out of range", money(1, "USD", 2), 19, 0, false},
		{"negative target exponent", money(1, "USD", 2), -1, 0, false},
		{"stated exponent out of range", money(1, "USD", 19), 2, 0, false},
		{"unknown currency, nothing stated", connectors.Money{Minor: 1, Currency: "ZZZ"}, 2, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ToChannel(c.in, c.to)
			if c.ok != (err == nil) || got != c.want {
				t.Fatalf("ToChannel(%v, %d) = %d, %v; want %d (ok %t)", c.in, c.to, got, err, c.want, c.ok)
			}
			if err != nil && !connectors.IsInvalid(err) {
				t.Fatalf("error %v is not EINVALID", err)
			}
		})
	}
}

func TestFromChannelNeverRoundsAway(t *testing.T) {
	cases := []struct {
		name         string
		minor        int64
		code         string
		exp          int
		want         int64
		wantExp      int
		straitsOrNot string
	}{
		{"IDR hundredths back to whole rupiah", 500_000_000_000, "IDR", 2, 5_000_000_000, 0, "Strait's"},
		{"a fee of 0.30 IDR stays in hundredths", 14_500_000_030, "IDR", 2, 14_500_000_030, 2, "the channel's"},
		{"USD is the same on both sides", 1050, "USD", 2, 1050, 2, "Strait's"},
		{"IQD fils back to whole dinar", 7000, "IQD", 3, 7, 0, "Strait's"},
		{"an unknown currency keeps the channel's unit", 1, "ZZZ", 2, 1, 2, "the channel's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromChannel(c.minor, c.code, c.exp)
			if e, ok := got.Exponent.Get(); !ok || got.Minor != c.want || e != c.wantExp || got.Currency != c.code {
				t.Fatalf("FromChannel(%d, %s, %d) = %#v, want %d at exponent %d (%s)", c.minor, c.code, c.exp, got, c.want, c.wantExp, c.straitsOrNot)
			}
			if !got.Equal(money(c.minor, c.code, c.exp)) {
				t.Fatalf("%v is not the amount the channel reported", got)
			}
		})
	}
}

// FuzzToChannel checks the conversion against exact rational arithmetic:
// whatever it answers is the same value, and it refuses exactly when the
// value has no int64 form at the target exponent.
func FuzzToChannel(f *testing.F) {
	f.Add(int64(150), uint8(2), uint8(0))
	f.Add(int64(150), uint8(0), uint8(2))
	f.Add(int64(5_000_000_000), uint8(0), uint8(2))
	f.Add(int64(math.MaxInt64), uint8(0), uint8(1))
	f.Add(int64(math.MinInt64), uint8(18), uint8(0))
	f.Fuzz(func(t *testing.T, minor int64, from, to uint8) {
		fe, te := int(from%20), int(to%20) // 18 and 19 probe the bounds
		got, err := ToChannel(money(minor, "USD", fe), te)
		if fe > connectors.MaxExponent || te > connectors.MaxExponent {
			if err == nil {
				t.Fatalf("exponents %d→%d accepted", fe, te)
			}
			return
		}
		// want = minor × 10^(te−fe), exactly.
		want := new(big.Rat).SetInt64(minor)
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(te-fe))), nil))
		if te >= fe {
			want.Mul(want, scale)
		} else {
			want.Quo(want, scale)
		}
		representable := want.IsInt() && want.Num().IsInt64()
		if representable != (err == nil) {
			t.Fatalf("%d at %d → %d: got %d, %v; exact value %s", minor, fe, te, got, err, want.RatString())
		}
		if err == nil && want.Num().Int64() != got {
			t.Fatalf("%d at %d → %d: got %d, want %s", minor, fe, te, got, want.RatString())
		}
		if err == nil && !money(got, "USD", te).Equal(money(minor, "USD", fe)) {
			t.Fatalf("%d at %d and %d at %d are not Equal", minor, fe, got, te)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestWhereStraitAndISO4217Differ pins the currencies whose exponent in
// Strait's table (CLDR's, golang.org/x/text/currency) is not ISO 4217's:
// the list docs/money.md and docs/connectors.md give. A change of
// golang.org/x/text that moves one shows here first.
func TestWhereStraitAndISO4217Differ(t *testing.T) {
	want := map[string][2]int{ // code: {Strait's, ISO 4217's}
		"AFN": {0, 2}, "ALL": {0, 2}, "AMD": {0, 2}, "COP": {0, 2}, "GYD": {0, 2},
		"IDR": {0, 2}, "IQD": {0, 3}, "IRR": {0, 2}, "KPW": {0, 2}, "LAK": {0, 2},
		"LBP": {0, 2}, "MGA": {0, 2}, "MMK": {0, 2}, "MNT": {0, 2}, "MRO": {0, 2},
		"MUR": {0, 2}, "PKR": {0, 2}, "RSD": {0, 2}, "SLL": {0, 2}, "SOS": {0, 2},
		"SYP": {0, 2}, "TZS": {0, 2}, "UZS": {0, 2}, "YER": {0, 2},
	}
	got := map[string][2]int{}
	var codes []string
	for code := range current() {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		strait, ok := connectors.TableExponent(code)
		iso, isoOK := ISO4217Exponent(code)
		if !ok || !isoOK {
			t.Errorf("%s: Strait's table %t, ISO 4217 %t", code, ok, isoOK)
			continue
		}
		if strait != iso {
			got[code] = [2]int{strait, iso}
		}
	}
	for code, w := range want {
		if got[code] != w {
			t.Errorf("%s: Strait %d, ISO 4217 %d; want %d and %d", code, got[code][0], got[code][1], w[0], w[1])
		}
	}
	for code, g := range got {
		if _, ok := want[code]; !ok {
			t.Errorf("%s differs too: Strait %d, ISO 4217 %d", code, g[0], g[1])
		}
	}
	for _, code := range []string{"XXX", "XAU", "ITL", "usd", "ZZZ"} {
		if e, ok := ISO4217Exponent(code); ok {
			t.Errorf("ISO4217Exponent(%q) = %d, want no answer", code, e)
		}
	}
}
