package money_test

import (
	"testing"

	"golang.org/x/text/currency"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/money"
)

// TestContractReadsStraitsTable: an amount that crosses the connector
// contract without a stated exponent is read in connectors.TableExponent;
// that must be the exponent this package gives every currency, or an old
// plugin's amounts would be read in the wrong unit.
func TestContractReadsStraitsTable(t *testing.T) {
	n := 0
	for it := currency.Query(currency.Historical); it.Next(); {
		code := it.Unit().String()
		c, err := money.ParseCurrency(code)
		if err != nil {
			continue // not tender
		}
		e, ok := connectors.TableExponent(code)
		if !ok || e != c.Exponent() {
			t.Errorf("%s: payments/money %d, contract %d (%t)", code, c.Exponent(), e, ok)
		}
		n++
	}
	if n < 150 {
		t.Fatalf("only %d currencies compared", n)
	}
	// The currencies docs/money.md names: whole units in Strait's table.
	for _, code := range []string{"IDR", "COP", "PKR", "LBP", "RSD", "MGA", "IQD"} {
		if money.MustCurrency(code).Exponent() != 0 {
			t.Errorf("%s has %d decimals in Strait's table", code, money.MustCurrency(code).Exponent())
		}
	}
}
