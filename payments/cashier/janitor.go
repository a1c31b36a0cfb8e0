package cashier

import (
	"context"
	"errors"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/refundstatus"
	"os"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// The janitor resolves what the pipeline could not: attempts whose outcome
// is unknown (a timeout, a crashed plugin, a crash of Strait itself
// mid-call), attempts the channel left pending, buyers who never finished a
// next action, captures and voids of authorizations whose answer never came
// (inflight.go), and refunds whose answer never came. It asks the channel
// (QueryPayment, by the attempt's reference when no channel id was ever
// received) and records what it learns through the same record path as the
// pipeline. It never authorizes again: a second authorization is how a
// buyer gets charged twice. A refund is sent again only with its own
// idempotency key, which the channel answers as a replay.

// sweepBatch bounds the attempts one pass looks at, so a backlog after an
// outage is worked through in steady slices rather than one long pass.
const sweepBatch = 100

// RunJanitor sweeps every interval until ctx ends. Run it on every replica:
// two janitors checking one attempt both record through record, which locks
// the payment and applies each outcome once.
func (s *Service) RunJanitor(ctx context.Context, every time.Duration) {
	if os.Getenv("STRAIT_DEBUG_FAULT") == "janitor-skip-inflight" { // test only: the fault harness must catch this (docs/faults.md)
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "janitor sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep runs one pass over the attempts and refunds that are due, and
// returns how many it checked. Errors of single checks are logged and the
// pass goes on; the error returned is the scan's own.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	due, err := s.cfg.Client.PaymentAttempt.Query().
		Where(paymentattempt.Or(
			paymentattempt.StatusIn(attemptstatus.Pending, attemptstatus.Unknown, attemptstatus.ActionRequired),
			// A capture or void in flight (inflight.go).
			paymentattempt.And(paymentattempt.StatusEQ(attemptstatus.Authorized), paymentattempt.OperationNotNil())),
			paymentattempt.NextCheckAtLTE(s.now())).
		Order(paymentattempt.ByNextCheckAt()).Limit(sweepBatch).All(sys)
	if err != nil {
		return 0, fmt.Errorf("janitor: due attempts: %w", err)
	}
	for _, a := range due {
		if err := s.check(sys, a); err != nil {
			s.log.ErrorContext(ctx, "janitor check", "attempt", a.ID, "err", err)
		}
	}
	n, err := s.resendRefunds(sys)
	return len(due) + n, err
}

// check asks the channel about one attempt and records the answer.
func (s *Service) check(ctx context.Context, a *ent.PaymentAttempt) error {
	if a.Status == attemptstatus.Authorized {
		return s.checkOperation(ctx, a)
	}
	// By default the janitor learned nothing: the attempt waits for its next
	// check. A pending attempt the channel cannot tell us about (this process
	// or Strait itself died mid-call) is unknown from now on.
	res := result{check: true}
	if a.Status == attemptstatus.Pending {
		res.outcome = attemptstatus.OutcomeUnknown
	}
	if c, err := s.connector(a.Connector); err == nil {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		st, err := c.QueryPayment(cctx, connectors.QueryPaymentRequest{PaymentID: a.ConnectorReference, Reference: a.ID})
		cancel()
		if r, ok := statusResult(st, err, a.Capture); ok {
			res, res.check = r, true
		}
	}
	if a.Status == attemptstatus.Unknown && res.outcome == attemptstatus.OutcomeActionRequired {
		// An unknown authorize leaves its payment processing; a waiting
		// payment's attempt is unknown only after a cancel whose answer was
		// lost, and the channel says the void never arrived.
		if p, err := s.cfg.Client.Payment.Get(ctx, a.PaymentID); err == nil && p.Status == paymentstatus.RequiresAction {
			return s.finishCancel(ctx, a)
		}
	}
	if a.Status == attemptstatus.ActionRequired &&
		(res.outcome == "" || res.outcome == attemptstatus.OutcomeActionRequired || res.outcome == attemptstatus.OutcomeVoid) {
		// The buyer had ActionTTL to act and did not.
		return s.expireWaiting(ctx, a, res.outcome == attemptstatus.OutcomeVoid)
	}
	_, _, err := s.record(ctx, a.ID, res, nil)
	return err
}

// resendRefunds sends again, with their own keys, the refunds whose answer
// never came.
func (s *Service) resendRefunds(ctx context.Context) (int, error) {
	stale := s.now().Add(-(s.cfg.CallTimeout + inFlightGrace))
	rs, err := s.cfg.Client.Refund.Query().
		Where(refund.StatusEQ(refundstatus.Pending), refund.UpdatedAtLT(stale)).
		Order(refund.ByUpdatedAt()).Limit(sweepBatch).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("janitor: pending refunds: %w", err)
	}
	for _, r := range rs {
		if err := s.resendRefund(ctx, r); err != nil {
			s.log.ErrorContext(ctx, "janitor refund", "refund", r.ID, "err", err)
		}
	}
	return len(rs), nil
}

func (s *Service) resendRefund(ctx context.Context, r *ent.Refund) error {
	p, err := s.cfg.Client.Payment.Get(ctx, r.PaymentID)
	if err != nil {
		return err
	}
	att, err := s.liveAttempt(ctx, p, attemptstatus.Captured)
	if err != nil {
		return err
	}
	c, err := s.connector(att.Connector)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		resp, cerr := c.Refund(cctx, connectors.RefundRequest{IdempotencyKey: r.ID, Reference: r.ID,
			PaymentID: att.ConnectorReference, Amount: contractMoney(r.Amount, r.Currency), Reason: r.Reason})
		cancel()
		if o := refundResult(resp.Result, cerr); o != "" {
			_, err := s.recordRefund(ctx, r.ID, o, resp.ID, resp.Result.Code)
			return err
		}
	}
	// Still in flight: come back after the next quiet period.
	return errors.Join(err, s.apply(ctx, "refund "+r.ID, r.PaymentID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		if _, err := s.lockPayment(ctx, tx, r.PaymentID); err != nil {
			return err
		}
		cur, err := tx.Refund.Get(ctx, r.ID)
		if err != nil {
			return err
		}
		planRefundRecheck(cur, w)
		return nil
	}))
}

// planRefundRecheck puts refund r, read under its payment's lock, back at
// the end of the janitor's queue (its updated_at) while it is pending.
func planRefundRecheck(r *ent.Refund, w *recordWrites) {
	if r.Status == refundstatus.Pending {
		r.UpdatedAt = w.now
		w.refunds = append(w.refunds, store.RowUpdate{ID: r.ID, Set: row{}})
	}
}
