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

	var r *ent.Refund
	var entry ledger.Entry
	err = s.tx(sys, func(tx *ent.Tx) error {
		locked, err := s.lockPayment(sys, tx, p.ID)
		if err != nil {
			return err
		}
		if prior, err := tx.Refund.Query().Where(refund.PaymentID(p.ID), refund.IdempotencyKey(key)).Only(sys); err == nil {
			r = prior // a concurrent request with the same key won
			return nil
		}
		if err := disputes.RefundRefusal(sys, tx, p.ID); err != nil {
			return err
		}
		before, err := s.refunded(sys, tx, p.ID)
		if err != nil {
			return err
		}
		left := locked.AmountCaptured - before
		want := left
		if amount != nil {
			want = *amount
		}
		if want <= 0 || want > left {
			return payments.FieldErrorf("amount", "amount %d is above the refundable %d (captured %d, refunded or refunding %d)",
				want, left, locked.AmountCaptured, before)
		}
		fee := refundFee(locked.FeeAmount, locked.AmountCaptured, before, want)
		r, err = tx.Refund.Create().SetMerchantID(p.MerchantID).SetPaymentID(p.ID).
			SetAmount(want).SetCurrency(p.Currency).SetReason(reason).SetIdempotencyKey(key).
			SetFeeReversed(fee).Save(sys)
		if err != nil {
			return err
		}
		balances, err := ledger.MerchantBalancesTx(sys, tx, p.MerchantID, cur.Currency)
		if err != nil {
			return err
		}
		entry = refundEntry(p.MerchantID, att.Connector, money.Amount{Minor: want, Currency: cur.Currency}, fee, balances, s.now())
		entry.Source = ledger.Source{Type: ledger.SourceRefund, ID: r.ID}
		if _, err := s.cfg.Ledger.PostTx(sys, tx, entry); err != nil {
			return err
		}
		return s.emitRaw(sys, tx, p.MerchantID, "refund.created", r.ID, refundData(r))
	})
	if err != nil {
		return nil, fmt.Errorf("refund of %s: %w", p.ID, err)
	}
	if r.Status != refundstatus.Pending {
		return r, nil
	}
	c, err := s.connector(att.Connector)
	if err != nil {
		return r, nil // pending: the janitor sends it when the connector is back
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	resp, err := c.Refund(cctx, connectors.RefundRequest{IdempotencyKey: r.ID, Reference: r.ID,
		PaymentID: att.ConnectorReference, Amount: contractMoney(r.Amount, r.Currency), Reason: reason})
	cancel()
	return s.recordRefund(sys, r.ID, refundResult(resp.Result, err), resp.ID, resp.Result.Code)
}

// refunded sums the payment's refunds that succeeded or may still succeed.
func (s *Service) refunded(ctx context.Context, tx *ent.Tx, paymentID string) (int64, error) {
	var sums []struct {
		Sum *int64 `json:"sum"`
	}
	err := tx.Refund.Query().
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
	err = s.tx(ctx, func(tx *ent.Tx) error {
		p, err := s.lockPayment(ctx, tx, r.PaymentID)
		if err != nil {
			return err
		}
		cur, err := tx.Refund.Get(ctx, id)
		if err != nil {
			return err
		}
		w := newRecordWrites(s.now())
		if !planRefundResult(p, cur, ev, channelID, code, reversal, w) {
			return nil
		}
		r = cur
		return s.write(ctx, tx, w, false)
	})
	if err != nil {
		return nil, fmt.Errorf("refund %s: %w", id, err)
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
	w.events = append(w.events, eventRow{merchantID: r.MerchantID, typ: typ, objectID: r.ID, data: refundData(r)})
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
