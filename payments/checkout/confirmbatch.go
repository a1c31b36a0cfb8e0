package checkout

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"slices"
	"sync"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/vault"
	"github.com/straitpay/strait/payments/viewer"
)

// maxConfirmBatch bounds the sessions one confirm transaction holds locked.
const maxConfirmBatch = 64

// confirmReq is a cashier's confirm of its own session, for the confirm
// step (applyConfirms).
type confirmReq struct {
	// ctx is the request's: its viewer and the buyer's address (risk).
	ctx        context.Context
	merchantID string
	sessionID  string
	token      vault.Token // the card token, parsed ("" for none or a malformed one)
	in         ConfirmInput
	// claim is the request's idempotency key, to claim with the payment
	// (nil: none, or claimed before the confirm started).
	claim *idempotency.Deferred
	// held is the confirm's card, once taken from the vault: a run of the
	// step after one that did not commit decides with it (heldCard).
	held *heldCard
}

// confirmed is what the confirm step made of a confirm.
type confirmed struct {
	// prep is the session's payment, written with its first attempt (or,
	// a retry with its key, found done: cashier.Prepare).
	prep *cashier.Prepared
	// refused is the confirm's refusal, decided under its session's lock:
	// nothing of it was written.
	refused error
	// claimFirst: the confirm's key has a record already (a retry, a
	// duplicate in flight, a key reused), or a confirm before it in the
	// batch has the same key: Confirm claims it on its own, which replays,
	// waits or refuses, and runs the confirm again.
	claimFirst bool
	// expired is the session, open but past its expiry: it is marked
	// expired outside the step and the confirm refused.
	expired *ent.CheckoutSession
	// use is the one-time token prep pays with, marked used with the
	// payment (nil: none, or one this confirm's key marked already).
	use *oneTimeUse
}

// applyConfirms is the confirm step's Apply: it decides and writes the
// payments of concurrent cashiers' confirms, of distinct sessions, in one
// transaction and two round trips on MySQL (three when one confirms again
// after a decline): the sessions locked (FOR UPDATE, in id order, so
// batches never deadlock on each other), their payments' states, the
// cards' vault records and the keys' idempotency records read together
// (then, if any, the payments to confirm again read whole and locked); then
// each confirm checked and decided (risk, routing: cashier.Prepare) while
// its session is locked, concurrently; then the payments and their first
// attempts written with the commit (cashier.Begin), with the one-time card
// tokens they pay with marked used (markOneTimeToken) and the keys claimed
// (idempotency.ClaimIn). It answers each confirm with a confirmed: its
// payment begun, its refusal, or what Confirm must do first.
//
// A key with a record already, or a second of a key in the batch, is left
// to Confirm to claim first (claimFirst); a second confirm of a session
// runs after the first (the executor's Key). Its error means nothing was
// written, claims included: the executor then runs each confirm alone, and
// a lone confirm that fails claims its key on its own and runs again
// (Confirm).
func (s *Service) applyConfirms(ctx context.Context, tx *ent.Tx, reqs []*confirmReq, deferWrites bool) ([]batch.Result[confirmed], error) {
	sys := viewer.SystemContext(ctx)
	out := make([]batch.Result[confirmed], len(reqs))
	seen := make(map[string]bool, len(reqs))
	var group []int
	var claims []*idempotency.Deferred
	for i, r := range reqs {
		if r.claim != nil && seen[r.claim.Key()] {
			out[i].Value.claimFirst = true
			continue
		}
		group = append(group, i)
		if r.claim != nil {
			seen[r.claim.Key()] = true
			claims = append(claims, r.claim)
		}
	}
	held := make(map[*idempotency.Deferred]bool)
	reads, err := s.lockForConfirm(sys, tx, reqs, group, idempotency.Held(claims, held))
	if err != nil {
		return nil, err
	}
	group = slices.DeleteFunc(group, func(i int) bool {
		if held[reqs[i].claim] {
			out[i].Value.claimFirst = true
			return true
		}
		return false
	})
	if err := s.readToConfirmAgain(sys, tx, group, reads); err != nil {
		return nil, err
	}
	s.decideAll(reqs, group, reads, out)
	var preps []*cashier.Prepared
	var withCoupon []string
	var toClaim []*idempotency.Deferred
	for _, i := range group {
		if prep := out[i].Value.prep; prep != nil {
			preps = append(preps, prep)
			if reads[i].sess.CouponID != nil {
				withCoupon = append(withCoupon, reads[i].sess.ID)
			}
			if reqs[i].claim != nil {
				toClaim = append(toClaim, reqs[i].claim)
			}
			if u := out[i].Value.use; u != nil {
				if err := markOneTimeToken(sys, tx, u.token, u.key); err != nil {
					return out, err
				}
			}
		}
	}
	if len(preps) == 0 {
		return out, nil
	}
	claimed, err := idempotency.ClaimIn(sys, tx, toClaim)
	if err != nil {
		return out, err
	}
	// The claims are the requests' once the transaction commits.
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				claimed()
			}
			return err
		})
	})
	return out, s.payments.Begin(sys, tx, preps, withCoupon, deferWrites)
}

// readToConfirmAgain reads whole, in tx and locked (FOR UPDATE on MySQL),
// the latest payments of the group's sessions that await a payment method
// (the buyer tries again after a decline: that payment is confirmed again),
// in place of their states in reads.
func (s *Service) readToConfirmAgain(ctx context.Context, tx *ent.Tx, group []int, reads map[int]sessionRead) error {
	var ids []string
	for _, i := range group {
		if l := reads[i].latest; l != nil && l.Status == paymentstatus.RequiresPaymentMethod {
			ids = append(ids, l.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	q := tx.Payment.Query().Where(payment.IDIn(ids...)).Order(payment.ByID())
	if s.dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	ps, err := q.All(ctx)
	if err != nil {
		return fmt.Errorf("payments to confirm again: %w", err)
	}
	byID := make(map[string]*ent.Payment, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	for _, i := range group {
		if r := reads[i]; r.latest != nil && byID[r.latest.ID] != nil {
			r.latest = byID[r.latest.ID]
			reads[i] = r
		}
	}
	return nil
}

// lockForConfirm reads, in tx and one round trip, the sessions of the
// group's requests locked, their payments by state, and the vault records
// of their cards, and returns each request's read (by index in reqs).
func (s *Service) lockForConfirm(ctx context.Context, tx *ent.Tx, reqs []*confirmReq, group []int, more ...store.Read) (map[int]sessionRead, error) {
	ids := make([]string, len(group))
	var tokens []string
	for j, i := range group {
		ids[j] = reqs[i].sessionID
		if t := reqs[i].token; t != "" {
			tokens = append(tokens, string(t))
		}
	}
	byID, cards, err := s.readForConfirm(ctx, tx.Client(), ids, tokens, true, more...)
	if err != nil {
		return nil, err
	}
	out := make(map[int]sessionRead, len(group))
	for _, i := range group {
		var r sessionRead
		if found := byID[reqs[i].sessionID]; found != nil {
			r = *found
		}
		if t := reqs[i].token; t != "" {
			rec := cards[t]
			r.card = &rec
		}
		out[i] = r
	}
	return out, nil
}

// decideAll decides the group's confirms (decideConfirm) into out,
// concurrently when there are several: risk may read its counters. A
// confirm whose decision panics is answered with an internal error, alone.
func (s *Service) decideAll(reqs []*confirmReq, group []int, reads map[int]sessionRead, out []batch.Result[confirmed]) {
	decide := func(i int) {
		defer func() {
			if p := recover(); p != nil {
				out[i] = batch.Result[confirmed]{Err: fmt.Errorf("confirm %s: panic: %v", reqs[i].sessionID, p)}
			}
		}()
		out[i].Value, out[i].Value.refused = s.decideConfirm(reqs[i], reads[i])
	}
	if len(group) == 1 {
		decide(group[0])
		return
	}
	var wg sync.WaitGroup
	for _, i := range group {
		wg.Go(func() { decide(i) })
	}
	wg.Wait()
}

// decideConfirm checks a confirm against its session, read locked (the
// session the caller's, open and not expired, the method allowed, the card
// the session merchant's and not expired, no payment in flight) and
// prepares its payment: the session's new one, or the one that awaits a
// payment method after a decline (read whole and locked:
// readToConfirmAgain); risk and routing (cashier.Prepare). It returns the
// confirm's refusal, or what is left to do (confirmed).
func (s *Service) decideConfirm(req *confirmReq, r sessionRead) (confirmed, error) {
	ctx := req.ctx
	if r.sess == nil || r.sess.MerchantID != req.merchantID {
		return confirmed{}, notFound(req.sessionID)
	}
	if r.sess.Status == sessionstatus.Open && !s.now().Before(r.sess.ExpiresAt) {
		return confirmed{expired: r.sess}, nil
	}
	if err := checkOpen(r.sess); err != nil {
		return confirmed{}, err
	}
	if err := refusal(r.sess, req.in.Method, buyerCountry(r.sess, req.in)); err != nil {
		return confirmed{}, err
	}
	// The session is checked before the card: a refused confirm leaves a
	// one-time token unused. A payment in flight refuses the confirm
	// (ECONFLICT): perhaps a retry of the confirm that made it, which
	// Confirm answers with that payment (retryOf).
	p, _, err := s.sessionPayment(r.sess, r.latest)
	if err != nil {
		return confirmed{}, err
	}
	// The token is marked used in the step's transaction (applyConfirms).
	pm, err := s.paymentMethod(ctx, r.sess, req.in, r.card, tokenUse{key: req.in.IdempotencyKey}, req.held)
	if err != nil {
		return confirmed{}, err
	}
	var use *oneTimeUse
	if req.token != "" && !req.token.IsSaved() && r.card != nil && r.card.UsedBy == "" {
		use = &oneTimeUse{sess: r.sess, token: req.token, key: useMark(req.in.IdempotencyKey)}
	}
	prep, err := s.payments.Prepare(viewer.SystemContext(ctx), p, pm, req.in.IdempotencyKey)
	if err != nil {
		return confirmed{}, err
	}
	return confirmed{prep: prep, use: use}, nil
}

// oneTimeUse is a one-time token a decided confirm uses, to mark used with
// its payment.
type oneTimeUse struct {
	sess  *ent.CheckoutSession
	token vault.Token
	key   string
}
