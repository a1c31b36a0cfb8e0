package checkout

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/checkoutsession"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/vocab/sessionstatus"
)

// A checkout session's outbox events, each written in the transaction that
// changes the session's row, once per change: checkout_session.created
// with the insert (an idempotent replay inserts nothing and writes none),
// checkout_session.expired with the conditional update that expires it
// (whoever expires it first: a read past its expiry, a confirm, or the
// janitor). checkout_session.completed is the payment core's: it is written
// where the session's payment is authorized (payments/cashier).
const (
	EventSessionCreated = "checkout_session.created"
	EventSessionExpired = "checkout_session.expired"
)

// sessionEventData is what a session's event carries: its ID, state,
// amount and expiry (never the buyer's details).
func sessionEventData(sess *ent.CheckoutSession, status sessionstatus.Status) map[string]any {
	return map[string]any{
		"checkout_session_id": sess.ID, "status": status.Name(), "amount": sess.Amount, "currency": sess.Currency,
		"merchant_reference": sess.MerchantReference, "expires_at": sess.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

func sessionEvent(c *ent.Client, sess *ent.CheckoutSession, typ string, status sessionstatus.Status, now time.Time) *ent.EventCreate {
	return c.Event.Create().SetMerchantID(sess.MerchantID).SetType(typ).SetObjectID(sess.ID).SetCheckoutSessionID(sess.ID).
		SetData(sessionEventData(sess, status)).SetCreatedAt(now)
}

// insertSession saves c and its checkout_session.created event in one
// transaction. A constraint error (an idempotency key another request
// used first) is returned as ent's, for the caller to replay.
func (s *Service) insertSession(ctx context.Context, c func(*ent.Client) *ent.CheckoutSessionCreate) (*ent.CheckoutSession, error) {
	return store.WithTx(ctx, s.client, func(tx *ent.Tx) (*ent.CheckoutSession, error) {
		sess, err := c(tx.Client()).Save(ctx)
		if err != nil {
			return nil, err
		}
		if err := sessionEvent(tx.Client(), sess, EventSessionCreated, sessionstatus.Open, s.now()).Exec(ctx); err != nil {
			return nil, fmt.Errorf("checkout session %s: outbox: %w", sess.ID, err)
		}
		return sess.Unwrap(), nil
	})
}

// expireOne marks sess EXPIRED if it is still in a state that expires, with
// its event, and returns it as it is now.
func (s *Service) expireOne(ctx context.Context, sess *ent.CheckoutSession) (*ent.CheckoutSession, error) {
	sys := viewer.SystemContext(ctx)
	return store.WithTx(sys, s.client, func(tx *ent.Tx) (*ent.CheckoutSession, error) {
		n, err := tx.CheckoutSession.Update().
			Where(checkoutsession.ID(sess.ID), checkoutsession.StatusIn(sessionstatus.From(sessionstatus.Expire)...)).
			SetStatus(sessionstatus.Expired).Save(sys)
		if err != nil {
			return nil, fmt.Errorf("expire checkout session %s: %w", sess.ID, err)
		}
		if n == 1 { // expired here, not by a concurrent request
			if err := sessionEvent(tx.Client(), sess, EventSessionExpired, sessionstatus.Expired, s.now()).Exec(sys); err != nil {
				return nil, fmt.Errorf("expire checkout session %s: outbox: %w", sess.ID, err)
			}
		}
		got, err := tx.CheckoutSession.Get(sys, sess.ID)
		if err != nil {
			return nil, err
		}
		return got.Unwrap(), nil
	})
}

// expireBatch bounds the sessions one janitor transaction expires (and
// holds locked).
const expireBatch = 500

// expireDue expires up to expireBatch open sessions past their expiry in
// one transaction, each with its event, and returns how many. The sessions
// are read locked (MySQL; SQLite has one writer), so two janitors never
// both expire one.
func (s *Service) expireDue(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	return store.WithTx(sys, s.client, func(tx *ent.Tx) (int, error) {
		now := s.now()
		q := tx.CheckoutSession.Query().
			Where(checkoutsession.StatusIn(sessionstatus.From(sessionstatus.Expire)...), checkoutsession.ExpiresAtLTE(now)).
			Order(checkoutsession.ByID()).Limit(expireBatch)
		if s.dialect == dialect.MySQL {
			q = q.ForUpdate()
		}
		due, err := q.All(sys)
		if err != nil || len(due) == 0 {
			return 0, err
		}
		ids := make([]string, len(due))
		evs := make([]*ent.EventCreate, len(due))
		for i, sess := range due {
			ids[i] = sess.ID
			evs[i] = sessionEvent(tx.Client(), sess, EventSessionExpired, sessionstatus.Expired, now)
		}
		n, err := tx.CheckoutSession.Update().
			Where(checkoutsession.IDIn(ids...), checkoutsession.StatusIn(sessionstatus.From(sessionstatus.Expire)...)).
			SetStatus(sessionstatus.Expired).Save(sys)
		if err != nil {
			return 0, err
		}
		if n != len(due) {
			// Read under the locks: nobody else can have moved them.
			return 0, fmt.Errorf("expired %d of %d locked sessions", n, len(due))
		}
		if err := tx.Event.CreateBulk(evs...).Exec(sys); err != nil {
			return 0, fmt.Errorf("outbox: %w", err)
		}
		return n, nil
	})
}
