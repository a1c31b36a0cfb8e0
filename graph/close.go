package graph

import (
	"context"

	"github.com/straitpay/strait/graph/model"
	"github.com/straitpay/strait/payments/positions"
)

// positionError is a position's error, nil when the channel answered.
func positionError(p *positions.Position) *string {
	if p.Error == "" {
		return nil
	}
	return &p.Error
}

// setChannelPositionThreshold sets a threshold; a null threshold removes it.
func (r *Resolver) setChannelPositionThreshold(ctx context.Context, in model.ChannelPositionThresholdInput) (*model.ChannelPositionThreshold, error) {
	th := moneyInput(in.Threshold)
	var set = &th
	if in.Threshold == nil {
		set = nil
	}
	out, err := r.Positions.SetThreshold(ctx, in.Connector, in.Currency, set)
	if err != nil {
		return nil, err
	}
	return &model.ChannelPositionThreshold{Connector: in.Connector, Currency: in.Currency, Threshold: out}, nil
}
