package recon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/discrepancy"
	"github.com/straitpay/strait/ent/reconciliationrun"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Discrepancy is a difference a run found, as the API shows it.
type Discrepancy struct {
	ID, RunID, Connector, BusinessDate string
	Kind                               Class
	LineNo                             *int64
	LineKey, OurType, OurID            string
	// Expected is what Strait's record says (nil for a line that matched
	// nothing); Reported what the line says (nil for a record the report
	// lacks, and for a malformed line's unreadable amounts).
	ExpectedGross, ExpectedFee              *money.Amount
	ReportedGross, ReportedFee, ReportedNet *money.Amount
	Detail                                  string
	Status                                  string // OPEN, RESOLVED
	Resolution, ResolvedBy                  string
	ResolvedAt                              *time.Time
	AdjustmentEntryID                       string
	CreatedAt                               time.Time
}

func amountOf(minor int64, code string) *money.Amount {
	c, err := money.ParseCurrency(code)
	if err != nil {
		return nil
	}
	return &money.Amount{Minor: minor, Currency: c}
}

func discrepancyOf(d *ent.Discrepancy) *Discrepancy {
	out := &Discrepancy{ID: d.ID, RunID: d.RunID, Connector: d.Connector, BusinessDate: d.BusinessDate, Kind: Class(d.Kind),
		LineNo: d.LineNo, LineKey: d.LineKey, OurType: d.OurType, OurID: d.OurID, Detail: d.Detail, Status: string(d.Status),
		Resolution: d.Resolution, ResolvedBy: d.ResolvedBy, ResolvedAt: d.ResolvedAt, AdjustmentEntryID: d.AdjustmentEntryID,
		CreatedAt: d.CreatedAt}
	if d.ExpectedCurrency != "" {
		out.ExpectedGross, out.ExpectedFee = amountOf(d.ExpectedGross, d.ExpectedCurrency), amountOf(d.ExpectedFee, d.ExpectedCurrency)
	}
	if d.LineNo != nil && Class(d.Kind) != Malformed {
		out.ReportedGross, out.ReportedFee = amountOf(d.ReportedGross, d.ReportedCurrency), amountOf(d.ReportedFee, d.ReportedCurrency)
		out.ReportedNet = amountOf(d.ReportedNet, d.ReportedCurrency)
	}
	return out
}

// MaxReason bounds a resolution's reason, in bytes.
const MaxReason = 500

// Resolve closes discrepancy id with a reason and, when adjustment is set
// and not zero, an adjusting ledger entry (source recon_adjustment <id>):
// the connector's receivable +adjustment, the platform's suspense
// −adjustment, in the adjustment's currency. A positive adjustment says the
// channel owes less than Strait booked (a shortfall written off to
// suspense for investigation); a negative one that it owes more. The
// discrepancy and the entry commit together.
//
// Refused: an empty or over-long reason (EINVALID, field "reason"); an
// unknown id (ENOTFOUND); a discrepancy already resolved otherwise
// (ECONFLICT). Resolving again with the same reason and adjustment returns
// the discrepancy as it is and posts nothing: the ledger's source is the
// discrepancy.
func (s *Service) Resolve(ctx context.Context, id, reason string, adjustment *money.Amount) (*Discrepancy, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > MaxReason {
		return nil, payments.FieldErrorf("reason", "a reason of 1 to %d bytes is required", MaxReason)
	}
	if adjustment != nil && adjustment.Minor == 0 {
		adjustment = nil
	}
	if adjustment != nil && adjustment.Currency.IsZero() {
		return nil, payments.FieldErrorf("adjustment.currency", "unknown currency")
	}
	by := "system"
	if v, ok := viewer.FromContext(ctx); ok && v.Subject != "" {
		by = v.Subject
	}
	sys := viewer.SystemContext(ctx)
	c := s.cfg.Client
	d, err := c.Discrepancy.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, &payments.Error{Code: payments.ENOTFOUND, Field: "id", Message: fmt.Sprintf("no discrepancy %q", id)}
	}
	if err != nil {
		return nil, fmt.Errorf("recon: discrepancy: %w", err)
	}
	if d.Status == discrepancy.StatusRESOLVED {
		if d.Resolution == reason && (d.AdjustmentEntryID != "") == (adjustment != nil) {
			return discrepancyOf(d), nil
		}
		return nil, payments.Errorf(payments.ECONFLICT, "discrepancy %s was resolved already: %s", id, d.Resolution)
	}
	var entry *ledger.Entry
	if adjustment != nil {
		neg, err := adjustment.Neg()
		if err != nil {
			return nil, &payments.Error{Code: payments.EINVALID, Field: "adjustment", Message: "the adjustment cannot be negated", Err: err}
		}
		entry = &ledger.Entry{
			Source:      ledger.Source{Type: SourceAdjustment, ID: d.ID},
			Description: clip(fmt.Sprintf("reconciliation adjustment (%s): %s", d.Kind, reason), ledger.MaxDescription),
			Reference:   d.ID,
			EffectiveAt: s.now(),
			Postings: []ledger.Posting{
				{Account: ledger.ChannelAccount(d.Connector, adjustment.Currency), Amount: *adjustment},
				{Account: ledger.PlatformAccount(ledger.KindSuspense, adjustment.Currency), Amount: neg},
			},
		}
		if err := s.cfg.Ledger.Prepare(sys, *entry); err != nil {
			return nil, err
		}
	}
	tx, err := c.Tx(sys)
	if err != nil {
		return nil, fmt.Errorf("recon: begin: %w", err)
	}
	err = func() error {
		upd := tx.Discrepancy.Update().Where(discrepancy.ID(id), discrepancy.StatusEQ(discrepancy.StatusOPEN)).
			SetStatus(discrepancy.StatusRESOLVED).SetResolution(reason).SetResolvedBy(clip(by, 200)).SetResolvedAt(s.now())
		if entry != nil {
			posted, err := s.cfg.Ledger.PostTx(sys, tx, *entry)
			if err != nil {
				return err
			}
			upd.SetAdjustmentEntryID(posted.EntryID)
		}
		n, err := upd.Save(sys)
		if err != nil {
			return fmt.Errorf("recon: resolve: %w", err)
		}
		if n == 0 {
			return payments.Errorf(payments.ECONFLICT, "discrepancy %s was resolved meanwhile", id)
		}
		return nil
	}()
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("recon: commit: %w", err)
	}
	d, err = c.Discrepancy.Get(sys, id)
	if err != nil {
		return nil, err
	}
	return discrepancyOf(d), nil
}

// Filter narrows Discrepancies; zero fields match anything.
type Filter struct {
	RunID, Connector, BusinessDate string
	Kind                           Class
	Status                         string // OPEN or RESOLVED
}

// Discrepancies lists discrepancies matching f, oldest first, at most first
// (1 to 500, default 100) after the id after.
func (s *Service) Discrepancies(ctx context.Context, f Filter, first int, after string) ([]*Discrepancy, error) {
	if first <= 0 {
		first = 100
	}
	if first > 500 {
		return nil, payments.FieldErrorf("first", "first must be 1 to 500")
	}
	q := s.cfg.Client.Discrepancy.Query()
	if f.RunID != "" {
		q = q.Where(discrepancy.RunID(f.RunID))
	}
	if f.Connector != "" {
		q = q.Where(discrepancy.Connector(f.Connector))
	}
	if f.BusinessDate != "" {
		q = q.Where(discrepancy.BusinessDate(f.BusinessDate))
	}
	if f.Kind != "" {
		q = q.Where(discrepancy.Kind(string(f.Kind)))
	}
	if f.Status != "" {
		st := discrepancy.Status(f.Status)
		if err := discrepancy.StatusValidator(st); err != nil {
			return nil, payments.FieldErrorf("status", "status must be OPEN or RESOLVED")
		}
		q = q.Where(discrepancy.StatusEQ(st))
	}
	if after != "" {
		q = q.Where(discrepancy.IDGT(after))
	}
	rows, err := q.Order(ent.Asc(discrepancy.FieldID)).Limit(first).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: discrepancies: %w", err)
	}
	out := make([]*Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = discrepancyOf(r)
	}
	return out, nil
}

// Runs lists runs, newest day first (then connector), optionally of one
// connector, at most first (1 to 500, default 50).
func (s *Service) Runs(ctx context.Context, connector string, first int) ([]*Run, error) {
	if first <= 0 {
		first = 50
	}
	if first > 500 {
		return nil, payments.FieldErrorf("first", "first must be 1 to 500")
	}
	q := s.cfg.Client.ReconciliationRun.Query()
	if connector != "" {
		q = q.Where(reconciliationrun.Connector(connector))
	}
	rows, err := q.Order(ent.Desc(reconciliationrun.FieldBusinessDate), ent.Asc(reconciliationrun.FieldConnector)).Limit(first).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("recon: runs: %w", err)
	}
	out := make([]*Run, len(rows))
	for i, r := range rows {
		out[i] = runOf(r)
	}
	return out, nil
}

// RunByID returns one run (ENOTFOUND if there is none).
func (s *Service) RunByID(ctx context.Context, id string) (*Run, error) {
	r, err := s.cfg.Client.ReconciliationRun.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &payments.Error{Code: payments.ENOTFOUND, Field: "id", Message: fmt.Sprintf("no reconciliation run %q", id)}
	}
	if err != nil {
		return nil, err
	}
	return runOf(r), nil
}
