package money

import (
	"math"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/straitpay/strait/payments"
)

// RoundingRule names the one rounding rule Strait applies when money changes
// currency: the exact product of amount and rate is rounded once, to the target
// currency's minor unit, half away from zero (0.5 cent becomes 1 cent, -0.5
// becomes -1). This is the rule of EU Council Regulation 1103/97 art. 5 for
// currency conversions, and the one customers expect from a receipt.
const RoundingRule = "half away from zero, once, to the target currency's minor unit"

// maxRateDigits bounds a rate's significant digits. Market rates carry at most
// about ten; an 18-digit inverse less a 4-digit margin factor needs 22; 24
// keeps every product of an int64 amount (19 digits) and a rate inside the
// 50-digit context, so those products are exact.
const maxRateDigits = 24

// inverseDigits is the precision of derived inverse rates: far below a minor
// unit on any amount int64 can hold, and short enough to read.
const inverseDigits = 18

// decimalCtx does every money computation. Its 50 digits hold any product of an
// int64 and a rate exactly, so the only rounding is the one we ask for.
var decimalCtx = apd.Context{
	Precision:   50,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundHalfUp, // apd's half-up rounds the magnitude: half away from zero
}

// Rate is an exchange rate: how many major units of the quote currency one major
// unit of the base currency buys (for USD/JPY 151.25, one dollar buys 151.25
// yen). It is an exact decimal, never a float. The zero value is not a valid
// rate.
type Rate struct {
	d apd.Decimal
}

// ParseRate reads a positive decimal rate such as "151.25" or "0.003252". It
// must be a plain decimal (no exponent, NaN or infinity) with at most 24
// significant digits. Returns EINVALID (field "rate") otherwise.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eEnNiI") {
		return Rate{}, payments.FieldErrorf("rate", "%q is not a decimal rate", s)
	}
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return Rate{}, payments.FieldErrorf("rate", "%q is not a decimal rate", s)
	}
	return rateFromDecimal(d)
}

// MustRate is ParseRate for constants in tests and tables; it panics on error.
func MustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func rateFromDecimal(d *apd.Decimal) (Rate, error) {
	if d.Form != apd.Finite || d.Sign() <= 0 {
		return Rate{}, payments.FieldErrorf("rate", "rate must be a positive decimal")
	}
	var r Rate
	r.d.Reduce(d) // 151.2500 and 151.25 are the same rate, stored and compared alike
	if r.d.NumDigits() > maxRateDigits {
		return Rate{}, payments.FieldErrorf("rate", "rate has more than %d significant digits", maxRateDigits)
	}
	return r, nil
}

// IsZero reports whether r is the zero (invalid) Rate.
func (r Rate) IsZero() bool { return r.d.IsZero() }

// String returns the rate as a plain decimal with no trailing zeros, e.g.
// "151.25". It is the canonical form stored in the database.
func (r Rate) String() string { return r.d.Text('f') }

// Cmp compares two rates: -1, 0 or +1.
func (r Rate) Cmp(o Rate) int { return r.d.Cmp(&o.d) }

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	p, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// WithMarginBps returns the rate a customer gets after the platform keeps a
// margin of bps basis points (1 bp = 0.01 %): r × (10000 − bps) / 10000. The
// result is exact (dividing by 10000 only moves the decimal point); it is
// rejected only if it needs more than 24 significant digits. Returns EINVALID
// (field "marginBps") unless 0 <= bps < 10000.
func (r Rate) WithMarginBps(bps int64) (Rate, error) {
	if bps < 0 || bps >= 10000 {
		return Rate{}, payments.FieldErrorf("marginBps", "margin must be between 0 and 9999 basis points")
	}
	var out apd.Decimal
	if _, err := decimalCtx.Mul(&out, &r.d, apd.New(10000-bps, -4)); err != nil {
		return Rate{}, payments.FieldErrorf("rate", "rate out of range")
	}
	return rateFromDecimal(&out)
}

// Inverse returns 1/r, rounded half away from zero to 18 significant digits,
// for deriving the USD/JPY rate from a JPY/USD quote. Inverting twice need not
// give r back exactly; Strait stores and quotes the rate it actually used.
func (r Rate) Inverse() Rate {
	ctx := decimalCtx
	ctx.Precision = inverseDigits
	var out apd.Decimal
	if _, err := ctx.Quo(&out, apd.New(1, 0), &r.d); err != nil {
		panic("money: inverse of a valid rate failed: " + err.Error()) // r > 0 by construction
	}
	inv, err := rateFromDecimal(&out)
	if err != nil {
		panic("money: inverse of a valid rate is invalid: " + err.Error())
	}
	return inv
}

// Convert returns a in currency to at rate r, where r is units of to per unit of
// a's currency. The exact product a × r is rounded once, by RoundingRule, to
// to's minor unit; e.g. 10.00 USD at 151.255 is 1512.55 JPY, which rounds to
// 1513 JPY. Returns EINVALID if to is the zero Currency, r is the zero Rate, or
// the result overflows int64.
func (a Amount) Convert(r Rate, to Currency) (Amount, error) {
	if to.IsZero() {
		return Amount{}, payments.FieldErrorf("currency", "target currency is required")
	}
	if r.IsZero() {
		return Amount{}, payments.FieldErrorf("rate", "rate is required")
	}
	// minor_to = minor_from × 10^-exp_from × r × 10^exp_to
	src := apd.New(a.Minor, int32(to.Exponent()-a.Currency.Exponent()))
	var exact, rounded apd.Decimal
	if _, err := decimalCtx.Mul(&exact, src, &r.d); err != nil {
		return Amount{}, payments.FieldErrorf("amount", "conversion overflows")
	}
	if _, err := decimalCtx.Quantize(&rounded, &exact, 0); err != nil {
		return Amount{}, payments.FieldErrorf("amount", "conversion overflows")
	}
	minor, err := rounded.Int64()
	if err != nil || minor == math.MinInt64 {
		return Amount{}, payments.FieldErrorf("amount", "conversion overflows")
	}
	return Amount{Minor: minor, Currency: to}, nil
}
