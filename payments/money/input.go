package money

import "github.com/straitpay/strait/payments"

// Input is an amount as a client sends it: minor units, a currency code, and
// optionally the exponent the client believes the currency has. A client that
// has JPY's minor unit wrong (sending 1000 meaning ¥10.00) would charge a
// hundred times too much; stating the exponent turns that bug into an error.
type Input struct {
	Minor    int64
	Currency string
	// Exponent, when set, must equal the currency's ISO 4217 exponent.
	Exponent *int
}

// Amount checks the input and returns the amount. Returns EINVALID naming
// field+".currency" for an unknown currency, and field+".exponent" for an
// exponent that is not the currency's.
func (in Input) Amount(field string) (Amount, error) {
	c, err := ParseCurrency(in.Currency)
	if err != nil {
		return Amount{}, payments.FieldErrorf(field+".currency", "unknown currency %q", in.Currency)
	}
	if in.Exponent != nil && *in.Exponent != c.Exponent() {
		return Amount{}, payments.FieldErrorf(field+".exponent", "%s has %d decimal places, not %d", c.Code(), c.Exponent(), *in.Exponent)
	}
	return Amount{Minor: in.Minor, Currency: c}, nil
}

// Positive is Amount that also refuses zero and negative amounts (EINVALID,
// field+".amount").
func (in Input) Positive(field string) (Amount, error) {
	a, err := in.Amount(field)
	if err != nil {
		return Amount{}, err
	}
	if !a.IsPositive() {
		return Amount{}, payments.FieldErrorf(field+".amount", "amount must be greater than zero")
	}
	return a, nil
}
