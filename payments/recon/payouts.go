package recon

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/payout"
	"github.com/straitpay/strait/ent/reconciliationline"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/payouts"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// payoutRefs are the ids a page's payout lines name: the bank's payout ids
// (transaction and payment ids) and Strait's references (a payout's id, or
// a bank account's for a verification deposit).
type payoutRefs struct{ bank, strait []string }

func (r *payoutRefs) add(l Line) {
	for _, id := range []string{l.TransactionID, l.PaymentID} {
		if id != "" {
			r.bank = append(r.bank, id)
		}
	}
	if l.Reference != "" {
		r.strait = append(r.strait, l.Reference)
	}
}

// payoutRecord is what Strait expects a payout's line to say: the amount
// that left for the account, in its currency, as money out; the bank's fee
// is its own (charged to the platform), so any fee matches.
func payoutRecord(p *ent.Payout) Record {
	return Record{Type: ledger.SourcePayout, ID: p.ID, Currency: p.Currency, Gross: -p.Amount, AnyFee: true}
}

// payoutRows reads into rows the payouts and verification deposits that a
// page's payout lines may name, on connector.
func (s *Service) payoutRows(ctx context.Context, connector string, refs payoutRefs, rows *Rows) error {
	rows.Payouts, rows.PayoutsByReference, rows.Deposits = map[string]Record{}, map[string]Record{}, map[string][]Record{}
	c := s.cfg.Client
	if len(refs.bank) > 0 {
		ps, err := c.Payout.Query().Where(payout.Connector(connector), payout.ConnectorReferenceIn(refs.bank...)).All(ctx)
		if err != nil {
			return fmt.Errorf("recon: payouts: %w", err)
		}
		for _, p := range ps {
			rows.Payouts[p.ConnectorReference] = payoutRecord(p)
		}
	}
	if len(refs.strait) == 0 {
		return nil
	}
	ps, err := c.Payout.Query().Where(payout.Connector(connector), payout.IDIn(refs.strait...)).All(ctx)
	if err != nil {
		return fmt.Errorf("recon: payouts by reference: %w", err)
	}
	for _, p := range ps {
		rows.PayoutsByReference[p.ID] = payoutRecord(p)
	}
	accs, err := c.BankAccount.Query().Where(bankaccount.Connector(connector), bankaccount.IDIn(refs.strait...)).All(ctx)
	if err != nil {
		return fmt.Errorf("recon: bank accounts: %w", err)
	}
	for _, a := range accs {
		for i, d := range a.Deposits {
			rows.Deposits[a.ID] = append(rows.Deposits[a.ID], Record{Type: ledger.SourcePayout, ID: payouts.DepositRef(a.ID, i),
				Currency: a.Currency, Gross: -d, AnyFee: true})
		}
	}
	return nil
}

// unmatchedBy is the anti-join of the records a run looks for: no line of
// the run names the record whose type is ourType and whose id is the
// selected row's column.
func unmatchedBy(runID, ourType, column string) func(*sql.Selector) {
	return func(sel *sql.Selector) {
		t := sql.Table(reconciliationline.Table)
		sel.Where(sql.NotExists(sql.Select(t.C(reconciliationline.FieldID)).From(t).Where(sql.And(
			sql.EQ(t.C(reconciliationline.FieldRunID), runID),
			sql.EQ(t.C(reconciliationline.FieldOurType), ourType),
			sql.ColumnsEQ(t.C(reconciliationline.FieldOurID), sel.C(column)),
		))))
	}
}

// missingPayouts writes a discrepancy for every payout the bank took on
// the day (sent that day, and accepted: in transit, paid, or failed after
// the bank gave it an id) that no line of the run names. A page at a time.
func (s *Service) missingPayouts(ctx context.Context, runID, connector string, day time.Time, lease *time.Time) error {
	from, to := day, day.AddDate(0, 0, 1)
	return s.writeMissing(ctx, runID, lease, func(after string) ([]Record, string, error) {
		ps, err := s.cfg.Client.Payout.Query().Where(payout.Connector(connector),
			payout.SubmittedAtGTE(from), payout.SubmittedAtLT(to),
			payout.Or(payout.StatusIn(payoutstatus.InTransit, payoutstatus.Paid),
				payout.And(payout.StatusEQ(payoutstatus.Failed), payout.ConnectorReferenceNEQ(""))),
			unmatchedBy(runID, ledger.SourcePayout, payout.FieldID), payout.IDGT(after)).
			Order(ent.Asc(payout.FieldID)).Limit(s.cfg.PageSize).All(ctx)
		if err != nil || len(ps) == 0 {
			return nil, "", err
		}
		recs := make([]Record, len(ps))
		for i, p := range ps {
			recs[i] = payoutRecord(p)
		}
		return recs, ps[len(ps)-1].ID, nil
	})
}

// missingChargebacks writes a discrepancy for every dispute of the
// connector whose chargeback Strait booked on the day (its hold entry,
// dispute:<id>/hold, which posts when a chargeback opens or an inquiry
// becomes one) and that no line of the run names. A page at a time.
func (s *Service) missingChargebacks(ctx context.Context, runID, connector string, day time.Time, lease *time.Time) error {
	from, to := day, day.AddDate(0, 0, 1)
	ofConnector := func(sel *sql.Selector) {
		d := sql.Table(dispute.Table)
		sel.Where(sql.In(sel.C(journalentry.FieldReference),
			sql.Select(d.C(dispute.FieldID)).From(d).Where(sql.EQ(d.C(dispute.FieldConnector), connector))))
	}
	return s.writeMissing(ctx, runID, lease, func(after string) ([]Record, string, error) {
		es, err := s.cfg.Client.JournalEntry.Query().Where(
			journalentry.EffectiveAtGTE(from), journalentry.EffectiveAtLT(to),
			journalentry.SourceType(ledger.SourceDispute), journalentry.SourceIDHasSuffix("/hold"),
			ofConnector, unmatchedBy(runID, ledger.SourceDispute, journalentry.FieldReference), journalentry.IDGT(after)).
			Order(ent.Asc(journalentry.FieldID)).Limit(s.cfg.PageSize).All(ctx)
		if err != nil || len(es) == 0 {
			return nil, "", err
		}
		ids := make([]string, len(es))
		for i, e := range es {
			ids[i] = e.Reference
		}
		ds, err := s.cfg.Client.Dispute.Query().Where(dispute.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, "", err
		}
		recs := make([]Record, len(ds))
		for i, d := range ds {
			recs[i] = disputeRecord(d)
		}
		return recs, es[len(es)-1].ID, nil
	})
}

// disputeRecord is what Strait expects a chargeback's line to say: the
// disputed amount taken back, and the dispute's fee.
func disputeRecord(d *ent.Dispute) Record {
	return Record{Type: ledger.SourceDispute, ID: d.ID, Currency: d.Currency, Gross: -d.Amount, Fee: d.Fee}
}
