// Package currency is the ISO 4217 currency as Strait stores and computes
// with it: the code and the exponent of its minor unit. Exponents come from
// CLDR's ISO 4217 data (golang.org/x/text/currency), never from a hand-typed
// list.
//
// It is a leaf: it imports nothing of Strait's, so the data model's stored
// value types (vocab/connectorterms) can carry a currency. payments/money
// re-exports Currency and turns Parse's error into the domain's EINVALID.
package currency

import (
	"fmt"
	"strings"
	"sync"

	"golang.org/x/text/currency"
)

// Currency is an ISO 4217 currency that can carry payments. The zero value is not
// a valid currency.
type Currency struct {
	unit     currency.Unit
	exponent int
}

// UnknownError is Parse's answer for a code that names no tender currency.
type UnknownError struct {
	// Code is the code asked for, trimmed and in upper case.
	Code string
}

// Error implements error.
func (e *UnknownError) Error() string { return fmt.Sprintf("unknown currency %q", e.Code) }

// notTender lists ISO 4217 codes that exist but are not money a payment can be
// made in: precious metals, bond-market units, SDRs and the testing codes.
var notTender = map[string]bool{
	"XAU": true, "XAG": true, "XPD": true, "XPT": true, // metals
	"XBA": true, "XBB": true, "XBC": true, "XBD": true, // bond-market units
	"XDR": true, "XSU": true, "XUA": true, // drawing rights and settlement units
	"XTS": true, "XXX": true, // testing and "no currency"
}

// Parse returns the currency for an ISO 4217 alphabetic code such as "USD".
// The code must be three upper- or lower-case letters naming a tender
// currency; otherwise the error is an *UnknownError. Codes parsed once are
// remembered (there are fewer than 200): the pipeline parses a code several
// times per payment.
func Parse(code string) (Currency, error) {
	if c, ok := parsed.Load(code); ok {
		return c.(Currency), nil
	}
	norm := strings.ToUpper(strings.TrimSpace(code))
	if len(norm) != 3 || notTender[norm] {
		return Currency{}, &UnknownError{Code: norm}
	}
	u, err := currency.ParseISO(norm)
	if err != nil {
		return Currency{}, &UnknownError{Code: norm}
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

// UnmarshalText implements encoding.TextUnmarshaler: an *UnknownError for a
// code Parse refuses.
func (c *Currency) UnmarshalText(b []byte) error {
	parsed, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}
