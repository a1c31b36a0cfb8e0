package coupons

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/ent/couponredemption"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Redeem counts the coupon applied to a checkout session, inside the caller's
// transaction tx. The pipeline calls it when the buyer confirms, in the
// transaction that records the attempt, before the channel call: a coupon that
// is used up must stop the payment before any money moves. It returns the
// redemption, or nil when the session has no coupon. Redeeming a session again
// returns its first redemption.
//
// The count is a conditional UPDATE (times_redeemed < max_redemptions) that
// also locks the coupon row, so concurrent confirms of the same coupon take
// turns and the limit holds exactly; the per-customer count is then read under
// that lock (a locking read on MySQL).
//
// Returns ECONFLICT when the coupon is used up (overall or by the customer),
// inactive or expired since it was applied; the caller must then roll tx back.
func (s *Service) Redeem(ctx context.Context, tx *ent.Tx, sessionID, paymentID string) (*ent.CouponRedemption, error) {
	sys := viewer.SystemContext(ctx)
	sess, err := tx.CheckoutSession.Get(sys, sessionID)
	if err != nil {
		return nil, fmt.Errorf("redeem: session %s: %w", sessionID, err)
	}
	if sess.CouponID == nil {
		return nil, nil
	}
	prior, err := tx.CouponRedemption.Query().Where(couponredemption.CheckoutSessionID(sessionID)).Only(sys)
	switch {
	case err == nil:
		return prior, nil
	case !ent.IsNotFound(err):
		return nil, fmt.Errorf("redeem: find prior: %w", err)
	}
	c, err := tx.Coupon.Get(sys, *sess.CouponID)
	if err != nil {
		return nil, fmt.Errorf("redeem: coupon: %w", err)
	}
	if err := checkUsable(c, s.now()); err != nil {
		return nil, payments.Errorf(payments.ECONFLICT, "%s", payments.ErrorMessage(err))
	}
	n, err := tx.Coupon.Update().
		Where(coupon.ID(c.ID), coupon.Or(coupon.MaxRedemptionsIsNil(), underLimit())).
		AddTimesRedeemed(1).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("redeem: count: %w", err)
	}
	if n == 0 {
		return nil, usedUp(c)
	}
	if c.MaxRedemptionsPerCustomer != nil {
		if sess.CustomerID == "" {
			return nil, payments.Errorf(payments.ECONFLICT, "coupon %s needs a known customer", c.Code)
		}
		q := tx.CouponRedemption.Query().
			Where(couponredemption.CouponID(c.ID), couponredemption.CustomerID(sess.CustomerID))
		if s.dialect == dialect.MySQL {
			q = q.ForUpdate()
		}
		used, err := q.IDs(sys)
		if err != nil {
			return nil, fmt.Errorf("redeem: count customer's: %w", err)
		}
		if len(used) >= *c.MaxRedemptionsPerCustomer {
			return nil, payments.Errorf(payments.ECONFLICT, "coupon %s has been used the most times allowed for this customer", c.Code)
		}
	}
	create := tx.CouponRedemption.Create()
	if sess.CustomerID != "" {
		create.SetCustomerID(sess.CustomerID)
	}
	r, err := create.SetMerchantID(sess.MerchantID).SetCouponID(c.ID).SetCheckoutSessionID(sessionID).
		SetPaymentID(paymentID).
		SetAmountDiscount(sess.AmountDiscount).SetCurrency(sess.Currency).
		Save(sys)
	if err != nil {
		return nil, fmt.Errorf("redeem: record: %w", err)
	}
	return r, nil
}

// underLimit is times_redeemed < max_redemptions, two columns of one row.
func underLimit() func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(sql.ColumnsLT(s.C(coupon.FieldTimesRedeemed), s.C(coupon.FieldMaxRedemptions)))
	}
}

// Release undoes a session's redemption inside tx: the pipeline calls it in
// the transaction that records a payment as failed or canceled (never for an
// unknown outcome, which may still succeed), so the buyer can try again with
// the coupon. Releasing a session with no redemption does nothing.
func (s *Service) Release(ctx context.Context, tx *ent.Tx, sessionID string) error {
	sys := viewer.SystemContext(ctx)
	r, err := tx.CouponRedemption.Query().Where(couponredemption.CheckoutSessionID(sessionID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := tx.CouponRedemption.DeleteOne(r).Exec(sys); err != nil {
		return fmt.Errorf("release: delete: %w", err)
	}
	if err := tx.Coupon.UpdateOneID(r.CouponID).AddTimesRedeemed(-1).Exec(sys); err != nil {
		return fmt.Errorf("release: uncount: %w", err)
	}
	return nil
}
