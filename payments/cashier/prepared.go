package cashier

import (
	"context"

	"github.com/straitpay/strait/ent"
)

// Prepared is a checkout session's new payment that risk and routing have
// decided (PrepareNew) but that is not written yet. It lets the checkout
// decide its payments in the very transaction that locks their sessions,
// and write them there (BeginPrepared), rather than read the sessions, decide,
// and then lock them again in an attempt transaction of the pipeline's own:
// a confirm then costs one batched step and one round trip fewer. Once that
// transaction commits, ConfirmPrepared runs the rest of the pipeline; for a
// prepared payment nobody wrote, it first writes it in an attempt
// transaction of its own, shared with concurrent new payments (beginMany).
//
// A new payment is confirmed by these three, in order, and only by them:
// PrepareNew (decide), BeginPrepared (optional: write in the caller's
// transaction), ConfirmPrepared (write if not written, call, record).
type Prepared struct {
	payment *ent.Payment
	pm      PaymentMethod
	seed    string
	d       decided
	// attempt is the first attempt, once it is written: by BeginPrepared's
	// transaction when it commits, or by ConfirmPrepared.
	attempt *ent.PaymentAttempt
}

// PrepareNew checks a new payment and how it is paid, and runs risk and
// routing for it (steps 3 and 4); nothing is written. Returns EINVALID for a
// bad payment method or amount, or when no connector takes the payment;
// EUNAVAILABLE when risk is unavailable. A payment that risk refuses is
// prepared too: ConfirmPrepared records its refusal.
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
	withBuyerFacts(np.Payment, pm)
	return &Prepared{payment: np.Payment, pm: pm, seed: key, d: d}, nil
}

// BeginPrepared writes prepared payments, processing, with their first
// attempts, in tx (step 5), as ConfirmPrepared's attempt transaction would: the
// caller must have locked their checkout sessions in tx (FOR UPDATE on MySQL)
// and seen that none has a payment that is not failed or canceled
// (claimSessions' checks); withCoupon names those of the sessions that
// carry a coupon, which are redeemed here (reserveCoupons). The
// sessions must be distinct. With deferWrites the inserts go to MySQL with
// the transaction's next statement or its commit. An error means tx must be rolled back, and
// nothing of the payments is written: ConfirmPrepared then writes each on its
// own, with its exact error.
func (s *Service) BeginPrepared(ctx context.Context, tx *ent.Tx, preps []*Prepared, withCoupon []string, deferWrites bool) error {
	reqs := make([]*beginReq, len(preps))
	for i, p := range preps {
		dd, err := riskData(p.d.risked)
		if err != nil {
			return err
		}
		reqs[i] = &beginReq{ctx: ctx, payment: p.payment, route: p.d.route, risk: dd, counts: p.d.risked.counts,
			method: p.pm.Type, seed: p.seed}
	}
	atts, err := s.writeNew(ctx, tx, reqs, withCoupon, deferWrites)
	if err != nil {
		return err
	}
	// The payments are written once tx commits, and only then: a
	// transaction that fails leaves them for ConfirmPrepared to write.
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				for i, p := range preps {
					p.attempt = atts[i]
				}
			}
			return err
		})
	})
	return nil
}

// ConfirmPrepared runs the pipeline for a prepared payment: unless
// BeginPrepared wrote it in a transaction that committed, its attempt
// transaction first (which claims its session: ECONFLICT when the session has
// a payment already), then the connector call and the record (steps 6 to 8),
// or the record of a refusal. It returns the payment as recorded: succeeded,
// requires_capture, requires_action, processing (pending at the channel, or
// unknown until the janitor knows), or requires_payment_method after a
// decline, with failure_code set.
func (s *Service) ConfirmPrepared(ctx context.Context, p *Prepared) (*ent.Payment, error) {
	if p.attempt == nil {
		att, err := s.begin(ctx, p.payment, p.d.route, p.d.risked, p.pm, p.seed, 1, true)
		if err != nil {
			return nil, err
		}
		p.attempt = att
	}
	return s.finish(ctx, p.attempt, p.pm, p.d)
}
