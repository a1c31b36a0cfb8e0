package sandbox

import (
	"fmt"
	"sort"
)

// maxAmount bounds every amount so that sums and percentage fees over a
// day's report stay far from int64 overflow (10^15 minor units is more money
// than any test needs).
const maxAmount = 1_000_000_000_000_000

// exponents lists the supported ISO 4217 currencies and their minor-unit
// exponents.
var exponents = map[string]int{
	"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CNY": 2, "HKD": 2, "SGD": 2,
	"KWD": 3, "BHD": 3, "JOD": 3, "AUD": 2, "CAD": 2, "CHF": 2, "NZD": 2,
	"KRW": 0, "INR": 2, "MYR": 2, "THB": 2, "AED": 2, "SAR": 2, "TWD": 2,
	"SEK": 2, "NOK": 2, "DKK": 2, "PHP": 2, "IDR": 2, "VND": 0, "MXN": 2,
	"BRL": 2,
}

// Exponents returns the supported currencies and their exponents: ISO
// 4217's minor units, in which every amount of the API is counted.
func Exponents() map[string]int {
	out := make(map[string]int, len(exponents))
	for c, e := range exponents {
		out[c] = e
	}
	return out
}

// currencies returns the supported currency codes, sorted.
func currencies() []string {
	out := make([]string, 0, len(exponents))
	for c := range exponents {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// checkMoney validates an amount in minor units and its currency.
func checkMoney(amount int64, currency string) error {
	if _, ok := exponents[currency]; !ok {
		return invalid("currency %q is not supported", currency)
	}
	if amount < 1 || amount > maxAmount {
		return invalid("amount must be between 1 and %d minor units", int64(maxAmount))
	}
	return nil
}

// checkOptionalAmount validates an amount that may be omitted (zero).
func checkOptionalAmount(amount int64) error {
	if amount < 0 || amount > maxAmount {
		return invalid("amount must be between 1 and %d minor units", int64(maxAmount))
	}
	return nil
}

// majorFee converts a fee written in hundredths of a major unit (1500 is
// 15.00) into minor units of currency, truncating what the currency cannot
// express (0.30 in JPY is 0).
func majorFee(currency string, hundredths int64) int64 {
	return hundredths * pow10(exponents[currency]) / 100
}

// percentFee is amount × bps / 10000, rounded half up. amount is bounded by
// maxAmount, so the product cannot overflow for any fee below 100 %.
func percentFee(amount, bps int64) int64 {
	if amount < 0 {
		amount = -amount
	}
	return (amount*bps + 5000) / 10000
}

// initialBalance is the starting balance of the merchant's bank account in
// each currency: 1,000,000 major units.
func initialBalance(currency string) int64 {
	return 1_000_000 * pow10(exponents[currency])
}

func formatMinor(amount int64, currency string) string {
	exp := exponents[currency]
	if exp == 0 {
		return fmt.Sprintf("%s %d", currency, amount)
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	p := pow10(exp)
	return fmt.Sprintf("%s %s%d.%0*d", currency, sign, amount/p, exp, amount%p)
}
