package channels

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/money"
)

// RateSource is an fx.RateSource over a connector's GetRates.
type RateSource struct {
	host Host
	name string
}

var _ fx.RateSource = (*RateSource)(nil)

// NewRateSource returns the rates of the connector called name.
func NewRateSource(h Host, name string) *RateSource {
	return &RateSource{host: h, name: name}
}

// FXConnector returns the first connector, by name, that is up, of the fx
// kind and offers rates; ok is false when there is none.
func FXConnector(h Host) (connectors.Status, bool) {
	for _, st := range h.List() {
		if st.Health == connectors.HealthUp && st.Kind == connectors.KindFX && slices.Contains(st.Capabilities, connectors.CapRates) {
			return st, true
		}
	}
	return connectors.Status{}, false
}

// Pairs returns every pair among currencies once, base before quote in the
// order given: fx.Resolve derives the reverse pairs, so asking for both
// directions would only double the stored rates.
func Pairs(currencies []string) []fx.Pair {
	var curs []money.Currency
	for _, code := range currencies {
		if c, err := money.ParseCurrency(code); err == nil && !slices.Contains(curs, c) {
			curs = append(curs, c)
		}
	}
	var out []fx.Pair
	for i, b := range curs {
		for _, q := range curs[i+1:] {
			out = append(out, fx.Pair{Base: b, Quote: q})
		}
	}
	return out
}

// Name implements fx.RateSource: the connector's name.
func (r *RateSource) Name() string { return r.name }

// GetRates implements fx.RateSource: one GetRates call per base currency.
// A rate the connector sends that is malformed or was not asked for is left
// out; the error is returned only when no call succeeded.
func (r *RateSource) GetRates(ctx context.Context, pairs []fx.Pair) ([]fx.ObservedRate, error) {
	c, ok := r.host.Get(r.name)
	if !ok {
		return nil, fmt.Errorf("rates: connector %s is not installed", r.name)
	}
	var bases []money.Currency
	quotes := map[money.Currency][]string{}
	wanted := map[fx.Pair]bool{}
	for _, p := range pairs {
		if _, seen := quotes[p.Base]; !seen {
			bases = append(bases, p.Base)
		}
		quotes[p.Base] = append(quotes[p.Base], p.Quote.Code())
		wanted[p] = true
	}
	var out []fx.ObservedRate
	var errs []error
	for _, base := range bases {
		resp, err := c.GetRates(ctx, connectors.RatesRequest{Base: base.Code(), Quotes: quotes[base]})
		if err != nil {
			errs = append(errs, fmt.Errorf("rates for %s from %s: %w", base, r.name, err))
			continue
		}
		for _, rt := range resp.Rates {
			b, err1 := money.ParseCurrency(rt.Base)
			q, err2 := money.ParseCurrency(rt.Quote)
			rate, err3 := money.ParseRate(rt.Rate)
			pair := fx.Pair{Base: b, Quote: q}
			if err1 != nil || err2 != nil || err3 != nil || !wanted[pair] {
				continue
			}
			out = append(out, fx.ObservedRate{Pair: pair, Rate: rate, Source: r.name, At: rt.AsOf})
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
