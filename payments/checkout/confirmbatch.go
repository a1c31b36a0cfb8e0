package checkout

import (
	"context"
	"fmt"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/sessionstatus"
	"slices"
	"sync"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/routing"
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

// confirmed is what the confirm step made of a confirm that it did not
// refuse.
type confirmed struct {
	// prep is the session's new payment, written with its first attempt.
	prep *cashier.Prepared
	// usual: the step leaves this confirm to the usual path (Confirm): a
	// second confirm of a key in the batch, a key with a record already, a
	// retry after a decline, a session paying with a key (perhaps a retry
	// of the confirm that made its payment).
	usual bool
	// expired is the session, open but past its expiry: it is marked
	// expired outside the step and the confirm refused.
	expired *ent.CheckoutSession
	// use is the one-time token prep pays with, marked used with the
	// payment (nil: none, or one this confirm's key marked already).
	use *oneTimeUse
}

// confirmTogether confirms a cashier's session through the confirm step,
// with concurrent confirms of other sessions (applyConfirms). handled is
// false when the confirm must take the usual path (see confirmed.usual),
// with nothing done for it but the card taken, into held.
func (s *Service) confirmTogether(ctx context.Context, v viewer.Viewer, id string, in ConfirmInput, held *heldCard) (p *ent.Payment, handled bool, err error) {
	if id != "" && id != v.SessionID {
		return nil, true, notFound(id)
	}
	req := &confirmReq{ctx: ctx, merchantID: v.MerchantID, sessionID: v.SessionID, in: in, held: held}
	if !in.Claim.Settled() {
		req.claim = in.Claim
	}
	if in.Method == routing.Card && s.vault != nil {
		if t, err := vault.ParseToken(in.CardToken); err == nil {
			req.token = t // a malformed token is refused by cardForSession
		}
	}
	c, err := s.confirms.Do(ctx, req)
	switch {
	case store.OutcomeUnknown(err):
		// The payment may be written, its key claimed: writing it again
		// would be refused as a second payment of the session. The confirm
		// is answered as unknown; its retry finds the payment (retryOf) or,
		// if nothing was written, makes it.
		return nil, true, err
	case err != nil && ctx.Err() != nil:
		return nil, true, err
	case err != nil:
		// Its transaction failed, alone: nothing of it was written, claim
		// and token mark included. The usual path claims the key first,
		// then writes the payment on its own, with its exact error, and
		// with the card held.
		return nil, false, nil
	case c.usual:
		return nil, false, nil
	case c.expired != nil:
		sess, err := s.expireIfDue(ctx, c.expired)
		if err != nil {
			return nil, true, err
		}
		return nil, true, checkOpen(sess)
	}
	p, err = s.payments.ConfirmPrepared(viewer.SystemContext(ctx), c.prep)
	return p, true, err
}

// applyConfirms is the confirm step's Apply: it decides and writes the new
// payments of concurrent cashiers' confirms, of distinct sessions, in one
// transaction and two round trips on MySQL: the sessions locked (FOR
// UPDATE, in id order, so batches never deadlock on each other), their
// payments' states and the cards' vault records read together; then each
// confirm checked and decided (risk, routing: cashier.PrepareNew) while its
// session is locked, concurrently; then the payments and their first
// attempts written with the commit (cashier.BeginPrepared), with the
// one-time card tokens they pay with marked used (markOneTimeToken). It
// answers each confirm with its refusal (the errors Confirm documents) or a
// confirmed.
//
// The idempotency keys of the confirms (idempotency.Deferred) are claimed
// in the same transaction: the first round trip also reads which of them
// have records already (a retry, a duplicate in flight, a key reused),
// and those confirms take the usual path, which claims first and so
// replays, waits or refuses; the claims of the decided confirms go with the
// commit. A second confirm of a key in the batch takes the usual path too
// (a second confirm of a session runs after the first: the executor's Key).
// Its error means nothing was written, claims included (the executor then
// runs each confirm alone, and a lone confirm that fails takes the usual
// path: confirmTogether).
func (s *Service) applyConfirms(ctx context.Context, tx *ent.Tx, reqs []*confirmReq, deferWrites bool) ([]batch.Result[confirmed], error) {
	sys := viewer.SystemContext(ctx)
	out := make([]batch.Result[confirmed], len(reqs))
	seen := make(map[string]bool, len(reqs))
	var group []int
	var claims []*idempotency.Deferred
	for i, r := range reqs {
		if r.claim != nil && seen[r.claim.Key()] {
			out[i].Value.usual = true
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
	// A key with a record already is the usual path's to replay, wait for
	// or refuse (idempotency.Deferred.Claim).
	group = slices.DeleteFunc(group, func(i int) bool {
		if held[reqs[i].claim] {
			out[i].Value.usual = true
			return true
		}
		return false
	})
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
	return out, s.payments.BeginPrepared(sys, tx, preps, withCoupon, deferWrites)
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
		out[i].Value, out[i].Err = s.decideConfirm(reqs[i], reads[i])
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

// decideConfirm checks a confirm against its session, read locked, as
// Confirm would (the session the caller's, open and not expired, the
// method allowed, the card the session merchant's and not expired, no
// payment in flight) and prepares its new payment: risk and routing. It
// returns the confirm's refusal, or what is left to do (confirmed).
func (s *Service) decideConfirm(req *confirmReq, r sessionRead) (confirmed, error) {
	ctx := req.ctx
	if r.sess == nil || r.sess.MerchantID != req.merchantID {
		return confirmed{}, notFound(req.sessionID)
	}
	if req.in.IdempotencyKey != "" && inFlight(r.sess.ID, r.latest) != nil {
		// Perhaps a retry of the confirm that made that payment: the
		// usual path answers it with its payment (retryOf).
		return confirmed{usual: true}, nil
	}
	if r.sess.Status == sessionstatus.Open && !s.now().Before(r.sess.ExpiresAt) {
		return confirmed{expired: r.sess}, nil
	}
	if err := checkOpen(r.sess); err != nil {
		return confirmed{}, err
	}
	if r.latest != nil && r.latest.Status == paymentstatus.RequiresPaymentMethod {
		// A retry after a decline confirms that payment again: the usual
		// path reads it whole.
		return confirmed{usual: true}, nil
	}
	if err := refusal(r.sess, req.in.Method, buyerCountry(r.sess, req.in)); err != nil {
		return confirmed{}, err
	}
	// The session is checked before the card: a refused confirm leaves a
	// one-time token unused.
	p, _, err := s.sessionPayment(r.sess, r.latest)
	if err != nil {
		return confirmed{}, err
	}
	// The token is marked used in the batch's transaction (confirmMany),
	// or on its own if the payment is written alone (confirmTogether).
	pm, err := s.paymentMethod(ctx, r.sess, req.in, r.card, tokenUse{key: req.in.IdempotencyKey}, req.held)
	if err != nil {
		return confirmed{}, err
	}
	var use *oneTimeUse
	if req.token != "" && !req.token.IsSaved() && r.card != nil && r.card.UsedBy == "" {
		use = &oneTimeUse{sess: r.sess, token: req.token, key: useMark(req.in.IdempotencyKey)}
	}
	prep, err := s.payments.PrepareNew(viewer.SystemContext(ctx), cashier.NewPayment{Payment: p}, pm, req.in.IdempotencyKey)
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
