// Package schedule runs background work on a clock. A periodic job runs
// on one replica per interval (Every): each pass is claimed in the leases
// table by a conditional UPDATE that moves the job's expiry an interval
// ahead only if it had passed (the settlement scheduler's pattern), so of
// several replicas exactly one runs it; the day-end close and the channel
// position check run so. The settlement, payout and reconciliation
// schedulers, which claim their own rows, use its loop alone (Loop). A
// consumer of a queue (the outbox relay, the webhook sender, the report
// rollup) drains it in steps, woken by its producers or polling (Drain).
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
	Loop(ctx, Ticks{Job: name, Interval: interval, Timeout: interval, Log: log}, func(ctx context.Context) error {
		ok, err := Claim(ctx, client, name, holder, now().UTC().Truncate(time.Microsecond), interval)
		if err != nil || !ok {
			return err
		}
		return pass(ctx)
	})
}

// Ticks says when Loop runs a job's passes.
type Ticks struct {
	// Job names the work in the log.
	Job string
	// Interval is the time between passes; the first runs one interval
	// after Loop starts (the process's start is left to the work that
	// serves requests, and a periodic job is not late by one interval).
	Interval time.Duration
	// Timeout bounds each pass (none when 0). A job that claims its rows
	// for a lease bounds its passes by it, so that a pass never outlives
	// its claims: a database that stops answering leaves no pass holding
	// a connection past the lease.
	Timeout time.Duration
	// Log receives each pass's error.
	Log *slog.Logger
}

// Loop calls pass every t.Interval until ctx ends, one pass at a time.
// A pass's error is logged as t.Job's (unless ctx has ended) and the next
// pass runs on time all the same: the claims a pass takes, here (Every)
// or per row in the job's own package, decide what is done again.
func Loop(ctx context.Context, t Ticks, pass func(context.Context) error) {
	tick := time.NewTicker(t.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if t.Timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, t.Timeout)
		}
		if err := pass(pctx); err != nil && ctx.Err() == nil {
			t.Log.Error("scheduled pass failed", "job", t.Job, "err", err)
		}
		cancel()
	}
}
