// Package money is Strait's amount type: int64 minor units of an ISO 4217
// currency. Exponents come from CLDR's ISO 4217 data (golang.org/x/text/currency),
// never from a hand-typed list. Floats never appear.
package money

import (
	"errors"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/vocab/currency"
)

// Currency is an ISO 4217 currency that can carry payments. The zero value is not
// a valid currency. It is vocab/currency's, so the data model can store it
// without importing the payment domain.
type Currency = currency.Currency

// ParseCurrency returns the currency for an ISO 4217 alphabetic code such as
// "USD". The code must be three upper- or lower-case letters naming a tender
// currency. Returns an EINVALID error (field "currency") otherwise. Codes
// parsed once are remembered (there are fewer than 200): the pipeline parses
// a code several times per payment.
func ParseCurrency(code string) (Currency, error) {
	c, err := currency.Parse(code)
	if err != nil {
		var unknown *currency.UnknownError
		if errors.As(err, &unknown) {
			return Currency{}, payments.FieldErrorf("currency", "unknown currency %q", unknown.Code)
		}
		return Currency{}, err
	}
	return c, nil
}

// MustCurrency is ParseCurrency for constants in tests and tables; it panics on an
// unknown code.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}
