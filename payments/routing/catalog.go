// Package routing chooses the connector for a payment. The Router keeps the
// connectors that can take the payment (method, scheme, currency, country,
// amount limits, enabled, circuit not open), ranks them by least cost with
// auth rate and health as tiebreakers, lets the operator's rules (priority
// overrides, volume splits) reorder them, and records every candidate with the
// reason it was kept or dropped. NextAfter is the cascade policy.
package routing

import (
	"context"
	"math"
	"math/bits"
	"slices"

	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/vocab/connectorterms"
)

// Method is a payment method family.
type Method string

// Payment methods.
const (
	Card         Method = "card"
	Wallet       Method = "wallet"
	BankTransfer Method = "bank_transfer"
	DirectDebit  Method = "direct_debit"
)

// Methods lists every method, in the order a cashier shows them.
var Methods = []Method{Card, Wallet, BankTransfer, DirectDebit}

// Connector describes what a connector can take and what it costs. The catalog
// builds it from the connector's Describe answer and the operator's
// configuration.
type Connector struct {
	Name string `json:"name"`
	// Kind is the plugin type (cardnet, bank, wallet, …); several connectors may
	// share a kind with different accounts.
	Kind    string   `json:"kind"`
	Methods []Method `json:"methods"`
	// Schemes lists the card schemes accepted; empty accepts every scheme.
	Schemes    []string         `json:"schemes,omitempty"`
	Currencies []money.Currency `json:"currencies"`
	// Countries lists the buyer countries served (ISO 3166-1 alpha-2); empty
	// serves every country.
	Countries []string `json:"countries,omitempty"`
	// Limits bound the amount per currency; a currency without one is unbounded.
	Limits []Limit `json:"limits,omitempty"`
	// Fees price a payment per currency; an entry with the zero Currency is the
	// default. A connector with no applicable entry costs nothing.
	Fees    []Fee `json:"fees,omitempty"`
	Enabled bool  `json:"enabled"`
	// Preauth says the connector can authorize without capturing, then
	// capture or void (connectors.CapPreauth).
	Preauth bool `json:"preauth,omitempty"`
}

// Limit bounds the amount of a payment in one currency, in minor units. Max 0
// means no maximum. It is vocab/connectorterms', the type the data model stores.
type Limit = connectorterms.Limit

// Fee is a connector's price for a payment: a fixed part in minor units of
// Currency plus basis points (1/100 of a percent) of the amount. It is
// vocab/connectorterms', the type the data model stores.
type Fee = connectorterms.Fee

// Catalog lists the connectors. The lead's implementation merges the plugin
// host's Describe answers with the connector configuration table.
type Catalog interface {
	// Connectors returns every configured connector, enabled or not.
	Connectors(ctx context.Context) ([]Connector, error)
}

// Circuit is the state of a connector's circuit breaker.
type Circuit string

// Circuit states. The zero value is treated as Closed (no data yet).
const (
	Closed   Circuit = "closed"
	Open     Circuit = "open"
	HalfOpen Circuit = "half_open"
)

// Stats is a connector's recent health.
type Stats struct {
	Circuit Circuit `json:"circuit"`
	// AuthRateBP is the recent approval rate in basis points (0 to 10000).
	AuthRateBP int64 `json:"auth_rate_bp"`
}

// Health reports connector health, fed by the plugin host's metrics.
type Health interface {
	// Stats returns a connector's stats; the zero Stats when nothing is known.
	Stats(ctx context.Context, connector string) (Stats, error)
}

// cost returns the connector's fee for amount, in minor units of its currency:
// fixed + ceil(amount × bps / 10000), saturating at MaxInt64. Fees are rounded
// up because that is what the connector charges.
func (c Connector) cost(a money.Amount) int64 {
	var fee *Fee
	for i := range c.Fees {
		switch {
		case c.Fees[i].Currency == a.Currency:
			fee = &c.Fees[i]
		case c.Fees[i].Currency.IsZero() && fee == nil:
			fee = &c.Fees[i]
		}
	}
	if fee == nil || a.Minor <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a.Minor), uint64(max(fee.BasisPoints, 0)))
	// hi < 10000 because amount < 2^63 and bps ≤ 10000 in any valid fee, so
	// Div64 cannot panic; guard anyway for a misconfigured fee.
	if hi >= 10000 {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, 10000)
	if r != 0 {
		q++
	}
	total := q + uint64(max(fee.FixedMinor, 0))
	if total > math.MaxInt64 || total < q {
		return math.MaxInt64
	}
	return int64(total)
}

func (c Connector) limit(cur money.Currency) (Limit, bool) {
	i := slices.IndexFunc(c.Limits, func(l Limit) bool { return l.Currency == cur })
	if i < 0 {
		return Limit{}, false
	}
	return c.Limits[i], true
}

// Fee returns the connector's fee for a payment of a, in minor units of a's
// currency: the figure ranking uses, fixed + ⌈a × bps / 10 000⌉ from the fee
// entry for a's currency (or the default entry), and 0 when none applies.
func (c Connector) Fee(a money.Amount) int64 { return c.cost(a) }
