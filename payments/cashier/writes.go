package cashier

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/agreement"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/audit"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
)

// row is the new values of some columns of one row (store.Row).
type row = store.Row

// eventRow is an outbox event to insert. sessionID is the checkout
// session it concerns, if any: every event of a session's payment, its
// attempts and refunds names it, for the cashier's subscription
// (events.Filter.CheckoutSessionID).
type eventRow struct {
	merchantID, typ, objectID string
	sessionID                 string
	data                      map[string]any
}

// recordWrites gathers the writes of one or more record steps, to run in
// one transaction with as few statements as the tables allow (write).
type recordWrites struct {
	now      time.Time
	attempts []store.RowUpdate
	// newPayments are payments to insert (a charge on an agreement).
	newPayments []*ent.Payment
	// created are attempts to insert (a cascade's next attempt).
	created  []attemptRow
	payments []store.RowUpdate
	refunds  []store.RowUpdate
	// newRefunds are refunds to insert (a refund's start).
	newRefunds []*ent.Refund
	// agreements are agreements' changes.
	agreements []store.RowUpdate
	// reserve are sessions' coupons to redeem for payments about to be
	// attempted (a stored payment's attempt).
	reserve []Reservation
	settle  []Settlement
	// audits are audit log entries, each attributed to the viewer in its
	// context (a person's decision on a review).
	audits  []auditWrite
	events  []eventRow
	entries []ledger.Entry
	// counts are risk counts: authorizations' daily volumes.
	counts []risk.Count
	// locks are the ledger accounts the step locked ahead, if any.
	locks *ledger.Locks
}

// auditWrite is an audit log entry and the context of the request that
// made it (its viewer is the actor).
type auditWrite struct {
	ctx   context.Context
	entry audit.Entry
}

func newRecordWrites(now time.Time) *recordWrites { return &recordWrites{now: now} }

func (w *recordWrites) attempt(id string, r row) {
	if len(r) > 0 {
		w.attempts = append(w.attempts, store.RowUpdate{ID: id, Set: r})
	}
}

// payment adds r to the payment's changes (a payment may be changed twice
// in one step: a cascade's connector, then nothing else).
func (w *recordWrites) payment(id string, r row) {
	for i := range w.payments {
		if w.payments[i].ID == id {
			for k, v := range r {
				w.payments[i].Set[k] = v
			}
			return
		}
	}
	w.payments = append(w.payments, store.RowUpdate{ID: id, Set: r})
}

// write runs in tx the writes of one or more steps: new payments, new
// refunds and a cascade's new attempts first (their errors are their own), the coupons
// of payments about to be attempted, then the sessions' settlements, the
// attempts' and payments' updates, the risk counts, the outbox events and
// the ledger, whose writes go to MySQL with the commit, in one round trip,
// when deferWrites is set (store.Writes). The ledger comes last because its accounts are shared by
// every payment and their locks last until the commit
// (docs/performance.md).
func (s *Service) write(ctx context.Context, tx *ent.Tx, w *recordWrites, deferWrites bool) error {
	if len(w.newPayments) > 0 {
		creates := make([]*ent.PaymentCreate, len(w.newPayments))
		for i, p := range w.newPayments {
			creates[i] = paymentCreate(tx.Client(), p)
		}
		if err := tx.Payment.CreateBulk(creates...).Exec(ctx); err != nil {
			return fmt.Errorf("create payments: %w", err)
		}
	}
	if err := s.insertRefunds(ctx, tx, w.newRefunds); err != nil {
		return err
	}
	if err := s.insertAttempts(ctx, tx.Client(), w.created); err != nil {
		return err
	}
	if err := s.reserveCoupons(ctx, tx, w.reserve); err != nil {
		return err
	}
	for _, a := range w.audits {
		if err := audit.Record(a.ctx, tx, a.entry); err != nil {
			return err
		}
	}
	// What follows needs no answer but success.
	wr := store.NewWrites(tx, s.cfg.Dialect, deferWrites)
	if len(w.settle) > 0 {
		if err := s.settleSessions(ctx, tx, wr.Client(), w.settle); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if _, err := store.UpdateRows(ctx, wr, paymentattempt.Table, w.attempts, w.now); err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	if _, err := store.UpdateRows(ctx, wr, payment.Table, w.payments, w.now); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	if _, err := store.UpdateRows(ctx, wr, refund.Table, w.refunds, w.now); err != nil {
		return fmt.Errorf("refunds: %w", err)
	}
	if _, err := store.UpdateRows(ctx, wr, agreement.Table, w.agreements, w.now); err != nil {
		return fmt.Errorf("agreements: %w", err)
	}
	if err := s.cfg.Risk.RecordTx(ctx, wr.Client(), w.counts); err != nil {
		return err
	}
	if err := insertEvents(ctx, wr.Client(), w.events, w.now); err != nil {
		return err
	}
	// The ledger last: it locks the accounts every capture shares, and
	// holds them until the commit.
	if len(w.entries) > 0 {
		if _, err := s.cfg.Ledger.PostTxMany(ctx, tx, wr, w.locks, w.entries); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	return wr.Flush(ctx)
}

// newAttempt is attempt n of a payment, pending and not yet stored, with
// the routing and risk decisions that led to it. It captures with the
// authorization when the payment's capture is automatic, unless risk sent
// the payment to review: a reviewed payment is only authorized, and
// captured when a person approves it.
func (s *Service) newAttempt(p *ent.Payment, route routing.Decision, riskDecision map[string]any, seed string, n int) (*ent.PaymentAttempt, error) {
	rd, err := json.Marshal(route)
	if err != nil {
		return nil, err
	}
	next := s.now().Add(s.cfg.CallTimeout + inFlightGrace)
	capture := p.CaptureMethod != payment.CaptureMethodMANUAL && !inReview(riskDecision)
	return &ent.PaymentAttempt{
		ID: pulid.New("att"), MerchantID: p.MerchantID, PaymentID: p.ID, Connector: route.Chosen,
		Amount: p.Amount, Currency: p.Currency, Status: attemptstatus.Pending,
		ChannelIdempotencyKey: channelKey(p, seed, n), Capture: capture,
		RoutingDecision: rd, RiskDecision: riskDecision, NextCheckAt: &next,
	}, nil
}

// attemptRow is an attempt to insert, with its payment's checkout session
// (if any), which the attempt's event names.
type attemptRow struct {
	*ent.PaymentAttempt
	sessionID string
}

// insertAttempts stores new attempts in one statement. A channel
// idempotency key used before is ECONFLICT: that attempt was made already.
func (s *Service) insertAttempts(ctx context.Context, client *ent.Client, atts []attemptRow) error {
	if len(atts) == 0 {
		return nil
	}
	b := make([]*ent.PaymentAttemptCreate, len(atts))
	for i, a := range atts {
		b[i] = client.PaymentAttempt.Create().SetID(a.ID).
			SetMerchantID(a.MerchantID).SetPaymentID(a.PaymentID).SetConnector(a.Connector).
			SetAmount(a.Amount).SetCurrency(a.Currency).SetStatus(a.Status).
			SetChannelIdempotencyKey(a.ChannelIdempotencyKey).SetCapture(a.Capture).
			SetRoutingDecision(a.RoutingDecision).SetRiskDecision(a.RiskDecision).
			SetNillableNextCheckAt(a.NextCheckAt)
	}
	err := client.PaymentAttempt.CreateBulk(b...).Exec(ctx)
	if ent.IsConstraintError(err) {
		return payments.Errorf(payments.ECONFLICT, "payment %s was already confirmed with this idempotency key", atts[0].PaymentID)
	}
	if err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	// Every attempt is written here, so each has its event once.
	return insertEvents(ctx, client, attemptCreatedEvents(atts), s.now())
}

// insertEvents writes outbox events in one statement, on client (a
// transaction's).
func insertEvents(ctx context.Context, client *ent.Client, evs []eventRow, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	b := make([]*ent.EventCreate, len(evs))
	for i, e := range evs {
		b[i] = client.Event.Create().SetMerchantID(e.merchantID).SetType(e.typ).SetObjectID(e.objectID).
			SetData(e.data).SetCreatedAt(now)
		if e.sessionID != "" {
			b[i].SetCheckoutSessionID(e.sessionID)
		}
	}
	if err := client.Event.CreateBulk(b...).Exec(ctx); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// insertRefunds stores new refunds, as their plan built them (their
// timestamps are the database's defaults).
func (s *Service) insertRefunds(ctx context.Context, tx *ent.Tx, rs []*ent.Refund) error {
	for _, r := range rs {
		c := tx.Refund.Create().SetID(r.ID).SetMerchantID(r.MerchantID).SetPaymentID(r.PaymentID).
			SetAmount(r.Amount).SetCurrency(r.Currency).SetStatus(r.Status).SetReason(r.Reason).
			SetFeeReversed(r.FeeReversed)
		if r.IdempotencyKey != nil {
			c.SetIdempotencyKey(*r.IdempotencyKey)
		}
		if err := c.Exec(ctx); err != nil {
			return fmt.Errorf("refund %s: %w", r.ID, err)
		}
	}
	return nil
}

// paymentEvent is the outbox event of a payment entering a state.
func paymentEvent(p *ent.Payment, typ string, extra map[string]any) eventRow {
	data := map[string]any{
		"payment_id": p.ID, "status": p.Status.Name(), "amount": p.Amount, "currency": p.Currency,
		"amount_captured": p.AmountCaptured, "amount_refunded": p.AmountRefunded,
	}
	for k, v := range extra {
		data[k] = v
	}
	return eventRow{merchantID: p.MerchantID, typ: typ, objectID: p.ID, sessionID: p.CheckoutSessionID, data: data}
}
