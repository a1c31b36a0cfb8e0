package channels

import (
	"context"
	"slices"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/routing"
)

// Catalog is routing's list of connectors: each installed connector as it
// described itself, with the operator's enabled flag, fees and limits.
type Catalog struct{ s *Service }

var _ routing.Catalog = (*Catalog)(nil)

// NewCatalog returns the routing catalog over the settings in client and the
// connectors of h.
func NewCatalog(client *ent.Client, h Host) *Catalog {
	return &Catalog{s: New(client, h)}
}

// Connectors returns every installed connector, enabled or not. It reads the
// settings as Strait itself: routing runs for merchants, who may not read
// them.
func (c *Catalog) Connectors(ctx context.Context) ([]routing.Connector, error) {
	settings, err := c.s.routed.Get(ctx)
	if err != nil {
		return nil, err
	}
	list := snapshot(c.s.host)
	out := make([]routing.Connector, 0, len(list))
	for _, st := range list {
		rc := routing.Connector{
			Name: st.Name, Kind: string(st.Kind), Methods: methods(st.PaymentMethods),
			Countries: st.Countries, Enabled: st.Enabled, Preauth: slices.Contains(st.Capabilities, connectors.CapPreauth),
		}
		for _, code := range st.Currencies {
			if cur, err := money.ParseCurrency(code); err == nil {
				rc.Currencies = append(rc.Currencies, cur)
			}
		}
		if row, ok := settings[st.Name]; ok {
			rc.Enabled = row.Enabled
			rc.Fees, rc.Limits = row.Fees, row.Limits
		}
		out = append(out, rc)
	}
	return out, nil
}

// methods maps a connector's declared payment methods to routing's families:
// "wallet_redirect" and "wallet_qr" are both wallets.
func methods(declared []string) []routing.Method {
	var out []routing.Method
	for _, d := range declared {
		var m routing.Method
		switch {
		case d == "card":
			m = routing.Card
		case d == "bank_transfer":
			m = routing.BankTransfer
		case d == "direct_debit":
			m = routing.DirectDebit
		case d == "wallet" || len(d) > 7 && d[:7] == "wallet_":
			m = routing.Wallet
		default:
			continue
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Health is routing's view of connector health, read from the plugin host.
type Health struct{ host Host }

var _ routing.Health = (*Health)(nil)

// NewHealth returns routing health over the connectors of h.
func NewHealth(h Host) *Health { return &Health{host: h} }

// Stats returns the connector's circuit. A connector that is not up (starting,
// restarting, refused) reports an open circuit: it cannot take a call now,
// whatever its breaker says. The host does not count approvals, so AuthRateBP
// stays zero (unknown) for every connector and does not sway the ranking.
func (h *Health) Stats(_ context.Context, connector string) (routing.Stats, error) {
	for _, st := range snapshot(h.host) {
		if st.Name != connector {
			continue
		}
		if st.Health != connectors.HealthUp {
			return routing.Stats{Circuit: routing.Open}, nil
		}
		switch st.Circuit {
		case connectors.CircuitOpen:
			return routing.Stats{Circuit: routing.Open}, nil
		case connectors.CircuitHalfOpen:
			return routing.Stats{Circuit: routing.HalfOpen}, nil
		}
		return routing.Stats{Circuit: routing.Closed}, nil
	}
	return routing.Stats{Circuit: routing.Open}, nil
}
