// Package schedule runs a periodic job on one replica per interval: each
// pass is claimed in the leases table by a conditional UPDATE that moves
// the job's expiry an interval ahead only if it had passed (the settlement
// scheduler's pattern), so of several replicas exactly one runs it. The
// day-end close and the channel position check use it.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/lease"
	"github.com/straitpay/strait/payments/viewer"
)

// Claim takes the pass of job name for holder until now+every, and reports
// whether it got it: it does when the last pass's claim has expired (or
// there was none).
func Claim(ctx context.Context, client *ent.Client, name, holder string, now time.Time, every time.Duration) (bool, error) {
	sys := viewer.SystemContext(ctx)
	n, err := client.Lease.Update().Where(lease.ID(name), lease.ExpiresAtLTE(now)).
		SetHolder(holder).SetExpiresAt(now.Add(every)).Save(sys)
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", name, err)
	}
	if n == 1 {
		return true, nil
	}
	err = client.Lease.Create().SetID(name).SetHolder(holder).SetExpiresAt(now.Add(every)).Exec(sys)
	switch {
	case err == nil:
		return true, nil
	case ent.IsConstraintError(err):
		return false, nil // claimed already, by this replica or another
	default:
		return false, fmt.Errorf("claim %s: %w", name, err)
	}
}

// Every runs pass every interval until ctx ends, on the replica that
// claims each interval (the first one interval after it starts). A pass
// runs on a context bounded by the interval; its error is logged.
func Every(ctx context.Context, client *ent.Client, name, holder string, interval time.Duration, now func() time.Time,
	log *slog.Logger, pass func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		ok, err := Claim(pctx, client, name, holder, now().UTC().Truncate(time.Microsecond), interval)
		if err == nil && ok {
			err = pass(pctx)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("scheduled pass failed", "job", name, "err", err)
		}
		cancel()
	}
}
