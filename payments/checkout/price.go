package checkout

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/fx"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/viewer"
)

// BuyerPrice is a session's amount due in the buyer's currency.
type BuyerPrice struct {
	Amount *money.Amount
	// Rate is the quote's all-in rate: session currency per unit of buyer
	// currency.
	Rate      string
	QuoteID   string
	ExpiresAt time.Time
}

// needsQuote reports whether sess shows a price in another currency.
func needsQuote(sess *ent.CheckoutSession) bool {
	return sess.BuyerCurrency != "" && sess.BuyerCurrency != sess.Currency
}

// lockQuote locks a new quote for an open session that shows a buyer price
// and stores its id on the session. The quote converts the buyer's currency
// into the session's: what the platform does when the buyer pays in their
// currency and the merchant is owed the session's. Returns sess unchanged when
// no quote is needed, and EUNAVAILABLE when no fresh rate is stored.
func (s *Service) lockQuote(ctx context.Context, sess *ent.CheckoutSession) (*ent.CheckoutSession, error) {
	if s.fx == nil || !needsQuote(sess) || sess.Status != sessionstatus.Open {
		return sess, nil
	}
	buyer, err := money.ParseCurrency(sess.BuyerCurrency)
	if err != nil {
		return sess, fmt.Errorf("checkout session %s: %w", sess.ID, err)
	}
	cur, err := money.ParseCurrency(sess.Currency)
	if err != nil {
		return sess, fmt.Errorf("checkout session %s: %w", sess.ID, err)
	}
	q, err := s.fx.CreateQuote(viewer.SystemContext(ctx), sess.MerchantID, buyer, cur)
	if err != nil {
		return sess, err
	}
	upd := s.client.CheckoutSession.Update().Where(checkoutsession.ID(sess.ID))
	// Compare-and-swap: of two reads refreshing at once, one quote wins.
	if sess.FxQuoteID == nil {
		upd.Where(checkoutsession.FxQuoteIDIsNil())
	} else {
		upd.Where(checkoutsession.FxQuoteID(*sess.FxQuoteID))
	}
	sys := viewer.SystemContext(ctx)
	if _, err := upd.SetFxQuoteID(q.ID).Save(sys); err != nil {
		return sess, fmt.Errorf("store quote on %s: %w", sess.ID, err)
	}
	return s.client.CheckoutSession.Get(sys, sess.ID)
}

// BuyerPrice returns the session's amount due in its buyer currency at the
// quote locked for it, locking a new quote when there is none or it ran out
// while the session is open. It returns nil when the session has no buyer
// currency (or the session's own), or when no rate is available.
//
// The price is amount ÷ rate: amount × (1 / rate), where 1 / rate is rounded
// to 18 significant digits (money.Rate.Inverse) and the product once, half
// away from zero, to the buyer currency's minor unit. Because the quote's rate
// carries the platform margin, the buyer's price is above the mid-market one.
func (s *Service) BuyerPrice(ctx context.Context, sess *ent.CheckoutSession) (*BuyerPrice, error) {
	if s.fx == nil || !needsQuote(sess) {
		return nil, nil
	}
	var q fx.Quote
	var err error
	if sess.FxQuoteID != nil {
		if q, err = s.fx.Quote(viewer.SystemContext(ctx), *sess.FxQuoteID); err != nil {
			return nil, err
		}
	}
	if sess.FxQuoteID == nil || (!s.now().Before(q.ExpiresAt) && sess.Status == sessionstatus.Open) {
		fresh, err := s.lockQuote(ctx, sess)
		if payments.ErrorCode(err) == payments.EUNAVAILABLE {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if fresh.FxQuoteID == nil {
			return nil, nil
		}
		if q, err = s.fx.Quote(viewer.SystemContext(ctx), *fresh.FxQuoteID); err != nil {
			return nil, err
		}
		sess = fresh
	}
	due, _, _, err := Amounts(sess)
	if err != nil {
		return nil, err
	}
	price, err := due.Convert(q.Rate.Inverse(), q.Pair.Base)
	if err != nil {
		return nil, err
	}
	return &BuyerPrice{Amount: &price, Rate: q.Rate.String(), QuoteID: q.ID, ExpiresAt: q.ExpiresAt}, nil
}
