package sdk

import (
	"sync"

	"golang.org/x/text/currency"

	"github.com/straitpay/strait/connectors"
)

// Amounts cross two tables of exponents: Strait's (CLDR's, stated on every
// amount the host sends) and the channel's, usually ISO 4217's. They differ
// for a few currencies (IDR: Strait 0, ISO 4217 2), so a connector converts
// every amount at its edge, both ways:
//
//	minor, err := sdk.ToChannel(r.Amount, channelExponent)   // what you send
//	m := sdk.FromChannel(ans.Amount, ans.Currency, channelExponent) // what you return

// isoMinorUnits lists the currencies whose ISO 4217 minor unit is not 2:
// ISO 4217 list one, as published by SIX Group for the ISO 4217
// maintenance agency. Every other current currency has 2.
var isoMinorUnits = map[string]int{
	"BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3,
	"ISK": 0, "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3,
	"OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4,
	"VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}

// current is the set of currencies in use that golang.org/x/text knows:
// the codes ISO4217Exponent answers for.
var current = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for it := currency.Query(); it.Next(); {
		set[it.Unit().String()] = true
	}
	return set
})

// ISO4217Exponent returns ISO 4217's minor unit for a currency in use: 0
// for JPY, 2 for USD and IDR, 3 for KWD and IQD. Most channels count in it.
// It returns false for a code that is not a currency in use (a withdrawn
// one, a metal, XXX).
func ISO4217Exponent(code string) (int, bool) {
	if !current()[code] {
		return 0, false
	}
	if e, ok := isoMinorUnits[code]; ok {
		return e, true
	}
	return 2, true
}

// ToChannel returns m in minor units of the channel's exponent: the amount
// to send. The conversion is exact or refused: EINVALID (the request is
// refused before anything reaches the channel) when m has no exact form at
// that exponent (150 at exponent 2 is 1.50, which a channel counting whole
// units cannot carry), when m's exponent is not known, or on overflow.
func ToChannel(m connectors.Money, exponent int) (int64, error) {
	return m.In(exponent)
}

// FromChannel turns an amount the channel reported (minor units of code at
// the channel's exponent) into the Money a connector returns. It is in
// Strait's exponent for the currency when the conversion is exact, which it
// is for every amount Strait sent; otherwise (a fee of 0.30 in a currency
// Strait counts in whole units) it keeps the channel's unit, so that nothing
// is rounded away. Either way the exponent is stated.
func FromChannel(minor int64, code string, exponent int) connectors.Money {
	m := connectors.Money{Minor: minor, Currency: code, Exponent: connectors.Exp(exponent)}
	if e, ok := connectors.TableExponent(code); ok {
		if n, err := m.In(e); err == nil {
			return connectors.Money{Minor: n, Currency: code, Exponent: connectors.Exp(e)}
		}
	}
	return m
}
