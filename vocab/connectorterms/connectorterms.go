// Package connectorterms holds the terms an operator sets on a connector, as
// the data model stores them (ent ConnectorSetting's JSON fields) and routing
// reads them: the fees a connector charges and the amounts it accepts.
//
// It is a leaf: it imports nothing of Strait's but vocab/currency, so the data
// model stores these values without importing the payment domain.
// payments/routing re-exports Fee and Limit.
package connectorterms

import "github.com/straitpay/strait/vocab/currency"

// Limit bounds the amount of a payment in one currency, in minor units. Max 0
// means no maximum.
type Limit struct {
	Currency currency.Currency `json:"currency"`
	Min      int64             `json:"min"`
	Max      int64             `json:"max"`
}

// Fee is a connector's price for a payment: a fixed part in minor units of
// Currency plus basis points (1/100 of a percent) of the amount.
type Fee struct {
	Currency    currency.Currency `json:"currency,omitzero"`
	FixedMinor  int64             `json:"fixed_minor"`
	BasisPoints int64             `json:"basis_points"`
}
