package money

import (
	"math"
	"math/big"
	"testing"
	"testing/quick"

	"github.com/straitpay/strait/payments"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in, want, code string
	}{
		{"151.25", "151.25", ""},
		{"151.2500", "151.25", ""},
		{"0.003252", "0.003252", ""},
		{"100", "100", ""},
		{"0", "", payments.EINVALID},
		{"-1.2", "", payments.EINVALID},
		{"1e3", "", payments.EINVALID},
		{"NaN", "", payments.EINVALID},
		{"Infinity", "", payments.EINVALID},
		{"", "", payments.EINVALID},
		{"1.2.3", "", payments.EINVALID},
		{"1.23456789012345678901234", "1.23456789012345678901234", ""},
		{"1.234567890123456789012345", "", payments.EINVALID},
	}
	for _, tt := range tests {
		r, err := ParseRate(tt.in)
		if code := payments.ErrorCode(err); code != tt.code {
			t.Errorf("ParseRate(%q) error = %v, want code %q", tt.in, err, tt.code)
			continue
		}
		if err == nil && r.String() != tt.want {
			t.Errorf("ParseRate(%q) = %s, want %s", tt.in, r, tt.want)
		}
	}
}

func TestConvertRoundsOnceHalfAwayFromZero(t *testing.T) {
	tests := []struct {
		name     string
		minor    int64
		from, to string
		rate     string
		want     int64
	}{
		{"USD to JPY exact", 1000, "USD", "JPY", "151.25", 1513},           // 1512.5 JPY -> 1513
		{"USD to JPY half rounds up", 1000, "USD", "JPY", "151.255", 1513}, // 1512.55
		{"negative half rounds away from zero", -1000, "USD", "JPY", "151.25", -1513},
		{"JPY to USD", 10000, "JPY", "USD", "0.0066", 6600},
		{"JPY to KWD", 10000, "JPY", "KWD", "0.00205", 20500},
		{"KWD to USD half", 1, "KWD", "USD", "3.25", 0},        // 0.00325 USD = 0.325 cents -> 0
		{"KWD to USD half exactly", 2, "KWD", "USD", "2.5", 1}, // 0.005 USD = 0.5 cent -> 1
		{"KWD to USD negative half", -2, "KWD", "USD", "2.5", -1},
		{"just below half rounds down", 1, "USD", "JPY", "0.4999", 0},
		{"large amount", math.MaxInt64 / 200, "USD", "USD", "1", math.MaxInt64 / 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Must(tt.minor, tt.from).Convert(MustRate(tt.rate), MustCurrency(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if got.Minor != tt.want || got.Currency.Code() != tt.to {
				t.Errorf("%d %s at %s = %v, want %d %s", tt.minor, tt.from, tt.rate, got, tt.want, tt.to)
			}
		})
	}
}

func TestConvertRefusesOverflow(t *testing.T) {
	_, err := Must(math.MaxInt64, "USD").Convert(MustRate("151.25"), MustCurrency("JPY"))
	if payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("err = %v, want EINVALID", err)
	}
	if _, err := Must(1, "USD").Convert(Rate{}, MustCurrency("JPY")); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("zero rate: err = %v, want EINVALID", err)
	}
}

// TestConvertIsWithinHalfAMinorUnit checks Convert against exact rational
// arithmetic: the result is never more than half a minor unit from the exact
// value, and exactly half rounds away from zero.
func TestConvertIsWithinHalfAMinorUnit(t *testing.T) {
	cur := []Currency{MustCurrency("JPY"), MustCurrency("USD"), MustCurrency("KWD")}
	f := func(minor int32, coeff uint32, scale uint8, fi, ti uint8) bool {
		if coeff == 0 {
			coeff = 1
		}
		from, to := cur[int(fi)%3], cur[int(ti)%3]
		rate := Rate{}
		rate.d.SetFinite(int64(coeff), -int32(scale%12))
		rate, _ = rateFromDecimal(&rate.d)
		got, err := Amount{Minor: int64(minor), Currency: from}.Convert(rate, to)
		exact := new(big.Rat).SetFrac(big.NewInt(int64(minor)*int64(coeff)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale%12)), nil))
		shift := to.Exponent() - from.Exponent()
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(shift))), nil))
		if shift >= 0 {
			exact.Mul(exact, p)
		} else {
			exact.Quo(exact, p)
		}
		if err != nil {
			limit := new(big.Rat).SetInt64(math.MaxInt64)
			if new(big.Rat).Abs(exact).Cmp(limit) < 0 {
				t.Errorf("convert %d %s at %s: %v", minor, from, rate, err)
				return false
			}
			return true
		}
		diff := new(big.Rat).Sub(new(big.Rat).SetInt64(got.Minor), exact)
		half := big.NewRat(1, 2)
		switch c := new(big.Rat).Abs(diff).Cmp(half); {
		case c > 0:
			t.Errorf("%d %s at %s -> %d %s, exact %s", minor, from, rate, got.Minor, to, exact.FloatString(6))
			return false
		case c == 0 && diff.Sign()*exact.Sign() < 0:
			t.Errorf("half rounded toward zero: %d %s at %s -> %d", minor, from, rate, got.Minor)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 3000}); err != nil {
		t.Error(err)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestWithMarginBps(t *testing.T) {
	tests := []struct {
		rate string
		bps  int64
		want string
	}{
		{"151.25", 0, "151.25"},
		{"151.25", 50, "150.49375"}, // 151.25 × 0.995
		{"0.00205", 100, "0.0020295"},
		{"3.25", 9999, "0.000325"},
	}
	for _, tt := range tests {
		got, err := MustRate(tt.rate).WithMarginBps(tt.bps)
		if err != nil || got.String() != tt.want {
			t.Errorf("%s less %d bps = %s, %v; want %s", tt.rate, tt.bps, got, err, tt.want)
		}
	}
	for _, bps := range []int64{-1, 10000} {
		if _, err := MustRate("1").WithMarginBps(bps); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("margin %d: err = %v, want EINVALID", bps, err)
		}
	}
}

func TestInverse(t *testing.T) {
	tests := []struct{ rate, want string }{
		{"4", "0.25"},
		{"3", "0.333333333333333333"},
		{"151.25", "0.0066115702479338843"}, // 0.006611570247933884297… to 18 digits
		{"0.0066", "151.515151515151515"},
	}
	for _, tt := range tests {
		if got := MustRate(tt.rate).Inverse().String(); got != tt.want {
			t.Errorf("1/%s = %s, want %s", tt.rate, got, tt.want)
		}
	}
}

func FuzzParseDecimalRoundTrip(f *testing.F) {
	for _, s := range []string{"12.34", "-0.05", "0", "92233720368547758.07", "1.5", "abc"} {
		f.Add(s, "USD")
		f.Add(s, "JPY")
		f.Add(s, "KWD")
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		c, err := ParseCurrency(code)
		if err != nil {
			return
		}
		a, err := ParseDecimal(s, c)
		if err != nil {
			if payments.ErrorCode(err) != payments.EINVALID {
				t.Fatalf("ParseDecimal(%q) unexpected error %v", s, err)
			}
			return
		}
		back, err := ParseDecimal(a.Decimal(), c)
		if err != nil || back != a {
			t.Fatalf("round trip %q -> %s -> %v, %v", s, a.Decimal(), back, err)
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"151.25", "0.0000001", "1e5", "-3", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		back, err := ParseRate(r.String())
		if err != nil || back.Cmp(r) != 0 || back.String() != r.String() {
			t.Fatalf("round trip %q -> %s -> %s, %v", s, r, back, err)
		}
		if _, err := Must(1000, "USD").Convert(r, MustCurrency("JPY")); err != nil && payments.ErrorCode(err) != payments.EINVALID {
			t.Fatalf("convert at %s: %v", r, err)
		}
	})
}
