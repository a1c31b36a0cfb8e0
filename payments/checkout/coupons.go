package checkout

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/coupons"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Discount is the coupon applied to a session.
type Discount struct {
	Code          string
	Kind          coupon.Kind
	PercentOffBps *int
	AmountOff     *money.Amount
	// Amount is what it takes off the session.
	Amount *money.Amount
}

// CouponOffer is a public coupon a session could use.
type CouponOffer struct {
	Code          string
	Name          string
	Kind          coupon.Kind
	PercentOffBps *int
	AmountOff     *money.Amount
	Discount      *money.Amount
	ValidUntil    *time.Time
}

// ApplyCoupon applies the coupon with code to the cashier's session in ctx,
// replacing any other: amount becomes subtotal − discount (see
// coupons.Discount for the rounding rule). Returns ENOTFOUND (field "code")
// for an unknown code; EINVALID when the coupon does not apply; ECONFLICT
// when it is used up, the session is not open, or a payment is under way.
func (s *Service) ApplyCoupon(ctx context.Context, code string) (*ent.CheckoutSession, error) {
	return s.changeDiscount(ctx, func(sess *ent.CheckoutSession, subtotal money.Amount) (*ent.Coupon, money.Amount, error) {
		c, err := s.coupons.Find(ctx, sess.MerchantID, code)
		if err != nil {
			return nil, money.Amount{}, err
		}
		d, err := s.coupons.Check(ctx, c, coupons.Target{MerchantID: sess.MerchantID, Subtotal: subtotal, CustomerID: sess.CustomerID})
		return c, d, err
	})
}

// RemoveCoupon removes the applied coupon from the cashier's session, if any.
// Returns ECONFLICT when the session is not open or a payment is under way.
func (s *Service) RemoveCoupon(ctx context.Context) (*ent.CheckoutSession, error) {
	return s.changeDiscount(ctx, func(_ *ent.CheckoutSession, subtotal money.Amount) (*ent.Coupon, money.Amount, error) {
		return nil, money.Amount{Currency: subtotal.Currency}, nil
	})
}

// changeDiscount sets the cashier's session discount to what pick returns.
func (s *Service) changeDiscount(ctx context.Context, pick func(*ent.CheckoutSession, money.Amount) (*ent.Coupon, money.Amount, error)) (*ent.CheckoutSession, error) {
	v, err := cashierSession(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := s.Confirmable(ctx, v.SessionID)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	busy, err := sess.QueryPayments().
		Where(payment.StatusNotIn(paymentstatus.Failed, paymentstatus.Canceled)).
		Exist(sys)
	if err != nil {
		return nil, fmt.Errorf("payments of %s: %w", sess.ID, err)
	}
	if busy {
		return nil, payments.Errorf(payments.ECONFLICT, "a payment of this checkout session is under way")
	}
	_, _, subtotal, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	c, discount, err := pick(sess, subtotal)
	if err != nil {
		return nil, err
	}
	due, err := subtotal.Sub(discount)
	if err != nil {
		return nil, err
	}
	// Conditional on the amounts read, so a concurrent change is not lost
	// silently: the loser gets ECONFLICT and may retry.
	upd := s.client.CheckoutSession.UpdateOneID(sess.ID).
		Where(checkoutsession.Amount(sess.Amount), checkoutsession.AmountDiscount(sess.AmountDiscount),
			checkoutsession.StatusEQ(sessionstatus.Open)).
		SetAmount(due.Minor).SetAmountDiscount(discount.Minor)
	if c != nil {
		upd.SetCouponID(c.ID)
	} else {
		upd.ClearCouponID()
	}
	out, err := upd.Save(sys)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ECONFLICT, "the checkout session changed meanwhile; try again")
	}
	if err != nil {
		return nil, fmt.Errorf("apply coupon to %s: %w", sess.ID, err)
	}
	return out, nil
}

// Discount returns the coupon applied to sess, nil if none.
func (s *Service) Discount(ctx context.Context, sess *ent.CheckoutSession) (*Discount, error) {
	if sess.CouponID == nil {
		return nil, nil
	}
	c, err := s.coupons.Get(ctx, *sess.CouponID)
	if err != nil {
		return nil, err
	}
	_, discount, _, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	return &Discount{Code: c.Code, Kind: c.Kind, PercentOffBps: c.PercentOffBps, AmountOff: amountOff(c, discount.Currency), Amount: &discount}, nil
}

func amountOff(c *ent.Coupon, cur money.Currency) *money.Amount {
	if c.AmountOff == nil {
		return nil
	}
	if c.Currency != "" {
		cur, _ = money.ParseCurrency(c.Currency)
	}
	return &money.Amount{Minor: *c.AmountOff, Currency: cur}
}

// ApplicableCoupons returns the public coupons the session's buyer could
// apply now, each with what it would take off. A session that is not open has
// none.
func (s *Service) ApplicableCoupons(ctx context.Context, sess *ent.CheckoutSession) ([]CouponOffer, error) {
	if checkOpen(sess) != nil {
		return nil, nil
	}
	_, _, subtotal, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	offers, err := s.coupons.Applicable(ctx, coupons.Target{MerchantID: sess.MerchantID, Subtotal: subtotal, CustomerID: sess.CustomerID})
	if err != nil {
		return nil, err
	}
	out := make([]CouponOffer, len(offers))
	for i, o := range offers {
		d := o.Discount
		out[i] = CouponOffer{
			Code: o.Coupon.Code, Name: o.Coupon.Name, Kind: o.Coupon.Kind, PercentOffBps: o.Coupon.PercentOffBps,
			AmountOff: amountOff(o.Coupon, subtotal.Currency), Discount: &d, ValidUntil: o.Coupon.ValidUntil,
		}
	}
	return out, nil
}
