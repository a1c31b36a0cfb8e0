package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
)

// Prepared is a checkout session's new payment that risk and routing have
// decided (PrepareNew) but that is not written yet. It lets the checkout
// decide its payments in the very transaction that locks their sessions,
// and write them there (BeginPrepared), rather than read the sessions, decide,
// and then lock them again in an attempt transaction of the pipeline's own:
// a confirm then costs one batched step and one round trip fewer. Once that
// transaction commits, Finish runs the rest of the pipeline.
//
// ConfirmNew is PrepareNew, a transaction of its own, and Finish in one.
type Prepared struct {
	payment *ent.Payment
	pm      PaymentMethod
	seed    string
	d       decided
	// attempt is the first attempt, once BeginPrepared has written it.
	attempt *ent.PaymentAttempt
}

// PrepareNew checks a new payment as ConfirmNew does and runs risk and
// routing for it (steps 3 and 4); nothing is written. It returns the errors
// ConfirmNew returns before any write: EINVALID for a bad payment method or
// amount, or when no connector takes the payment; EUNAVAILABLE when risk is
// unavailable. A payment that risk refuses is prepared too: Finish records
// its refusal.
func (s *Service) PrepareNew(ctx context.Context, np NewPayment, pm PaymentMethod, key string) (*Prepared, error) {
	if err := s.validateNew(np, pm); err != nil {
		return nil, err
	}
	amt, err := amountOf(np.Payment.Amount, np.Payment.Currency)
	if err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, np.Payment, pm, amt)
	if err != nil {
		return nil, err
	}
	return &Prepared{payment: np.Payment, pm: pm, seed: key, d: d}, nil
}

// BeginPrepared writes prepared payments, processing, with their first
// attempts, in tx (step 5), as ConfirmNew's attempt transaction would: the
// caller must have locked their checkout sessions in tx (FOR UPDATE on MySQL)
// and seen that none has a payment that is not failed or canceled
// (claimSessions' checks); withCoupon names those of the sessions that
// carry a coupon, which are redeemed here (reserveCoupons). The
// sessions must be distinct. The inserts go to MySQL with the transaction's
// next statement or its commit. An error means tx must be rolled back;
// ConfirmNew then runs each payment alone, with its exact error.
func (s *Service) BeginPrepared(ctx context.Context, tx *ent.Tx, preps []*Prepared, withCoupon []string) error {
	reqs := make([]*beginReq, len(preps))
	for i, p := range preps {
		dd, err := riskData(p.d.risked)
		if err != nil {
			return err
		}
		reqs[i] = &beginReq{ctx: ctx, payment: p.payment, route: p.d.route, risk: dd, counts: p.d.risked.counts,
			method: p.pm.Type, seed: p.seed}
	}
	atts, err := s.writeNew(ctx, tx, reqs, withCoupon, true)
	if err != nil {
		return err
	}
	for i, p := range preps {
		p.attempt = atts[i]
	}
	return nil
}

// Finish runs the pipeline for a prepared payment whose attempt
// BeginPrepared wrote and whose transaction has committed: the connector
// call and the record (steps 6 to 8), or the record of a refusal. It
// returns what ConfirmNew returns.
func (s *Service) Finish(ctx context.Context, p *Prepared) (*ent.Payment, error) {
	if p.attempt == nil {
		return nil, fmt.Errorf("confirm %s: the prepared payment was not written", p.payment.ID)
	}
	return s.finish(ctx, p.attempt, p.pm, p.d)
}

// ConfirmAlone runs a prepared payment whose BeginPrepared transaction
// failed (nothing of it was written) on its own, as ConfirmNew would have
// after the same decisions: its attempt in a transaction of its own, which
// claims its session, then Finish. It returns what ConfirmNew returns.
func (s *Service) ConfirmAlone(ctx context.Context, p *Prepared) (*ent.Payment, error) {
	att, err := s.begin(ctx, p.payment, p.d.route, p.d.risked, p.pm, p.seed, 1, true)
	if err != nil {
		return nil, err
	}
	p.attempt = att
	return s.Finish(ctx, p)
}
