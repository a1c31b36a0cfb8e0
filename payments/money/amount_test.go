package money

import (
	"math"
	"testing"

	"github.com/straitpay/strait/payments"
)

func TestCurrencyExponentsComeFromISO4217(t *testing.T) {
	for code, want := range map[string]int{"JPY": 0, "KRW": 0, "USD": 2, "EUR": 2, "KWD": 3, "BHD": 3, "JOD": 3} {
		c, err := ParseCurrency(code)
		if err != nil {
			t.Fatalf("ParseCurrency(%s): %v", code, err)
		}
		if c.Exponent() != want {
			t.Errorf("%s exponent = %d, want %d", code, c.Exponent(), want)
		}
	}
}

func TestParseCurrencyRejectsUnknownAndNonTender(t *testing.T) {
	for _, code := range []string{"", "US", "USDX", "ZZZ", "XAU", "XXX", "12$"} {
		if _, err := ParseCurrency(code); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("ParseCurrency(%q) error code = %q, want EINVALID", code, payments.ErrorCode(err))
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		code    string
	}{
		{"12.34", "USD", 1234, ""},
		{"12.3", "USD", 1230, ""},
		{"-0.05", "USD", -5, ""},
		{"1500", "JPY", 1500, ""},
		{"1.005", "KWD", 1005, ""},
		{"1.5", "JPY", 0, payments.EINVALID},
		{"1.234", "USD", 0, payments.EINVALID},
		{"1.", "USD", 0, payments.EINVALID},
		{"abc", "USD", 0, payments.EINVALID},
		{"1e3", "USD", 0, payments.EINVALID},
		{"92233720368547758.07", "USD", math.MaxInt64, ""},
		{"92233720368547758.08", "USD", 0, payments.EINVALID},
		{"99999999999999999999", "JPY", 0, payments.EINVALID},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in, MustCurrency(tt.cur))
		if code := payments.ErrorCode(err); code != tt.code {
			t.Errorf("ParseDecimal(%q, %s) error = %v, want code %q", tt.in, tt.cur, err, tt.code)
			continue
		}
		if err == nil && got.Minor != tt.want {
			t.Errorf("ParseDecimal(%q, %s) = %d, want %d", tt.in, tt.cur, got.Minor, tt.want)
		}
	}
}

func TestDecimalFormatsWithTheCurrencyExponent(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{Must(-5, "USD"), "-0.05"},
		{Must(1005, "KWD"), "1.005"},
		{Must(1500, "JPY"), "1500"},
		{Must(math.MinInt64, "USD"), "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := tt.a.Decimal(); got != tt.want {
			t.Errorf("%d %s Decimal() = %q, want %q", tt.a.Minor, tt.a.Currency, got, tt.want)
		}
	}
}

func TestArithmeticRefusesOverflowAndMixedCurrencies(t *testing.T) {
	usd := func(m int64) Amount { return Must(m, "USD") }
	if _, err := usd(math.MaxInt64).Add(usd(1)); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("MaxInt64+1: err = %v, want EINVALID", err)
	}
	if _, err := usd(math.MinInt64).Sub(usd(1)); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("MinInt64-1: err = %v, want EINVALID", err)
	}
	if _, err := usd(math.MinInt64).Neg(); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("-MinInt64: err = %v, want EINVALID", err)
	}
	if _, err := usd(1).Add(Must(1, "EUR")); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("USD+EUR: err = %v, want EINVALID", err)
	}
	if got, err := usd(5).Sub(usd(7)); err != nil || got.Minor != -2 {
		t.Errorf("5-7 = %v, %v; want -2", got, err)
	}
}
