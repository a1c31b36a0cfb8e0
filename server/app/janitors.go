package app

import (
	"context"
	"time"

	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/risk"
)

// sweepEvery is how often the janitor sweeps idempotency records: often
// enough that the table holds little more than a TTL's worth of keys, rarely
// enough that the sweep costs nothing. Every replica sweeps; deleting what
// another replica deleted is harmless.
const sweepEvery = 10 * time.Minute

// RunJanitors does Strait's background upkeep until ctx ends: it expires
// checkout sessions past their time; the payment janitor resolves unknown and
// stale attempts and pending refunds every janitorEvery; and now, and then
// every sweepEvery, it deletes idempotency records older than
// Config.IdempotencyTTL and risk counter events older than risk.Retention.
func (a *App) RunJanitors(ctx context.Context) {
	go a.runCheckoutJanitor(ctx)
	go a.Cashier.RunJanitor(ctx, janitorEvery)
	ttl := a.Config.IdempotencyTTL
	if ttl <= 0 {
		ttl = idempotency.DefaultTTL
	}
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		n, err := a.Idempotency.Sweep(ctx, ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.ErrorContext(ctx, "idempotency sweep failed", "err", err)
		case n > 0:
			a.Log.InfoContext(ctx, "idempotency records swept", "count", n, "older_than", ttl.String())
		}
		n, err = a.Rules.Forget(ctx, a.now().Add(-risk.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.ErrorContext(ctx, "risk counter sweep failed", "err", err)
		case n > 0:
			a.Log.InfoContext(ctx, "risk counter events forgotten", "count", n, "older_than", risk.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
