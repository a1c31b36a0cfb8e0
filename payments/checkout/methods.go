package checkout

import (
	"context"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"slices"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/routing"
)

// AvailableMethods returns the methods the buyer can use on sess now: allowed
// by the merchant, and taken by at least one connector for the amount due,
// its currency and the buyer's country (routing's preview). A session that is
// not open, or has nothing left to pay, offers none.
func (s *Service) AvailableMethods(ctx context.Context, sess *ent.CheckoutSession) ([]routing.Method, error) {
	if s.router == nil || sess.Status != sessionstatus.Open || sess.Amount <= 0 {
		return nil, nil
	}
	due, _, _, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	ms, err := s.router.AvailableMethods(ctx, due, sess.BuyerCountry)
	if err != nil {
		return nil, err
	}
	allowed := AllowedMethods(sess)
	return slices.DeleteFunc(ms, func(m routing.Method) bool { return !slices.Contains(allowed, m) }), nil
}
