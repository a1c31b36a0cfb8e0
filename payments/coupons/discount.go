package coupons

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/coupon"
	"github.com/straitpay/strait/ent/couponredemption"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// Discount returns what c takes off subtotal.
//
// The rule: a FIXED coupon takes its amount off, at most the whole subtotal. A
// PERCENTAGE coupon takes subtotal × bps / 10000, computed exactly and rounded
// once to the minor unit, half away from zero (money.RoundingRule, the rule of
// every conversion): 10 % of 0.05 USD is 0.01 USD, 15 % of 999 JPY is 150 JPY.
// The amount due is subtotal − discount, never below zero.
//
// Returns EINVALID (field "code") if the coupon is restricted to another
// currency.
func Discount(c *ent.Coupon, subtotal money.Amount) (money.Amount, error) {
	if c.Currency != "" && c.Currency != subtotal.Currency.Code() {
		return money.Amount{}, payments.FieldErrorf("code", "coupon %s applies to %s payments only", c.Code, c.Currency)
	}
	zero := money.Amount{Currency: subtotal.Currency}
	switch c.Kind {
	case coupon.KindFIXED:
		if c.AmountOff == nil {
			return zero, nil
		}
		return money.Amount{Minor: min(*c.AmountOff, subtotal.Minor), Currency: subtotal.Currency}, nil
	case coupon.KindPERCENTAGE:
		if c.PercentOffBps == nil || subtotal.Minor <= 0 {
			return zero, nil
		}
		bps := *c.PercentOffBps
		rate, err := money.ParseRate(fmt.Sprintf("%d.%04d", bps/maxBps, bps%maxBps))
		if err != nil {
			return money.Amount{}, fmt.Errorf("coupon %s: rate: %w", c.ID, err)
		}
		d, err := subtotal.Convert(rate, subtotal.Currency)
		if err != nil {
			return money.Amount{}, err
		}
		d.Minor = min(d.Minor, subtotal.Minor)
		return d, nil
	}
	return money.Amount{}, fmt.Errorf("coupon %s: unknown kind %q", c.ID, c.Kind)
}

// Find returns the merchant's coupon with code (any case). Returns ENOTFOUND
// (field "code") if there is none.
func (s *Service) Find(ctx context.Context, merchantID, code string) (*ent.Coupon, error) {
	c, err := s.client.Coupon.Query().
		Where(coupon.MerchantID(merchantID), coupon.Code(NormalizeCode(code))).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, &payments.Error{Code: payments.ENOTFOUND, Field: "code", Message: "no such coupon"}
	}
	if err != nil {
		return nil, fmt.Errorf("find coupon: %w", err)
	}
	return c, nil
}

// Target is what a coupon is checked against: a session's merchant, price
// before discount, and customer ("" for none).
type Target struct {
	MerchantID string
	Subtotal   money.Amount
	CustomerID string
}

// Check returns the discount c gives target now. Returns EINVALID (field
// "code") for an inactive coupon, one outside its validity window, another
// currency, a subtotal below the minimum, or a per-customer limit without a
// customer; ECONFLICT when it is used up, overall or by this customer.
func (s *Service) Check(ctx context.Context, c *ent.Coupon, t Target) (money.Amount, error) {
	if err := checkUsable(c, s.now()); err != nil {
		return money.Amount{}, err
	}
	if c.MinimumAmount != nil && c.Currency == t.Subtotal.Currency.Code() && t.Subtotal.Minor < *c.MinimumAmount {
		min := money.Amount{Minor: *c.MinimumAmount, Currency: t.Subtotal.Currency}
		return money.Amount{}, payments.FieldErrorf("code", "coupon %s needs a price of at least %s", c.Code, min)
	}
	d, err := Discount(c, t.Subtotal)
	if err != nil {
		return money.Amount{}, err
	}
	if c.MaxRedemptions != nil && c.TimesRedeemed >= *c.MaxRedemptions {
		return money.Amount{}, usedUp(c)
	}
	if c.MaxRedemptionsPerCustomer != nil {
		if t.CustomerID == "" {
			return money.Amount{}, payments.FieldErrorf("code", "coupon %s needs a known customer", c.Code)
		}
		n, err := s.client.CouponRedemption.Query().
			Where(couponredemption.CouponID(c.ID), couponredemption.CustomerID(t.CustomerID)).
			Count(viewer.SystemContext(ctx))
		if err != nil {
			return money.Amount{}, fmt.Errorf("count redemptions: %w", err)
		}
		if n >= *c.MaxRedemptionsPerCustomer {
			return money.Amount{}, payments.Errorf(payments.ECONFLICT, "coupon %s has been used the most times allowed for this customer", c.Code)
		}
	}
	return d, nil
}

// checkUsable refuses an inactive coupon or one outside its window at now.
func checkUsable(c *ent.Coupon, now time.Time) error {
	switch {
	case !c.Active:
		return payments.FieldErrorf("code", "coupon %s is not active", c.Code)
	case c.ValidFrom != nil && now.Before(*c.ValidFrom):
		return payments.FieldErrorf("code", "coupon %s is not valid yet", c.Code)
	case c.ValidUntil != nil && !now.Before(*c.ValidUntil):
		return payments.FieldErrorf("code", "coupon %s has expired", c.Code)
	}
	return nil
}

func usedUp(c *ent.Coupon) error {
	return payments.Errorf(payments.ECONFLICT, "coupon %s has been used up", c.Code)
}

// Offer is a public coupon a session could use, with its discount.
type Offer struct {
	Coupon   *ent.Coupon
	Discount money.Amount
}

// maxOffers bounds the applicable list: a cashier shows a handful, and each
// offer may cost a count query.
const maxOffers = 20

// Applicable returns the merchant's active, public coupons that target could
// use now, newest first, each with its discount; coupons that would be refused
// are left out.
func (s *Service) Applicable(ctx context.Context, t Target) ([]Offer, error) {
	now := s.now()
	cs, err := s.client.Coupon.Query().
		Where(
			coupon.MerchantID(t.MerchantID), coupon.Active(true), coupon.Public(true),
			coupon.CurrencyIn("", t.Subtotal.Currency.Code()),
			coupon.Or(coupon.ValidFromIsNil(), coupon.ValidFromLTE(now)),
			coupon.Or(coupon.ValidUntilIsNil(), coupon.ValidUntilGT(now)),
		).
		Order(ent.Desc(coupon.FieldID)).Limit(maxOffers).
		All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("applicable coupons: %w", err)
	}
	var out []Offer
	for _, c := range cs {
		d, err := s.Check(ctx, c, t)
		switch payments.ErrorCode(err) {
		case "":
			out = append(out, Offer{Coupon: c, Discount: d})
		case payments.EINVALID, payments.ECONFLICT:
		default:
			return nil, err
		}
	}
	return out, nil
}

// Get returns a coupon by id whatever the viewer (for a session's applied
// coupon). Returns ENOTFOUND if it does not exist.
func (s *Service) Get(ctx context.Context, id string) (*ent.Coupon, error) {
	c, err := s.client.Coupon.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, payments.Errorf(payments.ENOTFOUND, "coupon not found")
	}
	return c, err
}
