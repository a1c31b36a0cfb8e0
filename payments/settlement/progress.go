package settlement

import (
	"context"
	"log/slog"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/runs"
)

// Settlement's events. A run reports its progress in the shape every long
// run shares (payments/runs): settlement.run_started, run_progress and
// run_completed, platform events operators follow with
// settlementRunUpdated. An on-demand run (runSettlement) is a run of one
// merchant; a scheduler pass is one run over its due merchants. The batch
// a run creates is the merchant's settlement.created event, written in the
// transaction that creates it, so merchants' webhooks and balanceUpdated
// see it.

// TypeCreated is the merchant event of a settlement batch created.
const TypeCreated = "settlement.created"

// Item outcomes, in runs' terms.
const (
	done    = runs.ItemDone
	failed  = runs.ItemFailed
	skipped = runs.ItemSkipped
)

func (s *Service) startRun(ctx context.Context, scope string, total int, log *slog.Logger) *runs.Tracker {
	return runs.Start(ctx, s.client, runs.Settlement, scope, "merchants", total, s.now, log)
}

// tracked is an on-demand run of one merchant's day, reported as a run.
func (s *Service) tracked(ctx context.Context, merchantID, day string) (*Batch, error) {
	tr := s.startRun(ctx, merchantID+" "+day, 1, nil)
	b, err := s.run(ctx, merchantID, day)
	o := done
	if err != nil {
		o = failed
	}
	tr.Step(ctx, o)
	tr.Finish(ctx, err)
	return b, err
}

// createdEvent writes, in tx, the merchant's settlement.created event of
// batch id: its business day, settlement currency, line count and the net
// that reached available per capture currency (minor units).
func createdEvent(ctx context.Context, tx *ent.Tx, id string, pl *runPlan) error {
	net := map[string]any{}
	for c, n := range pl.net {
		net[c.Code()] = n
	}
	return tx.Event.Create().SetMerchantID(pl.batch.MerchantID).SetType(TypeCreated).SetObjectID(id).
		SetData(map[string]any{"business_date": pl.batch.BusinessDate, "currency": pl.batch.Currency,
			"line_count": len(pl.batch.Lines), "net": net}).
		SetCreatedAt(pl.at).Exec(ctx)
}
