package settlement

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/posting"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/ent/schema"
	"github.com/straitpay/strait/ent/settlementbatch"
	"github.com/straitpay/strait/ent/settlementline"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// sourceRefundReversal is the payment core's ledger source of a refund the
// channel refused after its money was set aside (cashier.SourceRefundReversal).
const sourceRefundReversal = "refund_reversal"

// Line is one capture, refund or refund reversal settled by a batch. All
// amounts are signed (a refund's are negative) in Currency: Gross is what
// the buyer paid or got back, ChannelFee what the channel's cost took from
// pending at capture, MDR the merchant's fee, Split what partners got out
// of it, Net what reached the merchant's available balance.
type Line struct {
	ID, SourceKey, PaymentID string
	Currency                 money.Currency
	Gross, ChannelFee, MDR   int64
	Split, Net               int64
	CapturedAt               time.Time
	// Splits are Split by partner and rule basis (a refund's negative:
	// clawback.go).
	Splits []schema.SettlementSplit
}

// Batch is one settlement run of one merchant for one business day.
type Batch struct {
	ID, MerchantID, BusinessDate string
	Currency                     string
	Lines                        []Line
	Conversions                  []schema.SettlementConversion
	// ReserveHeld is the rolling reserve this run held, per currency,
	// until the run of ReserveReleaseOn or later; ReserveReleased what it
	// released of earlier runs' holds.
	ReserveHeld, ReserveReleased map[string]int64
	ReserveReleaseOn             string
	CreatedAt                    time.Time
}

// Run settles, for merchantID and the business day day ("2006-01-02" in
// the merchant's timezone), every capture and refund that has matured by
// that day (Matures) and is not settled yet. It returns the day's batch;
// running a day again returns the batch of the first run and moves nothing.
// The run reports its progress as settlement.run_* events (progress.go).
//
// Returns EINVALID (field "day") for a malformed day, a day in the future,
// or a day whose last maturing capture day is not over yet (T+0 today);
// EUNAVAILABLE when a conversion to the settlement currency finds no fresh
// rate; ECONFLICT when the merchant's available balance in a currency would
// go negative (refunds outweighing the day's captures), or a partner's when
// a refund claws back more than it holds.
func (s *Service) Run(ctx context.Context, merchantID, day string) (*Batch, error) {
	return s.tracked(ctx, merchantID, day)
}

// run is Run without its progress events (a scheduler pass reports its
// merchants' runs as one run).
func (s *Service) run(ctx context.Context, merchantID, day string) (*Batch, error) {
	sys := viewer.SystemContext(ctx)
	sc, err := s.Schedule(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(sc.Timezone)
	if err != nil {
		return nil, payments.FieldErrorf("timezone", "unknown timezone %q", sc.Timezone)
	}
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return nil, payments.FieldErrorf("day", "day must be a date such as 2026-03-02")
	}
	now := s.now().In(loc)
	if d.After(now) {
		return nil, payments.FieldErrorf("day", "%s is in the future", day)
	}
	cutoff := captureCutoff(d, sc.DelayDays)
	if cutoff.After(now) {
		return nil, payments.FieldErrorf("day", "captures settling on %s are not all in yet (their day ends at %s)", day, cutoff.Format(time.RFC3339))
	}
	if b, err := s.batchOf(sys, merchantID, day); err == nil {
		return b, nil
	} else if payments.ErrorCode(err) != payments.ENOTFOUND {
		return nil, err
	}

	in, err := s.read(sys, merchantID, cutoff)
	if err != nil {
		return nil, err
	}
	pl, err := plan(merchantID, day, sc, in, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return nil, err
	}
	if err := s.reserve(sys, merchantID, day, sc, pl); err != nil {
		return nil, err
	}
	if err := s.convert(sys, merchantID, day, sc, pl); err != nil {
		return nil, err
	}
	if err := s.ledger.Prepare(sys, pl.entries...); err != nil {
		return nil, err
	}
	if _, err := s.apply(sys, pl); err != nil {
		if ent.IsConstraintError(err) {
			// Another replica ran the same day (or settled a line of it) first.
			if b, err2 := s.batchOf(sys, merchantID, day); err2 == nil {
				return b, nil
			}
			return nil, payments.Errorf(payments.ECONFLICT, "a concurrent settlement run took some of these lines; run the day again")
		}
		return nil, err
	}
	return s.batchOf(sys, merchantID, day)
}

// captureCutoff is the end of the last capture day that matures by d: the
// capture days d−k for k = 0, 1, … are tried until one matures by d.
func captureCutoff(d time.Time, delayDays int) time.Time {
	c := d
	for Matures(c, delayDays).After(d) {
		c = c.AddDate(0, 0, -1)
	}
	return c.AddDate(0, 0, 1)
}

// input is what a run reads: the unsettled money movements of the
// merchant's pending accounts before the cutoff, the payments they belong
// to, the lines settled before for those payments, fee plans and split rules.
type input struct {
	movements []movement
	payments  map[string]*ent.Payment
	settled   map[string][]*ent.SettlementLine // by payment id
	plans     []FeePlan
	rules     []SplitRule
}

// movement is one journal entry on the merchant's balances: a capture's on
// pending, a refund's wherever the draw rule took it from. pendingNet is
// the merchant's whole share of it, drawn the same by account kind.
type movement struct {
	sourceType, sourceID, paymentID string
	currency                        money.Currency
	gross, pendingNet               int64
	drawn                           map[ledger.Kind]int64
	at                              time.Time
}

func (m movement) key() string { return m.sourceType + ":" + m.sourceID }

func (s *Service) read(ctx context.Context, merchantID string, cutoff time.Time) (*input, error) {
	// A capture posts to pending; a refund (and its reversal) draws by the
	// ledger's draw rule, so on available, pending or reserve.
	accs, err := s.client.LedgerAccount.Query().Where(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeMERCHANT),
		ledgeraccount.OwnerID(merchantID), ledgeraccount.KindIn(ledgeraccount.KindPENDING, ledgeraccount.KindAVAILABLE, ledgeraccount.KindRESERVE)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: pending accounts: %w", err)
	}
	in := &input{payments: map[string]*ent.Payment{}, settled: map[string][]*ent.SettlementLine{}}
	if in.plans, err = s.FeePlans(ctx, merchantID); err != nil {
		return nil, err
	}
	if in.rules, err = s.SplitRules(ctx, merchantID); err != nil {
		return nil, err
	}
	if len(accs) == 0 {
		return in, nil
	}
	accIDs := make([]string, len(accs))
	kindOf := map[string]ledger.Kind{}
	for i, a := range accs {
		accIDs[i] = a.ID
		kindOf[a.ID] = ledger.Kind(strings.ToLower(string(a.Kind)))
	}
	pending, err := s.client.Posting.Query().Where(posting.AccountIDIn(accIDs...), posting.EffectiveAtLT(cutoff),
		posting.HasEntryWith(journalentry.SourceTypeIn(ledger.SourceCapture, ledger.SourceRefund, sourceRefundReversal))).
		WithEntry().Order(ent.Asc(posting.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: pending postings: %w", err)
	}
	keys := make([]string, 0, len(pending))
	for _, p := range pending {
		keys = append(keys, p.Edges.Entry.SourceType+":"+p.Edges.Entry.SourceID)
	}
	done := map[string]bool{}
	for chunk := range slices.Chunk(keys, 500) {
		got, err := s.client.SettlementLine.Query().Where(settlementline.SourceKeyIn(chunk...)).Select(settlementline.FieldSourceKey).Strings(ctx)
		if err != nil {
			return nil, fmt.Errorf("settlement: settled lines: %w", err)
		}
		for _, k := range got {
			done[k] = true
		}
	}
	var entryIDs, refundIDs []string
	seen := map[string]int{} // entry id → its movement
	for _, p := range pending {
		e := p.Edges.Entry
		if done[e.SourceType+":"+e.SourceID] {
			continue
		}
		if i, ok := seen[e.ID]; ok {
			in.movements[i].pendingNet += p.Amount
			in.movements[i].drawn[kindOf[p.AccountID]] += p.Amount
			continue
		}
		cur, err := money.ParseCurrency(p.Currency)
		if err != nil {
			return nil, err
		}
		seen[e.ID] = len(in.movements)
		in.movements = append(in.movements, movement{sourceType: e.SourceType, sourceID: e.SourceID, currency: cur,
			pendingNet: p.Amount, drawn: map[ledger.Kind]int64{kindOf[p.AccountID]: p.Amount}, at: e.EffectiveAt})
		entryIDs = append(entryIDs, e.ID)
		if e.SourceType != ledger.SourceCapture {
			refundIDs = append(refundIDs, e.SourceID)
		}
	}
	// The gross is what the channel owes (capture) or pays back (refund):
	// the channel receivable posting of the same entry, turned around.
	gross := map[string]int64{}
	channel, err := s.client.Posting.Query().Where(posting.EntryIDIn(entryIDs...),
		posting.HasAccountWith(ledgeraccount.OwnerTypeEQ(ledgeraccount.OwnerTypeCHANNEL))).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: channel postings: %w", err)
	}
	for _, p := range channel {
		gross[p.EntryID] -= p.Amount
	}
	refundPayment := map[string]string{}
	if len(refundIDs) > 0 {
		rs, err := s.client.Refund.Query().Where(refund.IDIn(refundIDs...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("settlement: refunds: %w", err)
		}
		for _, r := range rs {
			refundPayment[r.ID] = r.PaymentID
		}
	}
	var payIDs []string
	for i := range in.movements {
		m := &in.movements[i]
		m.gross = gross[entryIDs[i]]
		m.paymentID = m.sourceID
		if m.sourceType != ledger.SourceCapture {
			m.paymentID = refundPayment[m.sourceID]
		}
		payIDs = append(payIDs, m.paymentID)
	}
	if len(payIDs) > 0 {
		ps, err := s.client.Payment.Query().Where(payment.IDIn(payIDs...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("settlement: payments: %w", err)
		}
		for _, p := range ps {
			in.payments[p.ID] = p
		}
		ls, err := s.client.SettlementLine.Query().Where(settlementline.PaymentIDIn(payIDs...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("settlement: lines of payments: %w", err)
		}
		for _, l := range ls {
			in.settled[l.PaymentID] = append(in.settled[l.PaymentID], l)
		}
	}
	return in, nil
}

// runPlan is what a run writes: the batch, its lines (each unique by its
// source, so a capture or refund settles once), and a ledger entry per
// currency and per conversion.
type runPlan struct {
	batch   Batch
	entries []ledger.Entry
	// net is the day's net moved to available per capture currency, which a
	// settlement in another currency converts.
	net map[money.Currency]int64
	at  time.Time
}

// plan decides a run's writes from what it read. Captures are settled
// before refunds, each in time order, so that a refund's MDR share is
// computed from its capture's. The lines of each capture currency post
// together, as one entry with source settlement <merchant>:<day>:<currency>
// (so pending and available move by the day's net and never dip between a
// capture and its refund); each line adds (signed amounts in the capture
// currency: gross g, the channel's fee c taken at capture, MDR m, fee-based
// splits sf, gross-based splits sg):
//
//	merchant pending   −(g − c)
//	platform fees      +(m − c) − sf
//	partner accounts   +each share
//	merchant available +(g − m) − sg
//
// Refunds return the MDR pro rata (RefundFee), and the partners their
// splits of the capture pro rata (clawback).
func plan(merchantID, day string, sc Schedule, in *input, at time.Time) (*runPlan, error) {
	ms := slices.Clone(in.movements)
	slices.SortFunc(ms, func(a, b movement) int {
		ac, bc := a.sourceType != ledger.SourceCapture, b.sourceType != ledger.SourceCapture
		if ac != bc {
			if ac {
				return 1
			}
			return -1
		}
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.key(), b.key())
	})
	pl := &runPlan{batch: Batch{MerchantID: merchantID, BusinessDate: day}, net: map[money.Currency]int64{}, at: at}
	pl.batch.Currency = sc.Currency.Code()
	// The lines of a currency post as one entry: pending and available
	// move by the day's net, so neither dips below zero between a capture
	// and its refund.
	moves := map[money.Currency][]ledger.Posting{}
	// settled lines per payment, including those of this run so far.
	settled := map[string][]Line{}
	for pid, ls := range in.settled {
		for _, l := range ls {
			settled[pid] = append(settled[pid], Line{SourceKey: l.SourceKey, Gross: l.Gross, MDR: l.MdrFee, Splits: l.Splits})
		}
	}
	for _, m := range ms {
		p := in.payments[m.paymentID]
		if p == nil {
			return nil, fmt.Errorf("settlement: %s names payment %q, which is missing", m.key(), m.paymentID)
		}
		l := Line{SourceKey: m.key(), PaymentID: p.ID, Currency: m.currency, Gross: m.gross, CapturedAt: m.at}
		l.ChannelFee = m.gross - m.pendingNet
		var sf, sg int64
		switch m.sourceType {
		case ledger.SourceCapture:
			pay := Payment{Gross: money.Amount{Minor: m.gross, Currency: m.currency}, PaymentMethodType: p.PaymentMethodType,
				Scheme: p.CardScheme, Region: p.Region, CrossBorder: sc.Currency != m.currency}
			if fp, ok := Select(in.plans, pay); ok {
				l.MDR = fp.Fee(pay).Total
			}
			for _, r := range in.rules {
				base := l.MDR
				if r.Basis == BasisGross {
					base = m.gross
				}
				ps, shared := r.Allocate(base)
				l.Splits = append(l.Splits, splitsOf(r.Basis, ps)...)
				if r.Basis == BasisGross {
					sg += shared
				} else {
					sf += shared
				}
			}
			if sg > m.gross-l.MDR {
				return nil, payments.Errorf(payments.ECONFLICT, "split rules take more than the merchant's net of %s", m.key())
			}
		case ledger.SourceRefund:
			capMDR, refunded := int64(0), int64(0)
			var capSplits []schema.SettlementSplit
			for _, o := range settled[p.ID] {
				if o.SourceKey == ledger.SourceCapture+":"+p.ID {
					capMDR, capSplits = o.MDR, o.Splits
				} else {
					refunded -= o.Gross
				}
			}
			l.MDR = -RefundFee(capMDR, p.AmountCaptured, refunded, -m.gross)
			l.Splits, sf, sg = clawback(capSplits, p.AmountCaptured, refunded, -m.gross)
		case sourceRefundReversal:
			for _, o := range settled[p.ID] {
				if o.SourceKey == ledger.SourceRefund+":"+m.sourceID {
					l.MDR = -o.MDR
					l.Splits, sf, sg = reversed(o.Splits)
				}
			}
		}
		l.Split = sf + sg
		l.Net = m.gross - l.MDR - sg
		settled[p.ID] = append(settled[p.ID], l)
		pl.batch.Lines = append(pl.batch.Lines, l)
		pl.net[m.currency] += l.Net

		c := m.currency
		// The merchant's share comes off the accounts it went to (pending
		// for a capture; for a refund, wherever it was drawn), and the net
		// goes to available.
		for _, k := range ledger.DrawOrder {
			if v := m.drawn[k]; v != 0 {
				moves[c] = append(moves[c], ledger.Posting{Account: ledger.MerchantAccount(merchantID, k, c), Amount: amt(-v, c)})
			}
		}
		moves[c] = append(moves[c],
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFees, c), Amount: amt(l.MDR-l.ChannelFee-sf, c)},
			ledger.Posting{Account: ledger.MerchantAccount(merchantID, ledger.KindAvailable, c), Amount: amt(l.Net, c)},
		)
		for _, part := range l.Splits {
			moves[c] = append(moves[c], ledger.Posting{Account: ledger.PartnerAccount(part.Partner, c), Amount: amt(part.Amount, c)})
		}
	}
	for _, c := range sortedCurrencies(moves) {
		ps := postings(moves[c]...)
		if len(ps) > ledger.MaxPostings {
			return nil, payments.Errorf(payments.ECONFLICT, "a settlement in %s would pay more partners than one entry holds (%d postings)", c, len(ps))
		}
		if len(ps) > 0 {
			pl.entries = append(pl.entries, ledger.Entry{
				Source:      ledger.Source{Type: ledger.SourceSettlement, ID: merchantID + ":" + day + ":" + c.Code()},
				Description: fmt.Sprintf("settlement %s of %s", day, c), EffectiveAt: at, Postings: ps,
			})
		}
	}
	return pl, nil
}

// convert prices the day's positive net in each capture currency other than
// the settlement currency at a freshly locked quote, and adds the
// conversion entries (source settlement <merchant>:<day>:fx:<currency>):
// merchant available −from and platform FX +from in the capture currency,
// platform FX −to and merchant available +to in the settlement currency. A
// currency whose day nets to zero or less stays as it is.
func (s *Service) convert(ctx context.Context, merchantID, day string, sc Schedule, pl *runPlan) error {
	to := sc.Currency
	for _, c := range sortedCurrencies(pl.net) {
		n := pl.net[c]
		if c == to || n <= 0 {
			continue
		}
		if s.fx == nil {
			return payments.Errorf(payments.EUNAVAILABLE, "settlement in %s needs FX, which is not configured", to)
		}
		q, err := s.fx.CreateQuote(ctx, merchantID, c, to)
		if err != nil {
			return err
		}
		out, err := q.Price(money.Amount{Minor: n, Currency: c})
		if err != nil {
			return err
		}
		pl.entries = append(pl.entries, ledger.Entry{
			Source:      ledger.Source{Type: ledger.SourceSettlement, ID: merchantID + ":" + day + ":fx:" + c.Code()},
			Description: fmt.Sprintf("settlement %s: %s into %s", day, c, to), Reference: q.ID, EffectiveAt: pl.at,
			Postings: []ledger.Posting{
				{Account: ledger.MerchantAccount(merchantID, ledger.KindAvailable, c), Amount: amt(-n, c)},
				{Account: ledger.PlatformAccount(ledger.KindFX, c), Amount: amt(n, c)},
				{Account: ledger.PlatformAccount(ledger.KindFX, to), Amount: amt(-out.Minor, to)},
				{Account: ledger.MerchantAccount(merchantID, ledger.KindAvailable, to), Amount: out},
			},
		})
		pl.batch.Conversions = append(pl.batch.Conversions, schema.SettlementConversion{QuoteID: q.ID,
			FromCurrency: c.Code(), From: n, ToCurrency: to.Code(), To: out.Minor})
	}
	return nil
}

// apply writes a run's plan in one transaction: the batch, its lines and
// their ledger entries commit together or not at all.
func (s *Service) apply(ctx context.Context, pl *runPlan) (string, error) {
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (string, error) {
		b, err := tx.SettlementBatch.Create().SetMerchantID(pl.batch.MerchantID).SetBusinessDate(pl.batch.BusinessDate).
			SetCurrency(pl.batch.Currency).SetLineCount(len(pl.batch.Lines)).SetConversions(pl.batch.Conversions).
			SetReserveHeld(pl.batch.ReserveHeld).SetReserveReleaseOn(pl.batch.ReserveReleaseOn).SetReserveReleased(pl.batch.ReserveReleased).Save(ctx)
		if err != nil {
			return "", err
		}
		creates := make([]*ent.SettlementLineCreate, len(pl.batch.Lines))
		for i, l := range pl.batch.Lines {
			creates[i] = tx.SettlementLine.Create().SetMerchantID(pl.batch.MerchantID).SetBatchID(b.ID).SetSourceKey(l.SourceKey).
				SetPaymentID(l.PaymentID).SetCurrency(l.Currency.Code()).SetGross(l.Gross).SetChannelFee(l.ChannelFee).
				SetMdrFee(l.MDR).SetSplitAmount(l.Split).SetNet(l.Net).SetCapturedAt(l.CapturedAt.UTC()).SetSplits(l.Splits)
		}
		for chunk := range slices.Chunk(creates, 500) {
			if err := tx.SettlementLine.CreateBulk(chunk...).Exec(ctx); err != nil {
				return "", err
			}
		}
		if err := createdEvent(ctx, tx, b.ID, pl); err != nil {
			return "", err
		}
		if len(pl.entries) > 0 {
			if _, err := s.ledger.PostTxMany(ctx, tx, nil, nil, pl.entries); err != nil {
				return "", err
			}
		}
		return b.ID, nil
	})
}

// batchOf returns the merchant's batch of day with its lines; ENOTFOUND if
// that day has not run.
func (s *Service) batchOf(ctx context.Context, merchantID, day string) (*Batch, error) {
	row, err := s.client.SettlementBatch.Query().Where(settlementbatch.MerchantID(merchantID), settlementbatch.BusinessDate(day)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "no settlement of %s", day)
	}
	if err != nil {
		return nil, fmt.Errorf("settlement: batch: %w", err)
	}
	return s.load(ctx, row)
}

// Batch returns the settlement batch id with its lines, as the viewer may
// see it; ENOTFOUND if it does not exist or is another merchant's.
func (s *Service) Batch(ctx context.Context, id string) (*Batch, error) {
	row, err := s.client.SettlementBatch.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "settlement not found")
	}
	if err != nil {
		return nil, fmt.Errorf("settlement: batch: %w", err)
	}
	return s.load(ctx, row)
}

func (s *Service) load(ctx context.Context, row *ent.SettlementBatch) (*Batch, error) {
	ls, err := s.client.SettlementLine.Query().Where(settlementline.MerchantID(row.MerchantID), settlementline.BatchID(row.ID)).
		Order(ent.Asc(settlementline.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: lines: %w", err)
	}
	b := &Batch{ID: row.ID, MerchantID: row.MerchantID, BusinessDate: row.BusinessDate, Currency: row.Currency,
		Conversions: row.Conversions, ReserveHeld: row.ReserveHeld, ReserveReleased: row.ReserveReleased,
		ReserveReleaseOn: row.ReserveReleaseOn, CreatedAt: row.CreatedAt}
	for _, l := range ls {
		c, err := money.ParseCurrency(l.Currency)
		if err != nil {
			return nil, err
		}
		b.Lines = append(b.Lines, Line{ID: l.ID, SourceKey: l.SourceKey, PaymentID: l.PaymentID, Currency: c, Gross: l.Gross,
			ChannelFee: l.ChannelFee, MDR: l.MdrFee, Split: l.SplitAmount, Net: l.Net, CapturedAt: l.CapturedAt})
	}
	return b, nil
}

// WriteCSV writes the batch's lines as CSV with a header row; amounts are
// minor units.
func (b *Batch) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"line_id", "source", "payment_id", "currency", "gross", "channel_fee", "mdr_fee", "split", "net", "captured_at"})
	for _, l := range b.Lines {
		_ = cw.Write([]string{l.ID, l.SourceKey, l.PaymentID, l.Currency.Code(), i64(l.Gross), i64(l.ChannelFee), i64(l.MDR),
			i64(l.Split), i64(l.Net), l.CapturedAt.UTC().Format(time.RFC3339Nano)})
	}
	cw.Flush()
	return cw.Error()
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func amt(minor int64, c money.Currency) money.Amount { return money.Amount{Minor: minor, Currency: c} }

// postings drops zero postings and merges postings to the same account.
func postings(ps ...ledger.Posting) []ledger.Posting {
	var out []ledger.Posting
	for _, p := range ps {
		i := slices.IndexFunc(out, func(o ledger.Posting) bool { return o.Account == p.Account })
		if i >= 0 {
			out[i].Amount.Minor += p.Amount.Minor
		} else {
			out = append(out, p)
		}
	}
	return slices.DeleteFunc(out, func(p ledger.Posting) bool { return p.Amount.Minor == 0 })
}

func sortedCurrencies[V any](m map[money.Currency]V) []money.Currency {
	out := make([]money.Currency, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b money.Currency) int { return cmp.Compare(a.Code(), b.Code()) })
	return out
}
