package cashier

import (
	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
)

// contractMoney is an amount as the connector contract carries it: minor
// units with Strait's exponent for the currency stated (payments/money), so
// that a connector never guesses whose minor unit it is (IDR: Strait counts
// whole rupiah, most channels hundredths).
func contractMoney(minor int64, code string) connectors.Money {
	m := connectors.Money{Minor: minor, Currency: code}
	if c, err := money.ParseCurrency(code); err == nil {
		m.Exponent = connectors.Exp(c.Exponent())
	}
	return m
}

// threeDSFor is what a risk decision asks of 3-D Secure: a challenge when a
// rule challenges, even for a card the issuer would let through
// frictionless; otherwise the channel's own choice.
func threeDSFor(d risk.Decision) connectors.ThreeDS {
	if d.Action == risk.Challenge {
		return connectors.ThreeDSChallenge
	}
	return connectors.ThreeDSAutomatic
}
