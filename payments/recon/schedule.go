package recon

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent/reconciliationrun"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/viewer"
)

// RunDue reconciles yesterday (UTC) for every connector that is up and
// fetches settlement reports, unless the day's run has succeeded already,
// and returns how many runs it made. Replicas share the work through the
// run's lease (Reconcile's claim): of several replicas, one runs a
// connector's day, and the others find it held and move on. A failed run
// is tried again on the next pass.
func (s *Service) RunDue(ctx context.Context, log *slog.Logger) int {
	sys := viewer.SystemContext(ctx)
	day := s.now().AddDate(0, 0, -1).Format(time.DateOnly)
	runs := 0
	for _, st := range s.cfg.Connectors.List() {
		if st.Health != connectors.HealthUp || !slices.Contains(st.Capabilities, connectors.CapSettlementReport) {
			continue
		}
		done, err := s.cfg.Client.ReconciliationRun.Query().Where(reconciliationrun.Connector(st.Name),
			reconciliationrun.BusinessDate(day), reconciliationrun.StatusEQ(reconciliationrun.StatusSUCCEEDED)).Exist(sys)
		if err != nil {
			log.Error("reconciliation runs unreadable", "err", err)
			return runs
		}
		if done {
			continue
		}
		run, err := s.Reconcile(ctx, st.Name, day)
		if err != nil {
			log.Warn("scheduled reconciliation failed; tried again next pass", "connector", st.Name, "day", day, "err", err)
			continue
		}
		if run.Status == string(reconciliationrun.StatusSUCCEEDED) {
			runs++
		}
	}
	return runs
}

// RunScheduler calls RunDue every interval until ctx ends, the first time
// one interval after it starts. A pass is not bounded: each run holds its
// own lease (Reconcile), and RunDue logs its own failures.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration, log *slog.Logger) {
	schedule.Loop(ctx, schedule.Ticks{Job: "reconciliation", Interval: interval, Log: log}, func(ctx context.Context) error {
		s.RunDue(ctx, log)
		return nil
	})
}
