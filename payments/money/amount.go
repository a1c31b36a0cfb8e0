package money

import (
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/straitpay/strait/payments"
)

// Amount is a quantity of money: Minor units of Currency (cents for USD, yen for
// JPY, fils for KWD). Amounts are values; arithmetic returns new amounts and
// reports overflow and currency mismatches as errors instead of wrapping.
type Amount struct {
	Minor    int64
	Currency Currency
}

// New returns minor units of the currency with the given ISO code. Returns
// EINVALID for an unknown currency.
func New(minor int64, code string) (Amount, error) {
	c, err := ParseCurrency(code)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: minor, Currency: c}, nil
}

// Must is New for tests and constant tables; it panics on an unknown currency.
func Must(minor int64, code string) Amount {
	a, err := New(minor, code)
	if err != nil {
		panic(err)
	}
	return a
}

// IsZero reports whether the amount is zero (in any currency).
func (a Amount) IsZero() bool { return a.Minor == 0 }

// IsPositive reports whether the amount is greater than zero.
func (a Amount) IsPositive() bool { return a.Minor > 0 }

// Neg returns -a. Returns EINVALID on overflow (the most negative int64).
func (a Amount) Neg() (Amount, error) {
	if a.Minor == math.MinInt64 {
		return Amount{}, payments.FieldErrorf("amount", "amount overflows")
	}
	return Amount{Minor: -a.Minor, Currency: a.Currency}, nil
}

// Add returns a+b. Returns EINVALID if the currencies differ or the sum overflows
// int64.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, payments.FieldErrorf("currency", "cannot add %s to %s", b.Currency, a.Currency)
	}
	sum, ok := addInt64(a.Minor, b.Minor)
	if !ok {
		return Amount{}, payments.FieldErrorf("amount", "amount overflows")
	}
	return Amount{Minor: sum, Currency: a.Currency}, nil
}

// Sub returns a-b. Returns EINVALID if the currencies differ or the result
// overflows int64.
func (a Amount) Sub(b Amount) (Amount, error) {
	nb, err := b.Neg()
	if err != nil {
		return Amount{}, err
	}
	return a.Add(nb)
}

// Cmp compares a and b: -1 if a < b, 0 if equal, +1 if a > b. Returns EINVALID
// if the currencies differ.
func (a Amount) Cmp(b Amount) (int, error) {
	if a.Currency != b.Currency {
		return 0, payments.FieldErrorf("currency", "cannot compare %s with %s", b.Currency, a.Currency)
	}
	switch {
	case a.Minor < b.Minor:
		return -1, nil
	case a.Minor > b.Minor:
		return 1, nil
	}
	return 0, nil
}

// String formats the amount as a decimal in major units followed by the code,
// e.g. "12.34 USD", "1500 JPY", "1.005 KWD". It is for humans and logs, never for
// parsing back into arithmetic.
func (a Amount) String() string {
	return a.Decimal() + " " + a.Currency.Code()
}

// Decimal formats the amount in major units with exactly the currency's exponent
// of decimal places, e.g. "-0.05" for -5 USD cents.
func (a Amount) Decimal() string {
	exp := a.Currency.Exponent()
	neg := a.Minor < 0
	// Work on the unsigned magnitude so MinInt64 formats correctly.
	mag := uint64(a.Minor)
	if neg {
		mag = -mag
	}
	digits := fmt.Sprintf("%d", mag)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// ParseDecimal reads a major-unit decimal string such as "12.34" into an amount of
// the currency. More decimal places than the currency's exponent (e.g. "1.5" JPY)
// is EINVALID, as is anything that is not a plain decimal or overflows int64.
func ParseDecimal(s string, c Currency) (Amount, error) {
	if c.IsZero() {
		return Amount{}, payments.FieldErrorf("currency", "currency is required")
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return Amount{}, payments.FieldErrorf("amount", "%q is not a decimal amount", s)
	}
	if len(frac) > c.Exponent() {
		return Amount{}, payments.FieldErrorf("amount", "%s has %d decimal places; %s allows %d", s, len(frac), c.Code(), c.Exponent())
	}
	frac += strings.Repeat("0", c.Exponent()-len(frac))
	var minor int64
	for _, r := range whole + frac {
		hi, lo := bits.Mul64(uint64(minor), 10)
		digit := uint64(r - '0')
		if hi != 0 || lo > math.MaxInt64-digit {
			return Amount{}, payments.FieldErrorf("amount", "amount overflows")
		}
		minor = int64(lo + digit)
	}
	if neg {
		minor = -minor
	}
	return Amount{Minor: minor, Currency: c}, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// addInt64 returns a+b and whether it fits in int64.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, false
	}
	return s, true
}
