package payouts

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/ent/payout"
	"github.com/straitpay/strait/ent/payoutschedule"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// DefaultLease is how long a replica holds a merchant's scheduled payout:
// one that dies mid-run leaves it to another once the lease is out (the
// payout's key, schedule:<day>, makes a second try find the first).
const DefaultLease = 10 * time.Minute

// SetSchedule writes the merchant's payout schedule; its first run is due
// at once. Returns EINVALID for an unknown currency, a weekday outside
// 0–6, a negative minimum or an unverified account (field
// "bankAccountID"), and ENOTFOUND for an account the viewer cannot see.
func (s *Service) SetSchedule(ctx context.Context, sc Schedule) (*Schedule, error) {
	if _, err := money.ParseCurrency(sc.Currency); err != nil {
		return nil, payments.FieldErrorf("currency", "unknown currency %q", sc.Currency)
	}
	if sc.Interval != Daily && sc.Interval != Weekly {
		return nil, payments.FieldErrorf("interval", "interval is DAILY or WEEKLY")
	}
	if sc.Weekday < 0 || sc.Weekday > 6 {
		return nil, payments.FieldErrorf("weekday", "weekday is 0 (Sunday) to 6 (Saturday)")
	}
	if sc.Minimum < 0 {
		return nil, payments.FieldErrorf("minimum", "minimum cannot be negative")
	}
	acc, err := s.client.BankAccount.Get(ctx, sc.BankAccountID)
	if ent.IsNotFound(err) || (err == nil && acc.MerchantID != sc.MerchantID) {
		return nil, payments.Errorf(payments.ENOTFOUND, "bank account not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: bank account: %w", err)
	}
	if acc.Status != bankaccount.StatusVERIFIED {
		return nil, payments.FieldErrorf("bankAccountID", "the bank account is not verified")
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	old, err := s.client.PayoutSchedule.Query().Where(payoutschedule.MerchantID(sc.MerchantID)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		err = s.client.PayoutSchedule.Create().SetMerchantID(sc.MerchantID).SetBankAccountID(sc.BankAccountID).SetCurrency(sc.Currency).
			SetInterval(payoutschedule.Interval(sc.Interval)).SetWeekday(sc.Weekday).SetMinimum(sc.Minimum).SetEnabled(sc.Enabled).
			SetNextRunAt(now).Exec(sys)
	case err == nil:
		err = old.Update().SetBankAccountID(sc.BankAccountID).SetCurrency(sc.Currency).SetInterval(payoutschedule.Interval(sc.Interval)).
			SetWeekday(sc.Weekday).SetMinimum(sc.Minimum).SetEnabled(sc.Enabled).SetNextRunAt(now).Exec(sys)
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: save schedule: %w", err)
	}
	return s.Schedule(ctx, sc.MerchantID)
}

// Schedule returns the merchant's payout schedule, nil when none is set.
func (s *Service) Schedule(ctx context.Context, merchantID string) (*Schedule, error) {
	row, err := s.client.PayoutSchedule.Query().Where(payoutschedule.MerchantID(merchantID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: schedule: %w", err)
	}
	return &Schedule{MerchantID: row.MerchantID, BankAccountID: row.BankAccountID, Currency: row.Currency,
		Interval: Interval(row.Interval), Weekday: row.Weekday, Minimum: row.Minimum, Enabled: row.Enabled, NextRunAt: row.NextRunAt}, nil
}

// nextRun is the next time a schedule pays out after now: the next UTC
// midnight (DAILY), or the next midnight that starts weekday (WEEKLY).
func nextRun(interval Interval, weekday int, now time.Time) time.Time {
	d := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	if interval == Weekly {
		for int(d.Weekday()) != weekday {
			d = d.AddDate(0, 0, 1)
		}
	}
	return d
}

// RunDue does the payouts' due work and returns how many payouts it made
// or sent: pending payouts whose time came (SendAt reached, or an unknown
// outcome to ask again about, with the same key) are sent; and each
// enabled schedule whose run is due, claimed by a conditional UPDATE of
// next_run_at (so one replica runs it), pays out the merchant's whole
// available balance in its currency when it is at least the minimum, with
// the key schedule:<UTC day>, so a run repeated the same day pays nothing
// twice.
func (s *Service) RunDue(ctx context.Context, lease time.Duration, log *slog.Logger) (int, error) {
	if log == nil {
		log = s.cfg.Log
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	done := 0
	ids, err := s.client.Payout.Query().Where(payout.StatusEQ(payoutstatus.Pending), payout.NextCheckAtLTE(now)).
		Order(ent.Asc(payout.FieldNextCheckAt)).Limit(100).IDs(sys)
	if err != nil {
		return 0, fmt.Errorf("payouts: due payouts: %w", err)
	}
	for _, id := range ids {
		s.send(ctx, id)
		done++
	}
	due, err := s.client.PayoutSchedule.Query().Where(payoutschedule.Enabled(true), payoutschedule.NextRunAtLTE(now)).
		Order(ent.Asc(payoutschedule.FieldNextRunAt)).Limit(100).All(sys)
	if err != nil {
		return done, fmt.Errorf("payouts: due schedules: %w", err)
	}
	for _, row := range due {
		n, err := s.client.PayoutSchedule.Update().Where(payoutschedule.ID(row.ID), payoutschedule.NextRunAtLTE(now)).
			SetNextRunAt(now.Add(lease)).Save(sys)
		if err != nil {
			return done, fmt.Errorf("payouts: claim schedule of %s: %w", row.MerchantID, err)
		}
		if n == 0 {
			continue
		}
		if err := s.runSchedule(ctx, row, now); err != nil {
			log.Warn("scheduled payout failed; retried after the lease", "merchant", row.MerchantID, "err", err)
			continue
		}
		done++
		if err := s.client.PayoutSchedule.UpdateOneID(row.ID).SetNextRunAt(nextRun(Interval(row.Interval), row.Weekday, now)).Exec(sys); err != nil {
			return done, fmt.Errorf("payouts: next run of %s: %w", row.MerchantID, err)
		}
	}
	return done, nil
}

func (s *Service) runSchedule(ctx context.Context, row *ent.PayoutSchedule, now time.Time) error {
	cur, err := money.ParseCurrency(row.Currency)
	if err != nil {
		return err
	}
	bal, err := s.ledger.Balance(viewer.SystemContext(ctx), ledger.MerchantAccount(row.MerchantID, ledger.KindAvailable, cur))
	if err != nil {
		return err
	}
	if bal.Minor <= 0 || bal.Minor < row.Minimum {
		return nil
	}
	_, err = s.Create(viewer.SystemContext(ctx), CreateInput{MerchantID: row.MerchantID, BankAccountID: row.BankAccountID, Amount: bal,
		IdempotencyKey: "schedule:" + now.Format(time.DateOnly), Description: "scheduled payout"})
	if payments.ErrorCode(err) == payments.ECONFLICT {
		return nil // today's scheduled payout was made, for another amount
	}
	return err
}

// RunScheduler calls RunDue every interval until ctx ends, each pass
// bounded by the lease its claims take.
func (s *Service) RunScheduler(ctx context.Context, interval, lease time.Duration, log *slog.Logger) {
	schedule.Loop(ctx, schedule.Ticks{Job: "payouts", Interval: interval, Timeout: lease, Log: log}, func(ctx context.Context) error {
		_, err := s.RunDue(ctx, lease, log)
		return err
	})
}
