package connectors

import (
	"fmt"
	"math"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an amount: Minor units of an ISO 4217 currency, each worth
// 10^-e of the major unit, where e is the amount's exponent. Floats never
// carry money.
//
// Whose minor unit Minor counts is the Exponent's to say, because tables
// disagree: Strait's (CLDR's, golang.org/x/text/currency) gives IDR, COP,
// PKR, LBP, RSD, MGA and IQD no decimals, where ISO 4217 and most channels
// give them two (IQD three). The rule on both sides of the wire:
//
//   - the host states the exponent on every amount it sends, from Strait's
//     currency table (payments/money);
//   - an amount that states none (sent by a host or plugin built before
//     the field existed, or a Money written without one) is in Strait's
//     currency-table exponent, TableExponent. For every currency where the
//     tables agree, that is what it always meant.
//
// A connector converts to its channel's exponent exactly (Money.In,
// sdk.ToChannel) and states the exponent of the amounts it returns
// (sdk.FromChannel), or returns them in the request's.
type Money struct {
	Minor    int64
	Currency string
	// Exponent is the number of decimal places of Minor's unit; the zero
	// value states none (Strait's currency-table exponent).
	Exponent Exponent
}

// MaxExponent is the largest exponent an amount may state: 10^18 is the
// largest power of ten an int64 holds. Currencies use 0 to 4.
const MaxExponent = 18

// Exponent is the number of decimal places of a minor unit (2: hundredths),
// or nothing stated. The zero value states nothing; Exp states a number.
type Exponent struct {
	n   int
	set bool
}

// Exp states exponent n. Validate refuses n outside 0..MaxExponent.
func Exp(n int) Exponent { return Exponent{n: n, set: true} }

// Get returns the stated exponent, or false when none is stated.
func (e Exponent) Get() (int, bool) { return e.n, e.set }

// String returns the number, or "unstated".
func (e Exponent) String() string {
	if !e.set {
		return "unstated"
	}
	return fmt.Sprint(e.n)
}

// GoString keeps %#v readable.
func (e Exponent) GoString() string { return "connectors.Exponent(" + e.String() + ")" }

// TableExponent returns Strait's exponent for an ISO 4217 code: CLDR's
// number of decimal places, from golang.org/x/text/currency, the table
// payments/money uses. It returns false for a code that table does not know.
func TableExponent(code string) (int, bool) {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return 0, false
	}
	u, err := currency.ParseISO(code)
	if err != nil {
		return 0, false
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale, true
}

// NewMoney returns minor units of currency in Strait's exponent for it,
// stated: the form in which the host sends amounts. The exponent is left
// unstated for a code the table does not know (Validate refuses it).
func NewMoney(minor int64, code string) Money {
	m := Money{Minor: minor, Currency: code}
	if e, ok := TableExponent(code); ok {
		m.Exponent = Exp(e)
	}
	return m
}

// Scale returns the exponent m is in: the one it states, or Strait's
// currency-table exponent when it states none. It returns false when
// neither is known or the stated one is out of range.
func (m Money) Scale() (int, bool) {
	if e, ok := m.Exponent.Get(); ok {
		return e, e >= 0 && e <= MaxExponent
	}
	return TableExponent(m.Currency)
}

var pow10 = func() (p [MaxExponent + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// In returns m in minor units of exponent e, exactly: 150 at exponent 0 is
// 15000 at exponent 2, and 15000 at exponent 2 is 150 at exponent 0.
// Returns EINVALID when m's exponent is not known, when e is outside
// 0..MaxExponent, when the conversion would drop a non-zero remainder (150
// at exponent 2 is 1.50, which has no form at exponent 0), or when the
// result does not fit an int64. Nothing is ever rounded.
func (m Money) In(e int) (int64, error) {
	from, ok := m.Scale()
	if !ok {
		return 0, invalid("amount %d %s: exponent %s of currency %q is not known", m.Minor, clip(m.Currency), m.Exponent, clip(m.Currency))
	}
	if e < 0 || e > MaxExponent {
		return 0, invalid("amount %s: exponent %d is outside 0..%d", m, e, MaxExponent)
	}
	switch {
	case e == from:
		return m.Minor, nil
	case e > from:
		f := pow10[e-from]
		if m.Minor > math.MaxInt64/f || m.Minor < math.MinInt64/f {
			return 0, invalid("amount %s does not fit an int64 at exponent %d", m, e)
		}
		return m.Minor * f, nil
	default:
		f := pow10[from-e]
		if m.Minor%f != 0 {
			return 0, invalid("amount %s has no exact form at exponent %d: converting it would drop %d minor units", m, e, m.Minor%f)
		}
		return m.Minor / f, nil
	}
}

// Equal reports whether m and o are the same amount of the same currency,
// whatever exponent each is in (1050 USD at exponent 2 equals 105 USD at
// exponent 1). Amounts whose exponent is not known equal only themselves.
func (m Money) Equal(o Money) bool {
	if m.Currency != o.Currency {
		return false
	}
	em, okm := m.Scale()
	eo, oko := o.Scale()
	if !okm || !oko {
		return m == o
	}
	e := max(em, eo)
	a, errA := m.In(e)
	b, errB := o.In(e)
	return errA == nil && errB == nil && a == b
}

// String formats m as a decimal when its exponent is stated ("10.50 USD")
// and as minor units otherwise ("1050 USD").
func (m Money) String() string {
	e, ok := m.Exponent.Get()
	if !ok || e <= 0 || e > MaxExponent {
		return fmt.Sprintf("%d %s", m.Minor, m.Currency)
	}
	sign, n := "", m.Minor
	if n < 0 {
		sign = "-"
	}
	// Digits of |n|, without overflowing on the most negative int64.
	digits := strings.TrimPrefix(fmt.Sprint(n), "-")
	if len(digits) <= e {
		digits = strings.Repeat("0", e-len(digits)+1) + digits
	}
	return fmt.Sprintf("%s%s.%s %s", sign, digits[:len(digits)-e], digits[len(digits)-e:], m.Currency)
}
