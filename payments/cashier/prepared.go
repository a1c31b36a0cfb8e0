package cashier

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/paymentattempt"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/paymentstatus"
)

// A confirm has one way in, in three phases, always in this order:
//
//  1. Prepare decides: it checks the payment and how it is paid, and runs
//     risk and routing (steps 3 and 4). Nothing is written.
//  2. Begin writes the prepared payments' first attempts (step 5) in the
//     caller's transaction: the checkout's confirm step, which locked the
//     payments' sessions, checked them, and claims the requests'
//     idempotency keys in that same transaction. A stored payment that no
//     caller's transaction began (a charge on an agreement) is begun by
//     Confirm, in the operation step.
//  3. Confirm calls the connector and records its answer (steps 6 to 8).
//
// The cashier never calls back into the checkout: what a session's payment
// does to its session is one of the writes (sessions.go).

// Prepared is a payment that risk and routing have decided (Prepare), to
// write (Begin) and run (Confirm).
type Prepared struct {
	payment *ent.Payment
	// stored: payment is stored, awaiting a payment method; else it is new
	// and unsaved, and Begin inserts it.
	stored bool
	pm     PaymentMethod
	seed   string
	d      decided
	// done: the confirm of this key ran already (its first attempt
	// exists); its answer is the payment as it is now.
	done bool
	// attempt is the first attempt, once a transaction that wrote it has
	// committed.
	attempt *ent.PaymentAttempt
}

// Prepare checks a payment and how it is paid, and runs risk and routing
// for it; nothing is written. p is either stored, read whole and awaiting a
// payment method (a retry after a decline, a charge on an agreement), or
// new and unsaved (Status empty) with its ID, merchant, checkout session,
// amount, currency and capture method set, which Begin inserts. key seeds
// the channel idempotency keys of the attempts: confirming a stored payment
// again with the same key never makes a new attempt (Confirm answers with
// the payment as it is).
//
// Returns EINVALID for a bad payment method or amount, or when no connector
// takes the payment; ECONFLICT for a stored payment that cannot be
// confirmed in its state; EUNAVAILABLE when risk is unavailable. A payment
// that risk refuses is prepared too: Confirm records its refusal.
func (s *Service) Prepare(ctx context.Context, p *ent.Payment, pm PaymentMethod, key string) (*Prepared, error) {
	if err := pm.validate(); err != nil {
		return nil, err
	}
	prep := &Prepared{payment: p, stored: p.Status != "", pm: pm, seed: key}
	if prep.stored {
		if _, err := nextPayment(p.Status, paymentstatus.Confirm); err != nil {
			return nil, err
		}
		if key != "" {
			done, err := s.cfg.Client.PaymentAttempt.Query().
				Where(paymentattempt.ChannelIdempotencyKey(channelKey(p, key, 1))).Exist(viewer.SystemContext(ctx))
			if err != nil {
				return nil, fmt.Errorf("confirm %s: %w", p.ID, err)
			}
			if prep.done = done; done {
				return prep, nil
			}
		}
		// The payment row keeps what it stores until Begin writes: the fee
		// facts and the buyer's go on a copy.
		cp := *p
		prep.payment = &cp
	} else if p.ID == "" || p.MerchantID == "" || p.CheckoutSessionID == "" {
		return nil, fmt.Errorf("confirm new payment: ID, merchant and checkout session are required")
	}
	amt, err := amountOf(p.Amount, p.Currency)
	if err != nil {
		return nil, err
	}
	if err := validateAmount("amount", amt); err != nil {
		return nil, err
	}
	if prep.d, err = s.decide(ctx, prep.payment, pm, amt); err != nil {
		return nil, err
	}
	withBuyerFacts(prep.payment, pm)
	if err := s.withFeeFacts(ctx, prep.payment, pm); err != nil {
		return nil, err
	}
	return prep, nil
}

// Begin writes prepared payments, processing, with their first attempts,
// in tx (step 5). For new payments, the caller must have locked their
// checkout sessions in tx (FOR UPDATE on MySQL) and seen that none has a
// payment that is not failed or canceled; withCoupon names those of the
// sessions that carry a coupon, which are redeemed here (reserveCoupons).
// Stored payments are locked here, and planned again from what the lock
// reads (planBegin: ECONFLICT when one moved meanwhile). The payments must
// be of distinct sessions. With deferWrites the inserts go to MySQL with
// the transaction's next statement or its commit. An error means tx must be
// rolled back, and nothing of the payments is written.
func (s *Service) Begin(ctx context.Context, tx *ent.Tx, preps []*Prepared, withCoupon []string, deferWrites bool) error {
	var fresh []*Prepared
	var fetch []*Prepared
	for _, p := range preps {
		switch {
		case p.done:
		case p.stored:
			fetch = append(fetch, p)
		default:
			fresh = append(fresh, p)
		}
	}
	atts := make(map[*Prepared]*ent.PaymentAttempt, len(preps))
	if len(fresh) > 0 {
		written, err := s.writeNew(ctx, tx, fresh, withCoupon, deferWrites)
		if err != nil {
			return err
		}
		for i, p := range fresh {
			atts[p] = written[i]
		}
	}
	if len(fetch) > 0 {
		w := newRecordWrites(s.now())
		for _, p := range fetch {
			att, err := s.planStored(ctx, tx, p, w)
			if err != nil {
				return err
			}
			atts[p] = att
		}
		if err := s.write(ctx, tx, w, deferWrites); err != nil {
			return err
		}
	}
	// The attempts are written once tx commits, and only then.
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				for p, att := range atts {
					p.attempt = att
				}
			}
			return err
		})
	})
	return nil
}

// planStored locks prepared stored payment p in tx and plans its attempt
// into w (planBegin).
func (s *Service) planStored(ctx context.Context, tx *ent.Tx, p *Prepared, w *recordWrites) (*ent.PaymentAttempt, error) {
	dd, err := riskData(p.d.risked)
	if err != nil {
		return nil, err
	}
	cur, err := s.lockPayment(ctx, tx, p.payment.ID)
	if err != nil {
		return nil, err
	}
	cur.CardScheme, cur.Region = p.payment.CardScheme, p.payment.Region
	return s.planBegin(cur, p.d.route, dd, p.d.risked.counts, p.pm, p.seed, 1, w)
}

// Confirm runs a prepared payment: the connector call and the record
// (steps 6 to 8), or the record of a refusal. A stored payment that no
// transaction began is begun first, in the operation step; a new payment
// must have been begun (Begin) by a transaction that committed. It returns
// the payment as recorded: succeeded, requires_capture, requires_action,
// processing (pending at the channel, or unknown until the janitor knows),
// or requires_payment_method after a decline, with failure_code set.
func (s *Service) Confirm(ctx context.Context, p *Prepared) (*ent.Payment, error) {
	sys := viewer.SystemContext(ctx)
	if p.done {
		return s.Payment(sys, p.payment.ID)
	}
	if p.attempt == nil {
		if !p.stored {
			return nil, fmt.Errorf("confirm %s: the new payment was not begun", p.payment.ID)
		}
		err := s.apply(ctx, "confirm "+p.payment.ID, p.payment.ID, func(ctx context.Context, tx *ent.Tx, w *recordWrites) error {
			att, err := s.planStored(ctx, tx, p, w)
			p.attempt = att
			return err
		})
		if err != nil {
			p.attempt = nil
			return nil, err
		}
	}
	return s.finish(ctx, p.attempt, p.pm, p.d)
}
