package cashier

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
)

// row is the new values of some columns of one row, by column name. A nil
// value writes NULL; a map is stored as JSON, as ent stores JSON fields.
type row map[string]any

// rowUpdate is a row's changes, by its id.
type rowUpdate struct {
	id  string
	set row
}

// Settlement is a checkout session's payment reaching a state that settles
// the session (SessionHooks.Settle).
type Settlement struct {
	SessionID string
	State     State
}

// Reservation is a checkout session's payment about to be attempted
// (SessionHooks.Reserve).
type Reservation struct {
	SessionID string
	PaymentID string
}

// eventRow is an outbox event to insert.
type eventRow struct {
	merchantID, typ, objectID string
	data                      map[string]any
}

// recordWrites gathers the writes of one or more record steps, to run in
// one transaction with as few statements as the tables allow (write).
type recordWrites struct {
	now      time.Time
	attempts []rowUpdate
	// created are attempts to insert (a cascade's next attempt).
	created  []*ent.PaymentAttempt
	payments []rowUpdate
	settle   []Settlement
	events   []eventRow
	entries  []ledger.Entry
	// counts are risk counts: authorizations' daily volumes.
	counts []risk.Count
}

func newRecordWrites(now time.Time) *recordWrites { return &recordWrites{now: now} }

func (w *recordWrites) attempt(id string, r row) {
	if len(r) > 0 {
		w.attempts = append(w.attempts, rowUpdate{id, r})
	}
}

// payment adds r to the payment's changes (a payment may be changed twice
// in one step: a cascade's connector, then nothing else).
func (w *recordWrites) payment(id string, r row) {
	for i := range w.payments {
		if w.payments[i].id == id {
			for k, v := range r {
				w.payments[i].set[k] = v
			}
			return
		}
	}
	w.payments = append(w.payments, rowUpdate{id, r})
}

// write runs w's writes in tx: the attempts (updated, then inserted), the
// payments, the sessions' settlements, the outbox events, and the ledger
// last, because its accounts are shared by every payment and their locks
// last until the commit (docs/performance.md).
func (s *Service) write(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
	if err := updateRows(ctx, tx, paymentattempt.Table, w.attempts, w.now); err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	if err := s.insertAttempts(ctx, tx, w.created); err != nil {
		return err
	}
	if err := updateRows(ctx, tx, payment.Table, w.payments, w.now); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	if len(w.settle) > 0 && s.cfg.Sessions != nil {
		if err := s.cfg.Sessions.Settle(ctx, tx, w.settle); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if err := s.cfg.Risk.RecordTx(ctx, tx, w.counts); err != nil {
		return err
	}
	if len(w.events) > 0 {
		b := make([]*ent.EventCreate, len(w.events))
		for i, e := range w.events {
			b[i] = tx.Event.Create().SetMerchantID(e.merchantID).SetType(e.typ).SetObjectID(e.objectID).
				SetData(e.data).SetCreatedAt(w.now)
		}
		if err := tx.Event.CreateBulk(b...).Exec(ctx); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	if len(w.entries) > 0 {
		if _, err := s.cfg.Ledger.PostTxMany(ctx, tx, w.entries); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	return nil
}

// updateRows writes each row's changes and updated_at in one statement:
// UPDATE table SET col = CASE id WHEN ? THEN ? … ELSE col END, … WHERE id IN
// (…). It bypasses ent's builders, which set one value for every row, and
// its hooks and privacy: the caller is the system, on rows its transaction
// holds locked. Every row must exist.
func updateRows(ctx context.Context, tx *ent.Tx, table string, rows []rowUpdate, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	var cols []string
	for _, r := range rows {
		for c := range r.set {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	slices.Sort(cols)
	var b strings.Builder
	args := make([]any, 0, len(rows)*(2*len(cols)+1)+1)
	b.WriteString("UPDATE " + table + " SET ")
	for _, c := range cols {
		if len(rows) == 1 {
			b.WriteString(c + " = ?, ")
			v, err := sqlValue(rows[0].set[c])
			if err != nil {
				return fmt.Errorf("%s.%s: %w", table, c, err)
			}
			args = append(args, v)
			continue
		}
		b.WriteString(c + " = CASE id")
		for _, r := range rows {
			v, ok := r.set[c]
			if !ok {
				continue
			}
			v, err := sqlValue(v)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", table, c, err)
			}
			b.WriteString(" WHEN ? THEN ?")
			args = append(args, r.id, v)
		}
		b.WriteString(" ELSE " + c + " END, ")
	}
	b.WriteString("updated_at = ? WHERE id IN (")
	args = append(args, now)
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, r.id)
	}
	b.WriteString(")")
	res, err := tx.ExecContext(ctx, b.String(), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n < int64(len(rows)) {
		// MySQL counts changed rows only; every row here changes updated_at
		// unless two writes land in the same microsecond, so fewer is a hint,
		// not proof, of a missing row. The rows were read under lock by the
		// caller, so they exist.
		_ = n
	}
	return nil
}

// sqlValue is v as the driver stores it for ent: maps as JSON, times in UTC
// to the microsecond.
func sqlValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return nil, nil
		}
		return json.Marshal(x)
	case time.Time:
		return x.UTC().Truncate(time.Microsecond), nil
	}
	return v, nil
}

// newAttempt is attempt n of a payment, pending and not yet stored, with
// the routing and risk decisions that led to it. It captures with the
// authorization when the payment's capture is automatic, unless risk sent
// the payment to review: a reviewed payment is only authorized, and
// captured when a person approves it.
func (s *Service) newAttempt(p *ent.Payment, route routing.Decision, riskDecision map[string]any, seed string, n int) (*ent.PaymentAttempt, error) {
	rd, err := jsonMap(route)
	if err != nil {
		return nil, err
	}
	next := s.now().Add(s.cfg.CallTimeout + inFlightGrace)
	capture := p.CaptureMethod != payment.CaptureMethodMANUAL && !inReview(riskDecision)
	return &ent.PaymentAttempt{
		ID: pulid.New("att"), MerchantID: p.MerchantID, PaymentID: p.ID, Connector: route.Chosen,
		Amount: p.Amount, Currency: p.Currency, Status: paymentattempt.StatusPENDING,
		ChannelIdempotencyKey: channelKey(p, seed, n), Capture: capture,
		RoutingDecision: rd, RiskDecision: riskDecision, NextCheckAt: &next,
	}, nil
}

// insertAttempts stores new attempts in one statement. A channel
// idempotency key used before is ECONFLICT: that attempt was made already.
func (s *Service) insertAttempts(ctx context.Context, tx *ent.Tx, atts []*ent.PaymentAttempt) error {
	if len(atts) == 0 {
		return nil
	}
	b := make([]*ent.PaymentAttemptCreate, len(atts))
	for i, a := range atts {
		b[i] = tx.PaymentAttempt.Create().SetID(a.ID).
			SetMerchantID(a.MerchantID).SetPaymentID(a.PaymentID).SetConnector(a.Connector).
			SetAmount(a.Amount).SetCurrency(a.Currency).SetStatus(a.Status).
			SetChannelIdempotencyKey(a.ChannelIdempotencyKey).SetCapture(a.Capture).
			SetRoutingDecision(a.RoutingDecision).SetRiskDecision(a.RiskDecision).
			SetNillableNextCheckAt(a.NextCheckAt)
	}
	err := tx.PaymentAttempt.CreateBulk(b...).Exec(ctx)
	if ent.IsConstraintError(err) {
		return payments.Errorf(payments.ECONFLICT, "payment %s was already confirmed with this idempotency key", atts[0].PaymentID)
	}
	if err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	return nil
}

// paymentEvent is the outbox event of a payment entering a state.
func paymentEvent(p *ent.Payment, typ string, extra map[string]any) eventRow {
	data := map[string]any{
		"payment_id": p.ID, "status": string(stateOf(p.Status)), "amount": p.Amount, "currency": p.Currency,
		"amount_captured": p.AmountCaptured, "amount_refunded": p.AmountRefunded,
	}
	for k, v := range extra {
		data[k] = v
	}
	return eventRow{merchantID: p.MerchantID, typ: typ, objectID: p.ID, data: data}
}
