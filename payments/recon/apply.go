package recon

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/discrepancy"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/posting"
	"github.com/straitpay/strait/ent/reconciliationline"
	"github.com/straitpay/strait/ent/reconciliationrun"
	"github.com/straitpay/strait/payments/ledger"
)

// apply writes one page's decisions in one transaction: the lines, the
// discrepancies (a repeat of a run's key is ignored), the ledger entries,
// and the run's progress, which also renews the caller's lease. The lease
// fences the writes: when another replica has taken the run over, nothing
// is written and the run stops here.
func (s *Service) apply(ctx context.Context, runID string, w Writes, lease *time.Time) error {
	if len(w.Entries) > 0 {
		if err := s.cfg.Ledger.Prepare(ctx, w.Entries...); err != nil {
			return fmt.Errorf("recon: accounts: %w", err)
		}
	}
	tx, err := s.cfg.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("recon: begin: %w", err)
	}
	next := s.now().Add(s.cfg.Lease)
	err = func() error {
		if len(w.Lines) > 0 {
			bulk := make([]*ent.ReconciliationLineCreate, len(w.Lines))
			for i, l := range w.Lines {
				bulk[i] = tx.ReconciliationLine.Create().SetRunID(runID).SetLineNo(l.No).SetLineKey(l.Key).
					SetClass(string(l.Class)).SetOurType(l.OurType).SetOurID(l.OurID).SetCurrency(clip(l.Currency, 3)).
					SetGross(l.Gross).SetFee(l.Fee).SetNet(l.Net)
			}
			if err := tx.ReconciliationLine.CreateBulk(bulk...).Exec(ctx); err != nil {
				return fmt.Errorf("recon: lines: %w", err)
			}
		}
		if err := s.writeDiscrepancies(ctx, tx, runID, w.Discrepancies); err != nil {
			return err
		}
		if len(w.Entries) > 0 {
			if _, err := s.cfg.Ledger.PostTxMany(ctx, tx, nil, nil, w.Entries); err != nil {
				return fmt.Errorf("recon: post: %w", err)
			}
		}
		n, err := tx.ReconciliationRun.Update().Where(reconciliationrun.ID(runID), reconciliationrun.LeaseUntil(*lease)).
			AddLinesRead(w.Read).SetLeaseUntil(next).Save(ctx)
		if err != nil {
			return fmt.Errorf("recon: progress: %w", err)
		}
		if n == 0 {
			return errLeaseLost
		}
		return nil
	}()
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recon: commit: %w", err)
	}
	*lease = next
	return nil
}

// writeDiscrepancies inserts ds for the run; one already written for the
// same key (by an earlier run of the day) is left as it is, resolved or not.
func (s *Service) writeDiscrepancies(ctx context.Context, tx *ent.Tx, runID string, ds []DiscrepancyRow) error {
	if len(ds) == 0 {
		return nil
	}
	run, err := tx.ReconciliationRun.Get(ctx, runID)
	if err != nil {
		return fmt.Errorf("recon: run: %w", err)
	}
	bulk := make([]*ent.DiscrepancyCreate, len(ds))
	for i, d := range ds {
		bulk[i] = tx.Discrepancy.Create().SetRunID(runID).SetConnector(run.Connector).SetBusinessDate(run.BusinessDate).
			SetKey(d.Key).SetKind(d.Kind).SetNillableLineNo(d.LineNo).SetLineKey(d.LineKey).SetOurType(d.OurType).SetOurID(d.OurID).
			SetExpectedCurrency(clip(d.ExpectedCurrency, 3)).SetExpectedGross(d.ExpectedGross).SetExpectedFee(d.ExpectedFee).
			SetReportedCurrency(clip(d.ReportedCurrency, 3)).SetReportedGross(d.ReportedGross).SetReportedFee(d.ReportedFee).
			SetReportedNet(d.ReportedNet).SetDetail(d.Detail)
	}
	if err := tx.Discrepancy.CreateBulk(bulk...).
		OnConflictColumns(discrepancy.FieldRunID, discrepancy.FieldKey).Ignore().Exec(ctx); err != nil {
		return fmt.Errorf("recon: discrepancies: %w", err)
	}
	return nil
}

// missingTheirs finds, a page at a time, the records of the day that no
// line of the run matched, and writes a discrepancy for each: what Strait
// booked on the connector's receivable (captures, refunds and bank account
// verification deposits, by the ledger entries effective that day), the
// payouts the bank took that day (missingPayouts) and the chargebacks
// booked that day (missingChargebacks). Each search is an anti-join in the
// database, so it holds one page in memory however long the day.
func (s *Service) missingTheirs(ctx context.Context, runID, connector string, day time.Time, lease *time.Time) error {
	if err := s.missingBooked(ctx, runID, connector, day, lease); err != nil {
		return err
	}
	if err := s.missingPayouts(ctx, runID, connector, day, lease); err != nil {
		return err
	}
	return s.missingChargebacks(ctx, runID, connector, day, lease)
}

// missingBooked is missingTheirs for what Strait booked on the connector's
// receivable: captures, refunds and verification deposits (source
// payout:bac_…-verifyN; a payout's own entries are found by
// missingPayouts).
func (s *Service) missingBooked(ctx context.Context, runID, connector string, day time.Time, lease *time.Time) error {
	from, to := day, day.AddDate(0, 0, 1)
	channel := posting.HasAccountWith(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeCHANNEL),
		ledgeraccount.OwnerID(connector), ledgeraccount.KindEQ(ledgeraccount.KindRECEIVABLE))
	unmatched := func(sel *sql.Selector) {
		t := sql.Table(reconciliationline.Table)
		sel.Where(sql.NotExists(sql.Select(t.C(reconciliationline.FieldID)).From(t).Where(sql.And(
			sql.EQ(t.C(reconciliationline.FieldRunID), runID),
			sql.ColumnsEQ(t.C(reconciliationline.FieldOurType), sel.C(journalentry.FieldSourceType)),
			sql.ColumnsEQ(t.C(reconciliationline.FieldOurID), sel.C(journalentry.FieldSourceID)),
		))))
	}
	return s.writeMissing(ctx, runID, lease, func(after string) ([]Record, string, error) {
		q := s.cfg.Client.JournalEntry.Query().Where(
			journalentry.EffectiveAtGTE(from), journalentry.EffectiveAtLT(to),
			journalentry.Or(journalentry.SourceTypeIn(ledger.SourceCapture, ledger.SourceRefund),
				journalentry.And(journalentry.SourceType(ledger.SourcePayout), journalentry.SourceIDHasPrefix("bac_"))),
			journalentry.HasPostingsWith(channel), unmatched, journalentry.IDGT(after))
		es, err := q.Order(ent.Asc(journalentry.FieldID)).Limit(s.cfg.PageSize).
			WithPostings(func(pq *ent.PostingQuery) { pq.Where(channel).WithAccount() }).All(ctx)
		if err != nil || len(es) == 0 {
			return nil, "", err
		}
		var recs []Record
		for _, e := range es {
			for _, p := range e.Edges.Postings {
				if p.Edges.Account == nil {
					continue
				}
				// The receivable moved by −gross: a capture's gross is what
				// the channel now owes, a refund's what it owes no more.
				recs = append(recs, Record{Type: e.SourceType, ID: e.SourceID, Currency: p.Edges.Account.Currency, Gross: -p.Amount})
			}
		}
		return recs, es[len(es)-1].ID, nil
	})
}

// writeMissing writes, a page at a time, a missing-on-theirs discrepancy
// for each record next returns: next reads the page of records after the
// key after ("" first) and returns them with the page's last key, "" when
// there are no more.
func (s *Service) writeMissing(ctx context.Context, runID string, lease *time.Time, next func(after string) ([]Record, string, error)) error {
	after := ""
	for {
		recs, last, err := next(after)
		if err != nil {
			return fmt.Errorf("recon: records the report lacks: %w", err)
		}
		if last == "" {
			return nil
		}
		var w Writes
		for _, r := range recs {
			w.Discrepancies = append(w.Discrepancies, missingDiscrepancy(r))
		}
		if err := s.apply(ctx, runID, w, lease); err != nil {
			return err
		}
		after = last
	}
}

// count returns the run's lines per class, and its records the report
// lacks as MissingTheirs.
func (s *Service) count(ctx context.Context, runID string) (map[string]int64, error) {
	var rows []struct {
		Class string `json:"class"`
		Count int64  `json:"count"`
	}
	if err := s.cfg.Client.ReconciliationLine.Query().Where(reconciliationline.RunID(runID)).
		GroupBy(reconciliationline.FieldClass).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("recon: count lines: %w", err)
	}
	out := map[string]int64{}
	for _, c := range Classes() {
		out[string(c)] = 0
	}
	for _, r := range rows {
		out[r.Class] = r.Count
	}
	n, err := s.cfg.Client.Discrepancy.Query().
		Where(discrepancy.RunID(runID), discrepancy.Kind(string(MissingTheirs))).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: count records: %w", err)
	}
	out[string(MissingTheirs)] = int64(n)
	return out, nil
}
