package payouts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/bankaccount"
	"github.com/straitpay/strait/ent/payout"
	"github.com/straitpay/strait/ent/predicate"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// CreateInput is a payout to make.
type CreateInput struct {
	MerchantID, BankAccountID string
	// Amount leaves the merchant's available balance in its currency; when
	// that is not the bank account's, a locked FX quote converts it.
	Amount money.Amount
	// IdempotencyKey makes the payout happen once per merchant and key.
	IdempotencyKey string
	Description    string
	// SendAt holds the payout until then (zero: at once).
	SendAt time.Time
}

// Create sets a merchant's available funds aside for a payout (available
// → in transit, converted at a locked quote when the bank account's
// currency differs) and, unless SendAt is later, sends it to the bank at
// once. The row, its entry and the payout.created event commit together.
// A key used before returns that payout when the request is the same, and
// is ECONFLICT otherwise.
//
// Nothing moves on an error: EINVALID for an amount not above zero (field
// "amount"), above the available balance (field "amount"), an unverified
// account (field "bankAccountID"), or a currency that cannot be paid into
// the account (field "amount.currency"); ENOTFOUND for an account the
// viewer cannot see (another merchant's); EUNAVAILABLE when no fresh FX
// rate converts it.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Payout, error) {
	if in.Amount.Currency.IsZero() {
		return nil, payments.FieldErrorf("amount.currency", "unsupported currency")
	}
	if in.Amount.Minor <= 0 {
		return nil, payments.FieldErrorf("amount", "a payout must be above zero")
	}
	acc, err := s.client.BankAccount.Get(ctx, in.BankAccountID)
	if ent.IsNotFound(err) || (err == nil && acc.MerchantID != in.MerchantID) {
		return nil, payments.Errorf(payments.ENOTFOUND, "bank account not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: bank account: %w", err)
	}
	sys := viewer.SystemContext(ctx)
	if in.IdempotencyKey != "" {
		if p, err := s.byKey(sys, in); err == nil || payments.ErrorCode(err) != payments.ENOTFOUND {
			return p, err
		}
	}
	if acc.Status != bankaccount.StatusVERIFIED {
		return nil, payments.FieldErrorf("bankAccountID", "the bank account is not verified (%s)", strings.ToLower(string(acc.Status)))
	}
	dst, err := money.ParseCurrency(acc.Currency)
	if err != nil {
		return nil, err
	}
	out, quoteID := in.Amount, ""
	if in.Amount.Currency != dst {
		if s.cfg.FX == nil {
			return nil, payments.Errorf(payments.EUNAVAILABLE, "a payout into %s needs FX, which is not configured", dst)
		}
		q, err := s.cfg.FX.CreateQuote(sys, in.MerchantID, in.Amount.Currency, dst)
		if payments.ErrorCode(err) == payments.EINVALID {
			return nil, payments.FieldErrorf("amount.currency", "%s cannot be paid into a %s account", in.Amount.Currency, dst)
		}
		if err != nil {
			return nil, err
		}
		if out, err = q.Price(in.Amount); err != nil {
			return nil, err
		}
		if out.Minor <= 0 {
			return nil, payments.FieldErrorf("amount", "%s converts to nothing in %s", in.Amount, dst)
		}
		quoteID = q.ID
	}
	now := s.now()
	sendAt := in.SendAt.UTC().Truncate(time.Microsecond)
	if sendAt.Before(now) {
		sendAt = now
	}
	draft := &ent.Payout{ID: "po_draft", MerchantID: in.MerchantID, Amount: out.Minor, Currency: dst.Code(),
		SourceAmount: in.Amount.Minor, SourceCurrency: in.Amount.Currency.Code()}
	if err := s.ledger.Prepare(sys, requestEntry(draft, now), paidEntry(draft, s.cfg.Connector, now)); err != nil {
		return nil, err
	}
	id, err := store.WithTx(sys, s.client, func(tx *ent.Tx) (string, error) {
		bal, err := ledger.MerchantBalancesTx(sys, tx, in.MerchantID, in.Amount.Currency)
		if err != nil {
			return "", err
		}
		if bal[ledger.KindAvailable] < in.Amount.Minor {
			return "", payments.FieldErrorf("amount", "%s is above the available balance of %s", in.Amount,
				money.Amount{Minor: bal[ledger.KindAvailable], Currency: in.Amount.Currency})
		}
		c := tx.Payout.Create().SetMerchantID(in.MerchantID).SetBankAccountID(acc.ID).SetAmount(out.Minor).SetCurrency(dst.Code()).
			SetSourceAmount(in.Amount.Minor).SetSourceCurrency(in.Amount.Currency.Code()).SetFxQuoteID(quoteID).
			SetDescription(clip(in.Description, 200)).SetConnector(s.cfg.Connector).SetSendAt(sendAt).SetNextCheckAt(sendAt).
			SetCreatedAt(now).SetUpdatedAt(now)
		if in.IdempotencyKey != "" {
			c.SetIdempotencyKey(in.IdempotencyKey)
		}
		p, err := c.Save(sys)
		if err != nil {
			return "", err
		}
		if _, err := s.ledger.PostTx(sys, tx, requestEntry(p, now)); err != nil {
			return "", err
		}
		return p.ID, emit(sys, tx, p, "payout.created", now)
	})
	if ent.IsConstraintError(err) && in.IdempotencyKey != "" {
		return s.byKey(sys, in) // a concurrent request with the key won
	}
	if err != nil {
		return nil, err
	}
	if !sendAt.After(now) {
		s.send(ctx, id)
	}
	return s.get(sys, id)
}

// byKey returns the merchant's payout made with in's key: ENOTFOUND if
// none, ECONFLICT if it was made for another account or amount.
func (s *Service) byKey(ctx context.Context, in CreateInput) (*Payout, error) {
	p, err := s.client.Payout.Query().Where(payout.MerchantID(in.MerchantID), payout.IdempotencyKey(in.IdempotencyKey)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "no payout with this key")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: by key: %w", err)
	}
	if p.BankAccountID != in.BankAccountID || p.SourceAmount != in.Amount.Minor || p.SourceCurrency != in.Amount.Currency.Code() {
		return nil, payments.Errorf(payments.ECONFLICT, "idempotency key %q was used for another payout", in.IdempotencyKey)
	}
	return payoutOf(p), nil
}

// requestEntry sets a payout's funds aside (source payout:<id>): available
// −source, in transit +amount; through the platform's FX account in each
// currency when they differ.
func requestEntry(p *ent.Payout, at time.Time) ledger.Entry {
	src, dst := money.MustCurrency(p.SourceCurrency), money.MustCurrency(p.Currency)
	e := ledger.Entry{Source: ledger.Source{Type: ledger.SourcePayout, ID: p.ID}, Description: "payout requested",
		Reference: p.FxQuoteID, EffectiveAt: at, Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount(p.MerchantID, ledger.KindAvailable, src), Amount: money.Amount{Minor: -p.SourceAmount, Currency: src}},
			{Account: ledger.MerchantAccount(p.MerchantID, ledger.KindInTransit, dst), Amount: money.Amount{Minor: p.Amount, Currency: dst}},
		}}
	if src != dst {
		e.Postings = append(e.Postings,
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFX, src), Amount: money.Amount{Minor: p.SourceAmount, Currency: src}},
			ledger.Posting{Account: ledger.PlatformAccount(ledger.KindFX, dst), Amount: money.Amount{Minor: -p.Amount, Currency: dst}})
	}
	return e
}

// paidEntry books a paid payout (source payout:<id>/paid): in transit
// −amount, the bank connector's receivable +amount (the bank paid it out
// of the platform's funds it holds).
func paidEntry(p *ent.Payout, connector string, at time.Time) ledger.Entry {
	dst := money.MustCurrency(p.Currency)
	return ledger.Entry{Source: ledger.Source{Type: ledger.SourcePayout, ID: p.ID + "/paid"}, Description: "payout paid",
		EffectiveAt: at, Postings: []ledger.Posting{
			{Account: ledger.MerchantAccount(p.MerchantID, ledger.KindInTransit, dst), Amount: money.Amount{Minor: -p.Amount, Currency: dst}},
			{Account: ledger.ChannelAccount(connector, dst), Amount: money.Amount{Minor: p.Amount, Currency: dst}},
		}}
}

// returnEntry gives a failed or canceled payout's funds back (source
// payout:<id>/return): the request entry turned around, so available gets
// back exactly what left it, at the same quote.
func returnEntry(p *ent.Payout, at time.Time) ledger.Entry {
	e := requestEntry(p, at)
	e.Source.ID, e.Description = p.ID+"/return", "payout returned"
	for i := range e.Postings {
		e.Postings[i].Amount.Minor = -e.Postings[i].Amount.Minor
	}
	return e
}

// outcome maps the bank's answer to a payout call to the payout's event;
// "" is none: the outcome is unknown, and the call is made again later
// with the same key (never a new payout).
func outcome(r connectors.Result, err error) payoutstatus.Event {
	switch {
	case err == nil && (r.Outcome == connectors.OutcomePending || r.Outcome == connectors.OutcomeApproved):
		return payoutstatus.Accept
	case err == nil && (r.Outcome == connectors.OutcomeDeclined || r.Outcome == connectors.OutcomeError):
		return payoutstatus.Fail
	case err != nil && (connectors.ErrorCode(err) == connectors.EINVALID || connectors.ErrorCode(err) == connectors.EUNSUPPORTED):
		return payoutstatus.Fail
	}
	return ""
}

const failEvent = payoutstatus.Fail

// writes is what one event does to a payout: its new state, the bank's
// reference and failure code, the ledger entry and the outbox event.
type writes struct {
	from, to  payoutstatus.Status
	reference string
	code      string
	entry     *ledger.Entry
	event     string
}

// plan decides what ev does to payout p (read under its lock), with no
// I/O: accepted, it is in transit; paid, in transit → the bank; failed or
// canceled, the funds go back to available. It reports false when the
// state machine refuses ev (late or repeated news).
func plan(p *ent.Payout, ev payoutstatus.Event, reference, code, connector string, now time.Time) (writes, bool) {
	to, ok := payoutstatus.Next(p.Status, ev)
	if !ok {
		return writes{}, false
	}
	w := writes{from: p.Status, to: to, reference: reference, event: "payout.updated"}
	switch to {
	case payoutstatus.Paid:
		e := paidEntry(p, connector, now)
		w.entry, w.event = &e, "payout.paid"
	case payoutstatus.Failed, payoutstatus.Canceled:
		e := returnEntry(p, now)
		w.entry, w.event = &e, "payout."+to.Name()
		if to == payoutstatus.Failed {
			w.code = firstOf(code)
		}
	}
	return w, true
}

// errMoved is a conditional update that found the payout moved on.
var errMoved = errors.New("payout moved on")

// apply writes w in tx: the state, conditional on the one planned from
// (and, for a cancel, on the payout being unsent), the entry and the event.
func (s *Service) apply(ctx context.Context, tx *ent.Tx, p *ent.Payout, w writes, now time.Time) error {
	where := []predicate.Payout{payout.ID(p.ID), payout.StatusEQ(w.from)}
	if w.to == payoutstatus.Canceled {
		where = append(where, payout.SubmittedAtIsNil())
	}
	u := tx.Payout.Update().Where(where...).SetStatus(w.to).SetUpdatedAt(now)
	if w.reference != "" {
		u.SetConnectorReference(clip(w.reference, 128))
	}
	if w.code != "" {
		u.SetFailureCode(clip(w.code, 64))
	}
	if w.to != payoutstatus.Pending {
		u.ClearNextCheckAt()
	}
	n, err := u.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errMoved
	}
	p.Status, p.UpdatedAt = w.to, now
	if w.reference != "" {
		p.ConnectorReference = clip(w.reference, 128)
	}
	if w.code != "" {
		p.FailureCode = clip(w.code, 64)
	}
	if w.entry != nil {
		if _, err := s.ledger.PostTx(ctx, tx, *w.entry); err != nil {
			return err
		}
	}
	return emit(ctx, tx, p, w.event, now)
}

// record applies ev to payout id in one transaction.
func (s *Service) record(ctx context.Context, id string, ev payoutstatus.Event, reference, code string) (*Payout, error) {
	sys := viewer.SystemContext(ctx)
	p, err := s.client.Payout.Get(sys, id)
	if err != nil {
		return nil, fmt.Errorf("payouts: %s: %w", id, err)
	}
	now := s.now()
	if err := s.ledger.Prepare(sys, paidEntry(p, p.Connector, now), returnEntry(p, now)); err != nil {
		return nil, err
	}
	_, err = store.WithTx(sys, s.client, func(tx *ent.Tx) (struct{}, error) {
		q := tx.Payout.Query().Where(payout.ID(id))
		if s.cfg.Dialect == dialect.MySQL {
			q = q.ForUpdate()
		}
		cur, err := q.Only(sys)
		if err != nil {
			return struct{}{}, err
		}
		w, ok := plan(cur, ev, reference, code, cur.Connector, now)
		if !ok {
			return struct{}{}, nil
		}
		return struct{}{}, s.apply(sys, tx, cur, w, now)
	})
	if err != nil && !errors.Is(err, errMoved) {
		return nil, fmt.Errorf("payouts: %s: %w", id, err)
	}
	return s.get(sys, id)
}

// send makes the bank call of a pending payout that is due, claimed first
// by a conditional UPDATE (so of several replicas one calls) that stamps
// submitted_at (from then on the payout is never canceled) and sets the
// next check a Retry ahead. The idempotency key is the payout's id, the
// same on every call: an unknown outcome is resolved by making the call
// again, which the bank answers with the payout it has (or takes it then,
// if it never got it), and never by a new payout.
func (s *Service) send(ctx context.Context, id string) {
	sys := viewer.SystemContext(ctx)
	log := s.cfg.Log.With("payout", id)
	c, err := s.connector()
	if err != nil {
		log.Warn("payout waits for the bank connector", "err", err)
		return
	}
	p, err := s.client.Payout.Get(sys, id)
	if err != nil {
		log.Error("payout unreadable", "err", err)
		return
	}
	now := s.now()
	u := s.client.Payout.Update().Where(payout.ID(id), payout.StatusEQ(payoutstatus.Pending), payout.NextCheckAtLTE(now)).
		SetNextCheckAt(now.Add(s.cfg.Retry))
	if p.SubmittedAt == nil {
		u.SetSubmittedAt(now)
	}
	if n, err := u.Save(sys); err != nil || n == 0 {
		return // canceled, answered, or another replica has it
	}
	acc, err := s.client.BankAccount.Get(sys, p.BankAccountID)
	if err != nil {
		log.Error("payout's bank account unreadable", "err", err)
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Payout(cctx, connectors.PayoutRequest{IdempotencyKey: p.ID, Reference: p.ID,
		Amount: contractMoney(p.Amount, money.MustCurrency(p.Currency)), Beneficiary: beneficiary(acc), Purpose: firstOf(p.Description, "payout")})
	cancel()
	ev := outcome(resp.Result, err)
	if ev == "" {
		log.Warn("payout outcome unknown; asked again with the same key", "err", err, "retry_at", now.Add(s.cfg.Retry))
		return
	}
	if _, err := s.record(ctx, id, ev, resp.ID, firstOf(resp.Result.Code, connectors.ErrorCode(err))); err != nil {
		log.Error("payout answer not recorded; asked again", "err", err)
	}
}

// Cancel withdraws a payout that is pending and not yet sent to the bank;
// its funds return to available. Returns ENOTFOUND for a payout the viewer
// cannot see and ECONFLICT for one that is not pending or was sent.
func (s *Service) Cancel(ctx context.Context, id string) (*Payout, error) {
	p, err := s.client.Payout.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payout not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: %s: %w", id, err)
	}
	if p.Status != payoutstatus.Pending || p.SubmittedAt != nil {
		return nil, payments.Errorf(payments.ECONFLICT, "a payout that is %s and %s cannot be canceled", p.Status.Name(), sentWord(p))
	}
	sys := viewer.SystemContext(ctx)
	now := s.now()
	if err := s.ledger.Prepare(sys, returnEntry(p, now)); err != nil {
		return nil, err
	}
	_, err = store.WithTx(sys, s.client, func(tx *ent.Tx) (struct{}, error) {
		w, ok := plan(p, payoutstatus.Cancel, "", "", p.Connector, now)
		if !ok {
			return struct{}{}, errMoved
		}
		return struct{}{}, s.apply(sys, tx, p, w, now)
	})
	if errors.Is(err, errMoved) {
		return nil, payments.Errorf(payments.ECONFLICT, "the payout was sent to the bank meanwhile")
	}
	if err != nil {
		return nil, err
	}
	return s.get(sys, id)
}

func sentWord(p *ent.Payout) string {
	if p.SubmittedAt != nil {
		return "sent to the bank"
	}
	return "not sent"
}

// HandleEvent applies the bank's payout_result event: approved, the payout
// is paid; declined, it failed and its funds return. The payout is found by
// the reference the bank echoes (its id), else by the bank's id; an event
// about a verification deposit (reference bac_…) that was returned fails
// its bank account. Repeated or late events change nothing.
func (s *Service) HandleEvent(ctx context.Context, ev connectors.Event) error {
	if ev.Type != connectors.EventPayoutResult {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	var e payoutstatus.Event
	switch ev.Result.Outcome {
	case connectors.OutcomeApproved:
		e = payoutstatus.Pay
	case connectors.OutcomeDeclined:
		e = payoutstatus.Fail
	default:
		return nil
	}
	if strings.HasPrefix(ev.Reference, "bac_") {
		if e != payoutstatus.Fail {
			return nil
		}
		_, err := s.client.BankAccount.Update().Where(bankaccount.ID(ev.Reference), bankaccount.StatusNEQ(bankaccount.StatusVERIFICATION_FAILED)).
			SetStatus(bankaccount.StatusVERIFICATION_FAILED).SetFailureReason(clip("the verification deposit was returned: "+ev.Result.Code, 200)).Save(sys)
		return err
	}
	where := payout.ID(ev.Reference)
	if ev.Reference == "" {
		where = payout.And(payout.Connector(ev.Connector), payout.ConnectorReference(ev.ObjectID))
	}
	p, err := s.client.Payout.Query().Where(where).Only(sys)
	if ent.IsNotFound(err) {
		s.cfg.Log.Warn("payout event for no payout", "connector", ev.Connector, "reference", ev.Reference, "object", ev.ObjectID)
		return nil
	}
	if err != nil {
		return err
	}
	if ev.Connector != "" && ev.Connector != p.Connector {
		return nil // another channel's payout with a colliding reference
	}
	_, err = s.record(ctx, p.ID, e, ev.ObjectID, ev.Result.Code)
	return err
}

// Payout returns a payout as the viewer may see it (ENOTFOUND otherwise).
func (s *Service) Payout(ctx context.Context, id string) (*Payout, error) { return s.get(ctx, id) }

func (s *Service) get(ctx context.Context, id string) (*Payout, error) {
	p, err := s.client.Payout.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "payout not found")
	}
	if err != nil {
		return nil, fmt.Errorf("payouts: %s: %w", id, err)
	}
	return payoutOf(p), nil
}

// Payouts returns the merchant's latest payouts (first, 1 to 100), newest
// first, optionally only those in status.
func (s *Service) Payouts(ctx context.Context, merchantID string, first int, status *payoutstatus.Status) ([]Payout, error) {
	if first < 1 || first > 100 {
		return nil, payments.FieldErrorf("first", "first must be 1 to 100")
	}
	q := s.client.Payout.Query().Where(payout.MerchantID(merchantID))
	if status != nil {
		q = q.Where(payout.StatusEQ(*status))
	}
	rows, err := q.Order(ent.Desc(payout.FieldID)).Limit(first).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("payouts: list: %w", err)
	}
	out := make([]Payout, len(rows))
	for i, r := range rows {
		out[i] = *payoutOf(r)
	}
	return out, nil
}

func payoutOf(p *ent.Payout) *Payout {
	return &Payout{ID: p.ID, MerchantID: p.MerchantID, BankAccountID: p.BankAccountID,
		Amount:    money.Amount{Minor: p.Amount, Currency: money.MustCurrency(p.Currency)},
		Source:    money.Amount{Minor: p.SourceAmount, Currency: money.MustCurrency(p.SourceCurrency)},
		FxQuoteID: p.FxQuoteID, Status: p.Status, Description: p.Description, FailureCode: p.FailureCode,
		SendAt: p.SendAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// emit writes the payout's outbox event in tx.
func emit(ctx context.Context, tx *ent.Tx, p *ent.Payout, typ string, now time.Time) error {
	data := map[string]any{"payout_id": p.ID, "status": string(p.Status), "amount": p.Amount, "currency": p.Currency,
		"source_amount": p.SourceAmount, "source_currency": p.SourceCurrency, "bank_account_id": p.BankAccountID,
		"failure_code": p.FailureCode}
	if _, err := tx.Event.Create().SetMerchantID(p.MerchantID).SetType(typ).SetObjectID(p.ID).SetData(data).SetCreatedAt(now).Save(ctx); err != nil {
		return fmt.Errorf("outbox %s: %w", typ, err)
	}
	return nil
}
