package fx

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/store"
)

// EventConversionCompleted is the outbox event of a merchant's balance
// conversion, written in the transaction that posts it: once per
// conversion (a replayed idempotency key posts nothing and writes none).
// Its object is the journal entry; balanceUpdated follows it.
const EventConversionCompleted = "fx.conversion_completed"

// postAttempts bounds the tries of a conversion's transaction that met a
// transient conflict (a deadlock, or a concurrent request with the same
// key winning the insert: the next try finds it and replays).
const postAttempts = 5

// post posts a conversion's entry e and its event in one transaction.
func (s *Service) post(ctx context.Context, e ledger.Entry, q Quote, from, to money.Amount) (ledger.Posted, error) {
	if err := s.ledger.Prepare(ctx, e); err != nil {
		return ledger.Posted{}, err
	}
	var err error
	for attempt := 1; attempt <= postAttempts; attempt++ {
		var posted ledger.Posted
		posted, err = store.WithTx(ctx, s.client, func(tx *ent.Tx) (ledger.Posted, error) {
			posted, err := s.ledger.PostTx(ctx, tx, e)
			if err != nil || posted.Replayed {
				return posted, err
			}
			err = tx.Event.Create().SetMerchantID(q.MerchantID).SetType(EventConversionCompleted).SetObjectID(posted.EntryID).
				SetData(map[string]any{
					"entry_id": posted.EntryID, "quote_id": q.ID, "rate": q.Rate.String(),
					"amount": from.Minor, "currency": from.Currency.Code(),
					"converted_amount": to.Minor, "converted_currency": to.Currency.Code(),
				}).SetCreatedAt(s.now()).Exec(ctx)
			if err != nil {
				return ledger.Posted{}, fmt.Errorf("fx: outbox: %w", err)
			}
			return posted, nil
		})
		if err == nil || !store.IsConflict(err) {
			return posted, err
		}
		time.Sleep(store.ConflictWait(attempt))
	}
	return ledger.Posted{}, err
}
