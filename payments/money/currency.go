// Package money is Strait's amount type: int64 minor units of an ISO 4217
// currency. Exponents come from CLDR's ISO 4217 data (golang.org/x/text/currency),
// never from a hand-typed list. Floats never appear.
package money

import (
	"strings"
	"sync"

	"golang.org/x/text/currency"

	"github.com/straitpay/strait/payments"
)

// Currency is an ISO 4217 currency that can carry payments. The zero value is not
// a valid currency.
type Currency struct {
	unit     currency.Unit
	exponent int
}

// notTender lists ISO 4217 codes that exist but are not money a payment can be
// made in: precious metals, bond-market units, SDRs and the testing codes.
var notTender = map[string]bool{
	"XAU": true, "XAG": true, "XPD": true, "XPT": true, // metals
	"XBA": true, "XBB": true, "XBC": true, "XBD": true, // bond-market units
	"XDR": true, "XSU": true, "XUA": true, // drawing rights and settlement units
	"XTS": true, "XXX": true, // testing and "no currency"
}

// ParseCurrency returns the currency for an ISO 4217 alphabetic code such as
// "USD". The code must be three upper- or lower-case letters naming a tender
// currency. Returns an EINVALID error (field "currency") otherwise. Codes
// parsed once are remembered (there are fewer than 200): the pipeline parses
// a code several times per payment.
func ParseCurrency(code string) (Currency, error) {
	if c, ok := parsed.Load(code); ok {
		return c.(Currency), nil
	}
	norm := strings.ToUpper(strings.TrimSpace(code))
	if len(norm) != 3 || notTender[norm] {
		return Currency{}, payments.FieldErrorf("currency", "unknown currency %q", norm)
	}
	u, err := currency.ParseISO(norm)
	if err != nil {
		return Currency{}, payments.FieldErrorf("currency", "unknown currency %q", norm)
	}
	scale, _ := currency.Standard.Rounding(u)
	c := Currency{unit: u, exponent: scale}
	if code == norm {
		parsed.Store(code, c) // only valid codes, as written: the map stays small
	}
	return c, nil
}

// parsed maps the valid codes parsed so far, upper case, to their Currency.
var parsed sync.Map

// MustCurrency is ParseCurrency for constants in tests and tables; it panics on an
// unknown code.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Code returns the three-letter ISO 4217 code, or "" for the zero Currency.
func (c Currency) Code() string {
	if c.IsZero() {
		return ""
	}
	return c.unit.String()
}

// String returns the ISO 4217 code.
func (c Currency) String() string { return c.Code() }

// Exponent returns the number of decimal places of the minor unit: 0 for JPY, 2
// for USD, 3 for KWD.
func (c Currency) Exponent() int { return c.exponent }

// IsZero reports whether c is the zero Currency.
func (c Currency) IsZero() bool { return c == Currency{} }

// MarshalText implements encoding.TextMarshaler.
func (c Currency) MarshalText() ([]byte, error) { return []byte(c.Code()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Currency) UnmarshalText(b []byte) error {
	parsed, err := ParseCurrency(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}
