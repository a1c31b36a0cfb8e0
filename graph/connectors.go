package graph

import (
	"time"

	"entgo.io/contrib/entgql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/channels"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/vocab/connectorterms"
)

// channelEventsNewestFirst orders channel events by ID descending: IDs are
// time-ordered, so the latest notifications come first.
var channelEventsNewestFirst = ent.WithChannelEventOrder(&ent.ChannelEventOrder{
	Direction: entgql.OrderDirectionDesc, Field: ent.DefaultChannelEventOrder.Field,
})

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// limitMax is a limit's maximum, or nil when it has none (Max 0).
func limitMax(l *connectorterms.Limit) *money.Amount {
	if l.Max <= 0 {
		return nil
	}
	return &money.Amount{Minor: l.Max, Currency: l.Currency}
}

func settingsInput(in model.UpdateConnectorSettingsInput) channels.SettingsInput {
	out := channels.SettingsInput{Name: in.Name}
	if in.Fees != nil {
		out.Fees = make([]channels.FeeInput, len(in.Fees))
		for i, f := range in.Fees {
			out.Fees[i] = channels.FeeInput{Currency: f.Currency, FixedMinor: int64(f.FixedAmount), BasisPoints: int64(f.BasisPoints)}
		}
	}
	if in.Limits != nil {
		out.Limits = make([]channels.LimitInput, len(in.Limits))
		for i, l := range in.Limits {
			out.Limits[i] = channels.LimitInput{Currency: l.Currency, Min: int64(l.Min), Max: (*int64)(l.Max)}
		}
	}
	return out
}
