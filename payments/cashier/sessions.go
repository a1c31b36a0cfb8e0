package cashier

import (
	"context"
	"fmt"
	"slices"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
)

// A checkout session's payment acts on its session in the payment core's
// own transactions, so that what the session keeps (its state, its coupon's
// redemption) never disagrees with the money: its coupon is redeemed where
// its first attempt is written (Begin, in the checkout's confirm step, which
// locked the session and checked it for another payment), and the session is completed, or its coupon given
// back, where the payment's outcome is recorded. The checkout decides
// nothing here and is never called back: these are writes like any other of
// the step.

// sessionEffect is what a session's payment entering a state does to the
// session.
type sessionEffect int

const (
	// completeSession: the session is paid (sessionstatus.Pay).
	completeSession sessionEffect = iota + 1
	// releaseCoupon: the buyer may try again, or the payment is over; the
	// coupon its payment reserved is given back.
	releaseCoupon
)

// sessionEffects is the table of what each payment state does to the
// payment's session. Processing and RequiresAction do nothing: an unknown
// outcome never gives back what a payment that may yet succeed reserved.
var sessionEffects = map[paymentstatus.Status]sessionEffect{
	paymentstatus.RequiresCapture:       completeSession,
	paymentstatus.Succeeded:             completeSession,
	paymentstatus.RequiresPaymentMethod: releaseCoupon,
	paymentstatus.Failed:                releaseCoupon,
	paymentstatus.Canceled:              releaseCoupon,
}

// Settlement is a checkout session's payment reaching a state that settles
// the session (sessionEffects).
type Settlement struct {
	SessionID string
	State     paymentstatus.Status
}

// Reservation is a checkout session's payment about to be attempted: the
// session's coupon, if any, is redeemed for it.
type Reservation struct {
	SessionID string
	PaymentID string
}

// reserveCoupons redeems the sessions' coupons in the attempt transaction,
// before the connector is called, so a coupon used up meanwhile is refused
// (ECONFLICT) before any money moves. Sessions without a coupon cost one
// query for all of them.
func (s *Service) reserveCoupons(ctx context.Context, tx *ent.Tx, rs []Reservation) error {
	if s.cfg.Coupons == nil || len(rs) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.SessionID
	}
	withCoupon, err := tx.CheckoutSession.Query().
		Where(checkoutsession.IDIn(ids...), checkoutsession.CouponIDNotNil()).IDs(sys)
	if err != nil {
		return fmt.Errorf("sessions' coupons: %w", err)
	}
	for _, r := range rs {
		if !slices.Contains(withCoupon, r.SessionID) {
			continue
		}
		if _, err := s.cfg.Coupons.Redeem(ctx, tx, r.SessionID, r.PaymentID); err != nil {
			return err
		}
	}
	return nil
}

// settleSessions writes, in the record transaction, what the payments'
// states do to their sessions (sessionEffects). An authorized or succeeded
// payment completes its session, even one that expired while the buyer was
// at 3-D Secure: the money decides, never the session's clock. The sessions
// completed together are one UPDATE, which may go through writes, a client
// bound to tx whose statements are sent together at the end of the step
// (store.Writes).
func (s *Service) settleSessions(ctx context.Context, tx *ent.Tx, writes *ent.Client, settled []Settlement) error {
	sys := viewer.SystemContext(ctx)
	var complete []string
	for _, st := range settled {
		switch sessionEffects[st.State] {
		case completeSession:
			complete = append(complete, st.SessionID)
		case releaseCoupon:
			if s.cfg.Coupons == nil {
				continue
			}
			if err := s.cfg.Coupons.Release(sys, tx, st.SessionID); err != nil {
				return err
			}
		}
	}
	if len(complete) == 0 {
		return nil
	}
	return writes.CheckoutSession.Update().
		Where(checkoutsession.IDIn(complete...), checkoutsession.StatusIn(sessionstatus.From(sessionstatus.Pay)...)).
		SetStatus(sessionstatus.Complete).Exec(sys)
}
