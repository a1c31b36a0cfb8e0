package cashier

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/refundstatus"

	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/refund"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/disputes"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Refund returns amount (all that is left when nil) of a captured payment to
// the buyer. It sets the money aside first: in one transaction, with the
// payment locked, it checks the amount against what is still refundable
// (captured, less succeeded and pending refunds), writes the refund pending,
// and posts its ledger entry; only then is the channel asked. So two
// concurrent refunds can never add up to more than was captured, and a
// refund the merchant's balance cannot cover is refused before the channel
// moves money. A refusal from the channel reverses the entry.
//
// key is the merchant's idempotency key: a refund request repeated with the
// same key returns the first refund; with another amount it is ECONFLICT.
// Returns EINVALID (field "amount") for an amount that is not positive or
// above the refundable amount, ECONFLICT for a payment that is not
// succeeded, or when the merchant's pending balance cannot cover it, or a
// payment with an open or lost dispute (disputes.RefundRefusal).
func (s *Service) Refund(ctx context.Context, paymentID string, in *money.Amount, reason, key string) (*ent.Refund, error) {
	if key == "" {
		return nil, payments.FieldErrorf("idempotencyKey", "an idempotency key is required")
	}
	if len(key) > 128 {
		return nil, payments.FieldErrorf("idempotencyKey", "an idempotency key is at most 128 characters")
	}
	if len(reason) > 200 {
		return nil, payments.FieldErrorf("reason", "the reason is at most 200 characters")
	}
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	amount, err := minorIn(p, in)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if prior, err := s.cfg.Client.Refund.Query().Where(refund.PaymentID(p.ID), refund.IdempotencyKey(key)).Only(sys); err == nil {
		if amount != nil && *amount != prior.Amount {
			return nil, payments.Errorf(payments.ECONFLICT, "idempotency key %q was used for a refund of %d", key, prior.Amount)
		}
		return prior, nil
	} else if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("refund of %s: %w", p.ID, err)
	}
	if p.Status != paymentstatus.Succeeded || p.AmountCaptured == 0 {
		return nil, payments.Errorf(payments.ECONFLICT, "a payment that is %s has nothing captured to refund", p.Status.Name())
	}
	if amount != nil && *amount <= 0 {
		return nil, payments.FieldErrorf("amount", "amount must be positive")
	}
	att, err := s.liveAttempt(ctx, p, attemptstatus.Captured)
	if err != nil {
		return nil, err
	}
	cur, err := amountOf(0, p.Currency)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Ledger.Prepare(sys, accountsOf(p.MerchantID, att.Connector, cur.Currency)); err != nil {
		return nil, err
	}

	ask := refundAsk{amount: amount, reason: reason, key: key, connector: att.Connector}
	var r *ent.Refund
	err = s.apply(ctx, "refund of "+p.ID, p.ID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		rows, err := s.readForRefund(ctx, tx, p.ID, key)
		if err != nil {
			return err
		}
		// The draw (ledger.Draw) decides from the merchant's balances of
		// the refund's currency, read under the payment's lock; posting
		// refuses an overdraft if they moved since.
		balances, err := ledger.MerchantBalancesTx(ctx, tx, rows.payment.MerchantID, cur.Currency)
		if err != nil {
			return err
		}
		r, err = planRefund(rows.payment, rows.prior, rows.disputed, rows.refunded, balances, ask, w)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Status != refundstatus.Pending {
		return r, nil
	}
	c, err := s.connector(att.Connector)
	if err != nil {
		// Pending: the janitor sends it when the connector is back.
		return s.cfg.Client.Refund.Get(sys, r.ID)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Refund(cctx, connectors.RefundRequest{IdempotencyKey: r.ID, Reference: r.ID,
		PaymentID: att.ConnectorReference, Amount: contractMoney(r.Amount, r.Currency), Reason: reason})
	cancel()
	return s.recordRefund(sys, r.ID, refundResult(resp.Result, err), resp.ID, resp.Result.Code)
}

// refundRows are the rows a refund's start decides from (planRefund).
type refundRows struct {
	payment  *ent.Payment
	prior    *ent.Refund
	disputed *ent.Dispute
	refunded int64
}

// readForRefund reads, in tx and one round trip, the payment locked (first,
// as every transaction that changes a payment locks it), the refund made
// with key meanwhile, the dispute that refuses a refund
// (disputes.Refusing), and what is refunded or refunding already.
func (s *Service) readForRefund(ctx context.Context, tx *ent.Tx, paymentID, key string) (refundRows, error) {
	var out refundRows
	var locked map[string]*ent.Payment
	err := store.ReadTogether(ctx, tx.Client(), s.cfg.Dialect,
		func(ctx context.Context, c *ent.Client) (err error) {
			locked, err = s.lockPayments(ctx, c, []string{paymentID})
			return err
		},
		func(ctx context.Context, c *ent.Client) error {
			r, err := c.Refund.Query().Where(refund.PaymentID(paymentID), refund.IdempotencyKey(key)).Only(ctx)
			if err != nil && !ent.IsNotFound(err) {
				return fmt.Errorf("refund of %s: %w", paymentID, err)
			}
			out.prior = r
			return nil
		},
		func(ctx context.Context, c *ent.Client) (err error) {
			out.disputed, err = disputes.Refusing(ctx, c, paymentID)
			return err
		},
		func(ctx context.Context, c *ent.Client) (err error) {
			out.refunded, err = refunded(ctx, c, paymentID)
			return err
		})
	if err != nil {
		return out, err
	}
	if out.payment = locked[paymentID]; out.payment == nil {
		return out, payments.Errorf(payments.ENOTFOUND, "payment %q not found", paymentID)
	}
	return out, nil
}

// refundAsk is a refund the merchant asked for: amount (all that is left
// when nil), why, under which idempotency key, of a payment captured at
// connector.
type refundAsk struct {
	amount      *int64
	reason, key string
	connector   string
}

// planRefund decides a refund's start from payment p read under its lock,
// the refund already made with the key (prior, nil if none: a concurrent
// request with the same key won, and it is the answer), the payment's
// dispute that refuses refunds (disputed, nil if none: disputes.Refusing),
// and the amount refunded or refunding already (before): the refund
// written pending, its ledger entry (the money set aside before the
// channel is asked), the outbox event. It adds them to w and returns the
// refund. Returns ECONFLICT for a disputed payment, EINVALID (field
// "amount") for an amount above what is left.
func planRefund(p *ent.Payment, prior *ent.Refund, disputed *ent.Dispute, before int64, balances map[ledger.Kind]int64, ask refundAsk, w *recordWrites) (*ent.Refund, error) {
	if prior != nil {
		return prior, nil
	}
	if err := disputes.RefusalOf(p.ID, disputed); err != nil {
		return nil, err
	}
	cur, err := money.ParseCurrency(p.Currency)
	if err != nil {
		return nil, fmt.Errorf("stored currency %q: %w", p.Currency, err)
	}
	left := p.AmountCaptured - before
	want := left
	if ask.amount != nil {
		want = *ask.amount
	}
	if want <= 0 || want > left {
		return nil, payments.FieldErrorf("amount", "amount %d is above the refundable %d (captured %d, refunded or refunding %d)",
			want, left, p.AmountCaptured, before)
	}
	fee := refundFee(p.FeeAmount, p.AmountCaptured, before, want)
	key := ask.key
	r := &ent.Refund{ID: pulid.New("ref"), MerchantID: p.MerchantID, PaymentID: p.ID, Amount: want, Currency: p.Currency,
		Status: refundstatus.Pending, Reason: ask.reason, IdempotencyKey: &key, FeeReversed: fee, CreatedAt: w.now, UpdatedAt: w.now}
	w.newRefunds = append(w.newRefunds, r)
	entry := refundEntry(p.MerchantID, ask.connector, money.Amount{Minor: want, Currency: cur}, fee, balances, w.now)
	entry.Source = ledger.Source{Type: ledger.SourceRefund, ID: r.ID}
	w.entries = append(w.entries, entry)
	w.events = append(w.events, eventRow{merchantID: p.MerchantID, typ: "refund.created", objectID: r.ID,
		sessionID: p.CheckoutSessionID, data: refundData(r)})
	return r, nil
}

// refunded sums the payment's refunds that succeeded or may still succeed,
// read on c.
func refunded(ctx context.Context, c *ent.Client, paymentID string) (int64, error) {
	var sums []struct {
		Sum *int64 `json:"sum"`
	}
	err := c.Refund.Query().
		Where(refund.PaymentID(paymentID), refund.StatusIn(refundstatus.Pending, refundstatus.Succeeded)).
		Aggregate(func(sel *sql.Selector) string { return sql.As(sql.Sum(sel.C(refund.FieldAmount)), "sum") }).
		Scan(ctx, &sums)
	if err != nil {
		return 0, fmt.Errorf("refunds of %s: %w", paymentID, err)
	}
	if len(sums) == 0 || sums[0].Sum == nil {
		return 0, nil
	}
	return *sums[0].Sum, nil
}

// refundResult maps the channel's answer about a refund to the refund
// machine's event; "" is none: pending, unknown or not sent, set aside and
// asked again.
func refundResult(r connectors.Result, err error) refundstatus.Event {
	switch {
	case err == nil && r.Outcome == connectors.OutcomeApproved:
		return refundstatus.Succeed
	case err == nil && r.Outcome == connectors.OutcomeDeclined:
		return refundstatus.Fail
	case err != nil && (connectors.ErrorCode(err) == connectors.EINVALID || connectors.ErrorCode(err) == connectors.EUNSUPPORTED):
		return refundstatus.Fail
	}
	return ""
}

// recordRefund applies the channel's answer to a pending refund: success
// counts it on the payment, a refusal reverses its ledger entry; in flight
// leaves it pending. eventID deduplicates channel events.
func (s *Service) recordRefund(ctx context.Context, id string, ev refundstatus.Event, channelID, code string) (*ent.Refund, error) {
	r, err := s.cfg.Client.Refund.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", id, err)
	}
	to, moves := refundstatus.Next(r.Status, ev)
	if !moves {
		return r, nil
	}
	var reversal ledger.Entry
	if to == refundstatus.Failed {
		orig, err := s.refundEntryOf(ctx, r)
		if err != nil {
			return nil, err
		}
		reversal = reversed(orig, s.now())
		reversal.Source = ledger.Source{Type: SourceRefundReversal, ID: r.ID}
		if err := s.cfg.Ledger.Prepare(ctx, reversal); err != nil {
			return nil, err
		}
	}
	err = s.apply(ctx, "refund "+id, r.PaymentID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
		p, err := s.lockPayment(ctx, tx, r.PaymentID)
		if err != nil {
			return err
		}
		cur, err := tx.Refund.Get(ctx, id)
		if err != nil {
			return err
		}
		if planRefundResult(p, cur, ev, channelID, code, reversal, w) {
			r = cur.Unwrap()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// planRefundResult decides what the channel's answer ev about refund r of
// payment p, both read under p's lock, writes: the refund succeeded (counted
// on the payment) or failed (its ledger entry reversed by reversal, prepared
// before the transaction), the channel's id kept, the outbox event. It adds
// them to w and changes p and r in memory; it reports false, adding nothing,
// when the refund machine refuses (the refund is not pending any more: late
// news).
func planRefundResult(p *ent.Payment, r *ent.Refund, ev refundstatus.Event, channelID, code string,
	reversal ledger.Entry, w *recordWrites) bool {
	to, moves := refundstatus.Next(r.Status, ev)
	if !moves {
		return false
	}
	set := row{refund.FieldStatus: string(to)}
	if channelID != "" {
		r.ConnectorReference = clip(channelID, 128)
		set[refund.FieldConnectorReference] = r.ConnectorReference
	}
	typ := "refund.succeeded"
	if to == refundstatus.Succeeded {
		p.AmountRefunded += r.Amount
		w.payment(p.ID, row{payment.FieldAmountRefunded: p.AmountRefunded})
	} else {
		typ = "refund.failed"
		r.FailureCode = clip(code, 64)
		set[refund.FieldFailureCode] = r.FailureCode
		w.entries = append(w.entries, reversal)
	}
	r.Status, r.UpdatedAt = to, w.now
	w.refunds = append(w.refunds, store.RowUpdate{ID: r.ID, Set: set})
	w.events = append(w.events, eventRow{merchantID: r.MerchantID, typ: typ, objectID: r.ID,
		sessionID: p.CheckoutSessionID, data: refundData(r)})
	return true
}

// refundEntryOf reads a refund's posted ledger entry: which accounts its
// draw took the money from depended on the balances of its moment.
func (s *Service) refundEntryOf(ctx context.Context, r *ent.Refund) (ledger.Entry, error) {
	return s.cfg.Ledger.PostedEntry(ctx, ledger.Source{Type: ledger.SourceRefund, ID: r.ID})
}

func refundData(r *ent.Refund) map[string]any {
	return map[string]any{"refund_id": r.ID, "payment_id": r.PaymentID, "status": string(r.Status),
		"amount": r.Amount, "currency": r.Currency, "reason": r.Reason}
}
