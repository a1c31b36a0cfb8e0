package settlement

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/settlementschedule"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/viewer"
)

// DefaultLease is how long a replica holds a merchant's scheduled run: if it
// dies mid-run, another replica takes the run over once the lease is out
// (the run itself is idempotent, so a taken-over run settles nothing twice).
const DefaultLease = 10 * time.Minute

// LatestDay returns the latest business day (in sc's timezone, as
// "2006-01-02") that can run at now: the day whose maturing captures are
// all in.
func LatestDay(sc Schedule, now time.Time) (string, error) {
	loc, err := time.LoadLocation(sc.Timezone)
	if err != nil {
		return "", err
	}
	l := now.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	for captureCutoff(d, sc.DelayDays).After(now) {
		d = d.AddDate(0, 0, -1)
	}
	return d.Format(time.DateOnly), nil
}

// RunDue runs the settlement of every scheduled merchant whose next run is
// due, for its LatestDay, and returns how many runs it made. Each merchant's
// run is claimed first by a conditional UPDATE that moves next_run_at past
// now (the inbox processor's pattern), so of several replicas exactly one
// runs it. A successful run schedules the next for the merchant's next local
// midnight; a failed one is retried when its lease runs out.
func (s *Service) RunDue(ctx context.Context, lease time.Duration, log *slog.Logger) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now().UTC().Truncate(time.Microsecond)
	due, err := s.client.SettlementSchedule.Query().
		Where(settlementschedule.NextRunAtLTE(now)).Order(ent.Asc(settlementschedule.FieldNextRunAt)).Limit(100).All(sys)
	if err != nil {
		return 0, fmt.Errorf("settlement: due schedules: %w", err)
	}
	runs := 0
	if len(due) == 0 {
		return 0, nil
	}
	// The pass is one run (progress.go): one item per due merchant.
	tr := s.startRun(ctx, "due", len(due), log)
	var passErr error
	defer func() { tr.Finish(ctx, passErr) }()
	for _, row := range due {
		n, err := s.client.SettlementSchedule.Update().
			Where(settlementschedule.ID(row.ID), settlementschedule.NextRunAtLTE(now)).
			SetNextRunAt(now.Add(lease)).Save(sys)
		if err != nil {
			passErr = fmt.Errorf("settlement: claim %s: %w", row.MerchantID, err)
			return runs, passErr
		}
		if n == 0 {
			tr.Step(ctx, skipped)
			continue // another replica has it
		}
		sc, err := s.Schedule(ctx, row.MerchantID)
		if err != nil {
			log.Error("settlement schedule unreadable", "merchant", row.MerchantID, "err", err)
			tr.Step(ctx, failed)
			continue
		}
		day, err := LatestDay(sc, now)
		if err == nil {
			_, err = s.run(ctx, row.MerchantID, day)
		}
		if err != nil {
			log.Warn("scheduled settlement failed; retried after the lease", "merchant", row.MerchantID, "day", day, "err", err)
			tr.Step(ctx, failed)
			continue
		}
		tr.Step(ctx, done)
		runs++
		loc, _ := time.LoadLocation(sc.Timezone)
		l := now.In(loc)
		next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc).UTC()
		if err := s.client.SettlementSchedule.UpdateOneID(row.ID).SetNextRunAt(next).Exec(sys); err != nil {
			passErr = fmt.Errorf("settlement: schedule next run of %s: %w", row.MerchantID, err)
			return runs, passErr
		}
	}
	return runs, nil
}

// RunScheduler calls RunDue every interval until ctx ends, the first time
// one interval after it starts (a run is due at most once a day per
// merchant, so nothing is late by waiting), each pass bounded by the lease
// its claims take.
func (s *Service) RunScheduler(ctx context.Context, interval, lease time.Duration, log *slog.Logger) {
	schedule.Loop(ctx, schedule.Ticks{Job: "settlement", Interval: interval, Timeout: lease, Log: log}, func(ctx context.Context) error {
		_, err := s.RunDue(ctx, lease, log)
		return err
	})
}
