package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/reconciliationline"
	"github.com/straitpay/strait/ent/reconciliationrun"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/runs"
	"github.com/straitpay/strait/payments/viewer"
)

// Reconcile runs the reconciliation of connector's settlement report for
// day (UTC, YYYY-MM-DD) and returns the run.
//
// Refused: a day that is not YYYY-MM-DD or is in the future (EINVALID, field
// "day"); an unknown connector (ENOTFOUND, field "connector"). A run of the
// same day that another caller or replica holds is returned as it stands
// (RUNNING). A channel that cannot be reached fails the run (FAILED, with
// the error) and returns EUNAVAILABLE; running the day again takes it up
// where it stopped. A report that changed under lines a run recorded fails
// it with ECONFLICT.
func (s *Service) Reconcile(ctx context.Context, connector, day string) (*Run, error) {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil || d.Format(time.DateOnly) != day {
		return nil, payments.FieldErrorf("day", "day %q is not YYYY-MM-DD", day)
	}
	now := s.now()
	if d.After(now) {
		return nil, payments.FieldErrorf("day", "day %s is in the future", day)
	}
	conn, ok := s.cfg.Connectors.Get(connector)
	if !ok {
		return nil, &payments.Error{Code: payments.ENOTFOUND, Field: "connector", Message: fmt.Sprintf("no connector %q", connector)}
	}
	sys := viewer.SystemContext(ctx)
	run, lease, err := s.claim(sys, connector, day)
	if err != nil || lease.IsZero() {
		return run, err
	}
	// The run reports under its own ID (runUpdated), its report's lines
	// counted as they are read: done when decided, skipped when an earlier
	// run of the day recorded them.
	tr := runs.Begin(sys, s.cfg.Client, runs.Spec{ID: run.ID, Kind: runs.Reconciliation, Scope: connector + " " + day,
		Unit: "lines", Open: true}, s.cfg.Now, nil)
	run, err = s.reconcile(sys, conn, run.ID, connector, d, lease, tr)
	tr.Finish(sys, err)
	return run, err
}

// reconcile walks the day's report into the run this caller holds, then
// looks for the records the report lacks, and lets the run go.
func (s *Service) reconcile(ctx context.Context, conn connectors.Connector, runID, connector string, d time.Time, lease time.Time, tr *runs.Tracker) (*Run, error) {
	if err := s.walk(ctx, conn, runID, connector, d, &lease, tr); err != nil {
		return s.fail(ctx, runID, lease, err)
	}
	if err := s.missingTheirs(ctx, runID, connector, d, &lease); err != nil {
		return s.fail(ctx, runID, lease, err)
	}
	return s.finish(ctx, runID, lease)
}

// claim returns the day's run, created if new, and the lease this caller
// now holds on it: the zero time when another holds it (the run is
// returned as it stands). Taking the lease is a conditional UPDATE, so of
// several replicas exactly one runs a day at a time.
func (s *Service) claim(ctx context.Context, connector, day string) (*Run, time.Time, error) {
	c := s.cfg.Client
	err := c.ReconciliationRun.Create().SetConnector(connector).SetBusinessDate(day).
		OnConflictColumns(reconciliationrun.FieldConnector, reconciliationrun.FieldBusinessDate).Ignore().Exec(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("recon: create run: %w", err)
	}
	row, err := c.ReconciliationRun.Query().
		Where(reconciliationrun.Connector(connector), reconciliationrun.BusinessDate(day)).Only(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("recon: read run: %w", err)
	}
	now := s.now()
	lease := now.Add(s.cfg.Lease)
	n, err := c.ReconciliationRun.Update().
		Where(reconciliationrun.ID(row.ID), reconciliationrun.Or(reconciliationrun.LeaseUntilIsNil(), reconciliationrun.LeaseUntilLT(now))).
		SetLeaseUntil(lease).SetStatus(reconciliationrun.StatusRUNNING).SetLinesRead(0).SetError("").ClearFinishedAt().
		Save(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("recon: claim run: %w", err)
	}
	if n == 0 {
		return runOf(row), time.Time{}, nil
	}
	row, err = c.ReconciliationRun.Get(ctx, row.ID)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("recon: read run: %w", err)
	}
	return runOf(row), lease, nil
}

// walk streams the report page by page: each page fetched, its records
// read, decided and applied before the next is fetched, so that memory
// holds one page. A connector that does not page answers the whole day at
// once; its lines are still decided and written a page at a time.
func (s *Service) walk(ctx context.Context, conn connectors.Connector, runID, connector string, day time.Time, lease *time.Time, tr *runs.Tracker) error {
	date := day.Format(time.DateOnly)
	var no int64
	token := ""
	for {
		rep, err := conn.FetchSettlementReport(ctx, connectors.SettlementReportRequest{Date: date, PageSize: s.cfg.PageSize, PageToken: token})
		if err == nil && rep.Result.Outcome != connectors.OutcomeApproved {
			err = fmt.Errorf("%s: %s", rep.Result.Code, rep.Result.Message)
		}
		if err != nil {
			return payments.Errorf(payments.EUNAVAILABLE, "settlement report of %s for %s: %v", connector, date, err)
		}
		for len(rep.Lines) > 0 {
			n := min(len(rep.Lines), s.cfg.PageSize)
			lines := make([]Line, n)
			for i, l := range rep.Lines[:n] {
				lines[i] = ReadLine(no+int64(i), l)
			}
			rep.Lines = rep.Lines[n:]
			decided, err := s.page(ctx, runID, connector, date, lines, lease)
			if err != nil {
				return err
			}
			tr.Grow(n)
			tr.StepN(ctx, runs.ItemDone, decided)
			tr.StepN(ctx, runs.ItemSkipped, n-decided)
			no += int64(n)
		}
		if rep.NextPageToken == "" || rep.NextPageToken == token {
			return nil
		}
		token = rep.NextPageToken
	}
}

// page reads what one page needs, decides it and applies the writes. It
// returns how many of its lines it decided (the others an earlier run of
// the day recorded).
func (s *Service) page(ctx context.Context, runID, connector, day string, lines []Line, lease *time.Time) (int, error) {
	p := Page{RunID: runID, Connector: connector, Day: day, Lines: lines, Now: s.now(),
		Recorded: map[int64]string{}, Earlier: map[string]bool{}}
	first, last := lines[0].No, lines[len(lines)-1].No
	keys := make([]string, 0, len(lines))
	var payIDs, refs, txIDs []string
	var out payoutRefs
	for _, l := range lines {
		keys = append(keys, l.Key())
		if l.Type == TypePayout || l.Type == TypePayoutReturn {
			out.add(l)
			continue
		}
		if l.PaymentID != "" {
			payIDs = append(payIDs, l.PaymentID)
		}
		if l.Reference != "" {
			refs = append(refs, l.Reference)
		}
		if l.TransactionID != "" {
			txIDs = append(txIDs, l.TransactionID)
		}
	}
	c := s.cfg.Client
	recorded, err := c.ReconciliationLine.Query().
		Where(reconciliationline.RunID(runID), reconciliationline.LineNoGTE(first), reconciliationline.LineNoLTE(last)).
		Select(reconciliationline.FieldLineNo, reconciliationline.FieldLineKey).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("recon: recorded lines: %w", err)
	}
	for _, r := range recorded {
		p.Recorded[r.LineNo] = r.LineKey
	}
	if len(recorded) == len(lines) {
		return 0, s.apply(ctx, runID, Writes{Read: int64(len(lines))}, lease) // the whole page is in: progress only
	}
	earlier, err := c.ReconciliationLine.Query().
		Where(reconciliationline.RunID(runID), reconciliationline.LineKeyIn(keys...), reconciliationline.LineNoLT(first)).
		Select(reconciliationline.FieldLineKey).Strings(ctx)
	if err != nil {
		return 0, fmt.Errorf("recon: earlier lines: %w", err)
	}
	for _, k := range earlier {
		p.Earlier[k] = true
	}
	if p.Rows, err = s.rows(ctx, connector, payIDs, refs, txIDs); err != nil {
		return 0, err
	}
	if err := s.payoutRows(ctx, connector, out, &p.Rows); err != nil {
		return 0, err
	}
	w, err := decide(p)
	if err != nil {
		var changed *ErrReportChanged
		if errors.As(err, &changed) {
			return 0, payments.Errorf(payments.ECONFLICT, "%v", changed)
		}
		return 0, err
	}
	return len(w.Lines), s.apply(ctx, runID, w, lease)
}

// rows reads the records a page's lines may name: the connector's captured
// attempts by the channel's payment id and by Strait's reference, refunds
// by the channel's refund id, and the connector's disputes by the network's
// id.
func (s *Service) rows(ctx context.Context, connector string, payIDs, refs, txIDs []string) (Rows, error) {
	out := Rows{ByPayment: map[string]Record{}, ByReference: map[string]Record{}, Refunds: map[string]Record{}, Disputes: map[string]Record{}}
	c := s.cfg.Client
	capture := func(a *ent.PaymentAttempt) Record {
		p := a.Edges.Payment
		return Record{Type: "capture", ID: p.ID, Currency: p.Currency, Gross: p.AmountCaptured, Fee: p.FeeAmount}
	}
	if len(payIDs) > 0 {
		atts, err := c.PaymentAttempt.Query().
			Where(paymentattempt.Connector(connector), paymentattempt.ConnectorReferenceIn(payIDs...)).WithPayment().All(ctx)
		if err != nil {
			return out, fmt.Errorf("recon: attempts: %w", err)
		}
		for _, a := range atts {
			if a.Edges.Payment != nil {
				out.ByPayment[a.ConnectorReference] = capture(a)
			}
		}
	}
	if len(refs) > 0 {
		atts, err := c.PaymentAttempt.Query().
			Where(paymentattempt.Connector(connector), paymentattempt.IDIn(refs...)).WithPayment().All(ctx)
		if err != nil {
			return out, fmt.Errorf("recon: attempts by reference: %w", err)
		}
		for _, a := range atts {
			if a.Edges.Payment != nil {
				out.ByReference[a.ID] = capture(a)
			}
		}
	}
	if len(txIDs) > 0 {
		rs, err := c.Refund.Query().
			Where(refund.ConnectorReferenceIn(txIDs...), refund.HasPaymentWith(payment.Connector(connector))).All(ctx)
		if err != nil {
			return out, fmt.Errorf("recon: refunds: %w", err)
		}
		for _, r := range rs {
			out.Refunds[r.ConnectorReference] = Record{Type: "refund", ID: r.ID, Currency: r.Currency, Gross: -r.Amount}
		}
		ds, err := c.Dispute.Query().Where(dispute.Connector(connector), dispute.NetworkDisputeIDIn(txIDs...)).All(ctx)
		if err != nil {
			return out, fmt.Errorf("recon: disputes: %w", err)
		}
		for _, d := range ds {
			out.Disputes[d.NetworkDisputeID] = disputeRecord(d)
		}
	}
	return out, nil
}

// fail records err on the run and lets it go; it returns err.
func (s *Service) fail(ctx context.Context, runID string, lease time.Time, err error) (*Run, error) {
	msg := payments.ErrorMessage(err)
	if msg == "" {
		msg = err.Error()
	}
	_ = s.cfg.Client.ReconciliationRun.Update().
		Where(reconciliationrun.ID(runID), reconciliationrun.LeaseUntil(lease)).
		SetStatus(reconciliationrun.StatusFAILED).SetError(clip(msg, 500)).ClearLeaseUntil().SetFinishedAt(s.now()).
		Exec(context.WithoutCancel(ctx))
	row, rerr := s.cfg.Client.ReconciliationRun.Get(context.WithoutCancel(ctx), runID)
	if rerr != nil {
		return nil, err
	}
	return runOf(row), err
}

// finish counts the run's lines and records per class and lets it go.
func (s *Service) finish(ctx context.Context, runID string, lease time.Time) (*Run, error) {
	counts, err := s.count(ctx, runID)
	if err != nil {
		return s.fail(ctx, runID, lease, err)
	}
	n, err := s.cfg.Client.ReconciliationRun.Update().
		Where(reconciliationrun.ID(runID), reconciliationrun.LeaseUntil(lease)).
		SetStatus(reconciliationrun.StatusSUCCEEDED).SetCounts(counts).ClearLeaseUntil().SetFinishedAt(s.now()).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: finish run: %w", err)
	}
	if n == 0 {
		return nil, errLeaseLost
	}
	row, err := s.cfg.Client.ReconciliationRun.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	return runOf(row), nil
}

var errLeaseLost = payments.Errorf(payments.ECONFLICT, "the run's lease ran out and another replica took the run over")
