// Package fx prices and performs currency conversions. Rates come from a
// RateSource (the fx connector, in production) and are stored with their source
// and time; a Quote locks a rate plus the platform's margin for a stated
// duration; a conversion moves a merchant's money from one currency to the other
// through the platform's FX accounts, so each currency balances on its own and
// the platform's FX position carries its gains and losses.
package fx

import (
	"context"
	"time"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
)

// Pair is a currency pair: a rate for it says how many units of Quote one unit
// of Base buys.
type Pair struct {
	Base  money.Currency
	Quote money.Currency
}

// String returns "BASE/QUOTE", e.g. "USD/JPY".
func (p Pair) String() string { return p.Base.Code() + "/" + p.Quote.Code() }

// Inverse returns QUOTE/BASE.
func (p Pair) Inverse() Pair { return Pair{Base: p.Quote, Quote: p.Base} }

// Validate returns EINVALID (field "currency") unless both currencies are set and
// differ.
func (p Pair) Validate() error {
	if p.Base.IsZero() || p.Quote.IsZero() {
		return payments.FieldErrorf("currency", "both currencies are required")
	}
	if p.Base == p.Quote {
		return payments.FieldErrorf("currency", "cannot convert %s to itself", p.Base)
	}
	return nil
}

// ObservedRate is a mid-market rate as a source reported it.
type ObservedRate struct {
	Pair   Pair
	Rate   money.Rate
	Source string
	// At is when the source observed the rate (or, if it does not say, when
	// Strait fetched it).
	At time.Time
}

// RateSource supplies market rates. The fx connector implements it; tests use a
// fixed table. GetRates returns the current rate of every pair it knows among
// pairs; pairs it does not know are left out, not errors. An error means the
// source could not be reached and is reported as EUNAVAILABLE by callers.
type RateSource interface {
	// Name identifies the source in stored rates, e.g. "fx-sandbox".
	Name() string
	GetRates(ctx context.Context, pairs []Pair) ([]ObservedRate, error)
}

// Resolve finds the rate for pair among rates: the pair itself if present,
// otherwise the inverse of its reverse pair (see money.Rate.Inverse for the
// rounding of derived rates). When both are present the direct rate wins.
// Returns EUNAVAILABLE if neither is known.
func Resolve(pair Pair, rates []ObservedRate) (ObservedRate, error) {
	var reverse *ObservedRate
	for i, r := range rates {
		switch r.Pair {
		case pair:
			return r, nil
		case pair.Inverse():
			reverse = &rates[i]
		}
	}
	if reverse == nil {
		return ObservedRate{}, payments.Errorf(payments.EUNAVAILABLE, "no rate for %s", pair)
	}
	return ObservedRate{Pair: pair, Rate: reverse.Rate.Inverse(), Source: reverse.Source, At: reverse.At}, nil
}
