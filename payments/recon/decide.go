package recon

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
)

// Line is one report line as reconciliation reads it: numbered from 0 in
// report order, its amounts in Strait's minor units. Bad says why a
// malformed line cannot be read ("" for a good one).
type Line struct {
	No                                        int64
	Type, PaymentID, Reference, TransactionID string
	Currency                                  string
	Gross, Fee, Net                           int64
	Bad                                       string
}

// Key is what a duplicate repeats: the line's type and the channel's id of
// the movement (its transaction id, else its payment id, else Strait's
// reference).
func (l Line) Key() string {
	id := l.TransactionID
	if id == "" {
		id = l.PaymentID
	}
	if id == "" {
		id = l.Reference
	}
	return clip(l.Type+":"+id, 191)
}

// ReadLine turns a report line into a Line, marking it malformed when it
// has no type or no id, an unknown currency, amounts in more than one
// currency, an amount with no exact form in Strait's minor units, or a net
// that is not gross − fee.
func ReadLine(no int64, l connectors.SettlementLine) Line {
	out := Line{No: no, Type: l.Type, PaymentID: l.PaymentID, Reference: l.Reference, TransactionID: l.TransactionID,
		Currency: l.Gross.Currency}
	switch {
	case l.Type == "":
		out.Bad = "the line has no type"
		return out
	case l.TransactionID == "" && l.PaymentID == "" && l.Reference == "":
		out.Bad = "the line names no payment, reference or transaction"
		return out
	case l.Gross.Currency != l.Fee.Currency || l.Fee.Currency != l.Net.Currency:
		out.Bad = fmt.Sprintf("amounts in %q, %q and %q", l.Gross.Currency, l.Fee.Currency, l.Net.Currency)
		return out
	}
	cur, err := money.ParseCurrency(l.Gross.Currency)
	if err != nil {
		out.Bad = fmt.Sprintf("unknown currency %q", clip(l.Gross.Currency, 8))
		return out
	}
	out.Currency = cur.Code()
	exp := cur.Exponent()
	for _, x := range []struct {
		m  connectors.Money
		to *int64
	}{{l.Gross, &out.Gross}, {l.Fee, &out.Fee}, {l.Net, &out.Net}} {
		v, err := x.m.In(exp)
		if err != nil {
			out.Bad = fmt.Sprintf("%s has no exact form in %s minor units", x.m, out.Currency)
			return out
		}
		*x.to = v
	}
	if out.Gross-out.Fee != out.Net {
		out.Bad = fmt.Sprintf("net %d is not gross %d − fee %d", out.Net, out.Gross, out.Fee)
	}
	return out
}

// Record is one of Strait's records a line can match: a capture (Type
// "capture", ID the payment), a refund ("refund", the refund), a
// chargeback ("dispute", the dispute), a payout ("payout", the payout) or
// a bank account's verification deposit ("payout", the deposit's
// bac_…-verifyN), with what Strait expects the channel's line to say of
// it. Type and ID are the record's ledger source.
type Record struct {
	Type, ID string
	Currency string
	Gross    int64 // signed: money in is positive, a refund, chargeback or payout negative
	Fee      int64 // the channel's fee Strait expects
	// AnyFee: Strait does not price the channel's fee for this record (a
	// bank's payout fee, charged to the platform): any fee matches.
	AnyFee bool
}

// Rows are the records a page's lines name, by the channel's references.
type Rows struct {
	// ByPayment: captures by the channel's payment id (the attempt's
	// connector reference); ByReference: by Strait's reference (the attempt
	// id), for a line without the channel's id.
	ByPayment, ByReference map[string]Record
	// Refunds by the channel's refund id; Disputes by the network's id.
	Refunds, Disputes map[string]Record
	// Payouts by the bank's payout id (the payout's connector reference);
	// PayoutsByReference by Strait's payout id (the reference the bank was
	// given). Each as its payout line says it: gross −amount.
	Payouts, PayoutsByReference map[string]Record
	// Deposits: a bank account's verification deposits by the account's id
	// (the reference the bank was given), in the order they were sent.
	Deposits map[string][]Record
}

// Line types reconciliation knows, besides captures (any other type with
// money in) and refunds.
const (
	TypeChargeback         = "chargeback"
	TypeChargebackReversal = "chargeback_reversal"
	TypePayout             = "payout"
	TypePayoutReturn       = "payout_return"
)

// Page is the input of decide: one page of a run's report, what earlier
// runs of the day recorded of its lines, and the records its lines name.
type Page struct {
	RunID, Connector, Day string
	Lines                 []Line
	// Recorded holds the key of each line of the page that an earlier run
	// of the day recorded, by line number: those lines are not decided
	// again.
	Recorded map[int64]string
	// Earlier holds the keys that lines before this page recorded: a line
	// repeating one is a duplicate.
	Earlier map[string]bool
	Rows    Rows
	Now     time.Time
}

// LineRow is a line as written, with its class and the record it matched.
type LineRow struct {
	Line
	Key            string
	Class          Class
	OurType, OurID string
}

// DiscrepancyRow is a discrepancy to write; a repeat of its run and key is
// ignored (it is written once).
type DiscrepancyRow struct {
	Key, Kind                               string
	LineNo                                  *int64
	LineKey, OurType, OurID                 string
	ExpectedCurrency                        string
	ExpectedGross, ExpectedFee              int64
	ReportedCurrency                        string
	ReportedGross, ReportedFee, ReportedNet int64
	Detail                                  string
}

// Writes is what decide returns and apply writes, in one transaction.
type Writes struct {
	Lines         []LineRow
	Discrepancies []DiscrepancyRow
	Entries       []ledger.Entry
	// Read is how many lines of the report the page covers (progress).
	Read int64
}

// ErrReportChanged is returned by decide when a line an earlier run
// recorded is no longer what the report says at that position.
type ErrReportChanged struct {
	LineNo   int64
	Was, Now string
}

func (e *ErrReportChanged) Error() string {
	return fmt.Sprintf("line %d of the report was %q and is now %q: the channel changed the day's report", e.LineNo, e.Was, e.Now)
}

// decide classifies a page's lines and returns its writes. It reads
// nothing but p: lines recorded by an earlier run are skipped (nothing
// posts twice); the others are classified in this order: malformed,
// duplicate (of an earlier line, in this page or before it), missing on our
// side (no record), currency, amount (gross) and fee mismatch, matched.
// Matched lines post, per currency, one entry: the channel's receivable
// +gross, the platform's cash −net, the platform's fees −fee (the channel's
// fee: a capture credited it to fees; a payout's is the platform's cost).
// A chargeback's fee is the merchant's, which the dispute's settlement
// gives the channel through its receivable: a matched chargeback posts its
// whole net to the receivable (+net) and to cash (−net). Every other class
// gets a discrepancy.
func decide(p Page) (Writes, error) {
	w := Writes{Read: int64(len(p.Lines))}
	seen := map[string]bool{}
	type sums struct{ gross, fee, net int64 }
	matched := map[string]*sums{}
	var firstNew int64 = -1
	var order []string
	for _, l := range p.Lines {
		key := l.Key()
		if was, ok := p.Recorded[l.No]; ok {
			if was != key {
				return Writes{}, &ErrReportChanged{LineNo: l.No, Was: was, Now: key}
			}
			seen[key] = true
			continue
		}
		if firstNew < 0 {
			firstNew = l.No
		}
		row := LineRow{Line: l, Key: key}
		var rec Record
		var found bool
		switch {
		case l.Bad != "":
			row.Class = Malformed
		case seen[key] || p.Earlier[key]:
			row.Class = Duplicate
		default:
			rec, found = p.Rows.find(l)
			row.Class = classify(l, rec, found)
		}
		if row.Class != Malformed {
			seen[key] = true
		}
		if found && row.Class != Duplicate {
			row.OurType, row.OurID = rec.Type, rec.ID
		}
		w.Lines = append(w.Lines, row)
		if row.Class == Matched {
			s, ok := matched[l.Currency]
			if !ok {
				s = &sums{}
				matched[l.Currency] = s
				order = append(order, l.Currency)
			}
			if l.Type == TypeChargeback {
				s.gross += l.Net // the fee goes to the receivable with the amount
			} else {
				s.gross += l.Gross
				s.fee += l.Fee
			}
			s.net += l.Net
			continue
		}
		w.Discrepancies = append(w.Discrepancies, lineDiscrepancy(row, rec, found))
	}
	for _, c := range order {
		s := matched[c]
		cur := money.MustCurrency(c)
		e := ledger.Entry{
			Source:      ledger.Source{Type: SourceRecon, ID: p.RunID + ":" + strconv.FormatInt(firstNew, 10) + ":" + c},
			Description: fmt.Sprintf("settlement received from %s for %s", p.Connector, p.Day),
			Reference:   p.RunID,
			EffectiveAt: p.Now,
		}
		for _, x := range []struct {
			k ledger.AccountKey
			v int64
		}{{ledger.ChannelAccount(p.Connector, cur), s.gross}, {ledger.CashAccount(cur), -s.net}, {ledger.PlatformAccount(ledger.KindFees, cur), -s.fee}} {
			if x.v != 0 {
				e.Postings = append(e.Postings, ledger.Posting{Account: x.k, Amount: money.Amount{Minor: x.v, Currency: cur}})
			}
		}
		if len(e.Postings) > 0 {
			w.Entries = append(w.Entries, e)
		}
	}
	return w, nil
}

// find returns the record a line names: a refund by the channel's refund
// id; a chargeback, or its reversal (a dispute won: +amount, fee 0), by the
// network's dispute id; a payout, or its return (+amount), by the bank's
// payout id, then Strait's payout id, then a bank account's id and the
// deposit's amount; anything else by the channel's payment id and then
// Strait's reference.
func (r Rows) find(l Line) (Record, bool) {
	switch l.Type {
	case "refund":
		rec, ok := r.Refunds[l.TransactionID]
		return rec, ok && l.TransactionID != ""
	case TypeChargeback:
		rec, ok := r.Disputes[l.TransactionID]
		return rec, ok && l.TransactionID != ""
	case TypeChargebackReversal:
		rec, ok := r.Disputes[l.TransactionID]
		rec.Gross, rec.Fee = -rec.Gross, 0
		return rec, ok && l.TransactionID != ""
	case TypePayout, TypePayoutReturn:
		rec, ok := r.payout(l)
		if ok && l.Type == TypePayoutReturn {
			rec.Gross = -rec.Gross
		}
		return rec, ok
	}
	if l.Gross < 0 {
		return Record{}, false // money out that is neither a refund nor a chargeback: no record of Strait's
	}
	if rec, ok := r.ByPayment[l.PaymentID]; ok && l.PaymentID != "" {
		return rec, true
	}
	rec, ok := r.ByReference[l.Reference]
	return rec, ok && l.Reference != ""
}

// payout finds a payout line's record: the payout by the bank's id (the
// line's transaction id, else its payment id) or by Strait's id (the
// line's reference); else, by the reference, a bank account's verification
// deposit: the one of the line's amount, or the first when neither is (an
// amount mismatch).
func (r Rows) payout(l Line) (Record, bool) {
	for _, id := range []string{l.TransactionID, l.PaymentID} {
		if rec, ok := r.Payouts[id]; ok && id != "" {
			return rec, true
		}
	}
	if rec, ok := r.PayoutsByReference[l.Reference]; ok && l.Reference != "" {
		return rec, true
	}
	deps := r.Deposits[l.Reference]
	if len(deps) == 0 || l.Reference == "" {
		return Record{}, false
	}
	gross := l.Gross
	if l.Type == TypePayoutReturn {
		gross = -gross
	}
	for _, d := range deps {
		if d.Gross == gross {
			return d, true
		}
	}
	return deps[0], true
}

func classify(l Line, rec Record, found bool) Class {
	switch {
	case !found:
		return MissingOurs
	case l.Currency != rec.Currency:
		return CurrencyMismatch
	case l.Gross != rec.Gross:
		return AmountMismatch
	case l.Fee != rec.Fee && !rec.AnyFee:
		return FeeMismatch
	}
	return Matched
}

func lineDiscrepancy(row LineRow, rec Record, found bool) DiscrepancyRow {
	no := row.No
	d := DiscrepancyRow{Key: "line:" + strconv.FormatInt(row.No, 10), Kind: string(row.Class), LineNo: &no, LineKey: row.Key,
		ReportedCurrency: row.Currency, ReportedGross: row.Gross, ReportedFee: row.Fee, ReportedNet: row.Net}
	if found {
		d.OurType, d.OurID = rec.Type, rec.ID
		d.ExpectedCurrency, d.ExpectedGross, d.ExpectedFee = rec.Currency, rec.Gross, rec.Fee
	}
	switch row.Class {
	case Malformed:
		d.Detail = row.Bad
	case Duplicate:
		d.Detail = "repeats " + row.Key + ", listed earlier in the report"
	case MissingOurs:
		d.Detail = fmt.Sprintf("no record of %s (payment %q, reference %q)", row.Key, clip(row.PaymentID, 64), clip(row.Reference, 64))
	case CurrencyMismatch:
		d.Detail = fmt.Sprintf("reported in %s, %s %s is in %s", row.Currency, rec.Type, rec.ID, rec.Currency)
	case AmountMismatch:
		d.Detail = fmt.Sprintf("reported gross %d, %s %s is %d", row.Gross, rec.Type, rec.ID, rec.Gross)
	case FeeMismatch:
		d.Detail = fmt.Sprintf("reported fee %d, expected %d for %s %s", row.Fee, rec.Fee, rec.Type, rec.ID)
	}
	d.Detail = clip(d.Detail, 500)
	return d
}

// missingDiscrepancy is the discrepancy of a record the report lacks.
func missingDiscrepancy(rec Record) DiscrepancyRow {
	return DiscrepancyRow{Key: "ours:" + rec.Type + ":" + rec.ID, Kind: string(MissingTheirs), OurType: rec.Type, OurID: rec.ID,
		ExpectedCurrency: rec.Currency, ExpectedGross: rec.Gross,
		Detail: fmt.Sprintf("%s %s (%d %s) is not in the channel's report", rec.Type, rec.ID, rec.Gross, rec.Currency)}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1] // a rune cut in two
	}
	return s
}
