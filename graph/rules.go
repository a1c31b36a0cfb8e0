package graph

import (
	"time"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/graph/scalar"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
)

// riskRuleOf turns upsertRiskRule's input into the domain's rule; the domain
// validates it.
func riskRuleOf(in model.RiskRuleInput) risk.Rule {
	r := risk.Rule{ID: in.Key, Kind: risk.Kind(in.Kind), Tier: deref(in.Tier), Action: risk.Action(in.Action),
		Enabled: in.Enabled, Score: in.Score, Description: deref(in.Description)}
	if p := in.Params; p != nil {
		r.Params = risk.Params{Currency: parseCurrency(deref(p.Currency)), MaxMinor: int64(deref(p.MaxMinor)),
			Dimension: risk.Dimension(deref(p.Dimension)), Window: time.Duration(deref(p.WindowSeconds)) * time.Second,
			MaxCount: int64(deref(p.MaxCount)), Countries: p.Countries, BINs: p.Bins}
	}
	return r
}

// routingRuleOf turns upsertRoutingRule's input into the domain's rule.
func routingRuleOf(in model.RoutingRuleInput) routing.Rule {
	r := routing.Rule{ID: in.Key, Priority: in.Priority, Enabled: in.Enabled, Prefer: in.Prefer}
	if m := in.Match; m != nil {
		r.Match = routing.Match{MerchantID: deref(m.MerchantID), Schemes: m.Schemes, Countries: m.Countries}
		for _, x := range m.Methods {
			r.Match.Methods = append(r.Match.Methods, routing.Method(x))
		}
		for _, c := range m.Currencies {
			r.Match.Currencies = append(r.Match.Currencies, parseCurrency(c))
		}
	}
	for _, s := range in.Split {
		r.Split = append(r.Split, routing.Share{Connector: s.Connector, Percent: s.Percent})
	}
	return r
}

// nonEmpty is nil for "", for optional string fields.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalInt64(v int64) *scalar.Int64 {
	if v == 0 {
		return nil
	}
	out := scalar.Int64(v)
	return &out
}

func methodNames(ms []routing.Method) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

func currencyCodes(cs []money.Currency) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Code()
	}
	return out
}
