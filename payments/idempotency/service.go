package idempotency

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/idempotencyrecord"
	"github.com/straitpay/strait/ent/predicate"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// Polling bounds for a duplicate waiting on another replica's request; on the
// same replica, Complete and Release wake it at once.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 250 * time.Millisecond
)

// Begin claims key within scope (a merchant ID, or PlatformScope) for one
// execution of operation, whose fingerprint is requestHash.
//
//   - A new key: the caller runs the request (Outcome.Token).
//   - A completed record of the same request: its stored answer (Outcome.Replay).
//   - A record in flight: Begin waits, up to the configured bound, for it to
//     complete (replay) or be released (the caller runs); a lock whose lease
//     ran out is taken over (the caller runs again).
//
// The new keys of concurrent Begins are inserted together, by one statement
// (claimBatch); a key the batch cannot insert is claimed alone, so batching
// changes none of the outcomes above.
//
// Returns EINVALID (field "idempotencyKey") for a malformed key; ECONFLICT if
// the key was used for another operation or another request, or if the
// request in flight did not finish within the wait; ctx's error if ctx ends
// while claiming or waiting (a claim made meanwhile is released); EUNAVAILABLE
// after Close.
func (s *Service) Begin(ctx context.Context, scope, key, operation, requestHash string) (Outcome, error) {
	if err := ValidateKey(key); err != nil {
		return Outcome{}, err
	}
	if scope == "" || operation == "" || requestHash == "" {
		return Outcome{}, fmt.Errorf("idempotency: begin %q: scope, operation and request hash are required", key)
	}
	sys := viewer.SystemContext(ctx)
	wakeKey := scope + "\x00" + key
	deadline := time.NewTimer(s.wait)
	defer deadline.Stop()
	poll := pollMin
	// The first look joins the batch of concurrent claims; looks after a
	// wait claim alone.
	look := s.claim
	for {
		// Subscribe before looking, so a completion between the look and the
		// wait still wakes this waiter.
		woken, unsubscribe := s.wakeups.subscribe(wakeKey)
		out, done, err := look(sys, scope, key, operation, requestHash)
		look = s.try
		if done || err != nil {
			unsubscribe()
			out.Token.wakeKey = wakeKey
			return out, err
		}
		select {
		case <-woken:
		case <-time.After(poll):
			poll = min(2*poll, pollMax)
		case <-deadline.C:
			unsubscribe()
			return Outcome{}, payments.Errorf(payments.ECONFLICT,
				"a request with idempotency key %q is in progress; retry later with the same key", key)
		case <-ctx.Done():
			unsubscribe()
			return Outcome{}, fmt.Errorf("idempotency: waiting for %q: %w", key, ctx.Err())
		}
		unsubscribe()
	}
}

// try makes one attempt at claiming the key. done is false when another
// execution holds it.
func (s *Service) try(ctx context.Context, scope, key, operation, requestHash string) (out Outcome, done bool, err error) {
	now := s.now()
	rec, err := s.client.IdempotencyRecord.Create().
		SetMerchantID(scope).SetKey(key).SetOperation(operation).SetRequestHash(requestHash).
		SetLockedUntil(now.Add(s.lease)).SetCreatedAt(now).SetUpdatedAt(now).
		Save(ctx)
	if err == nil {
		return Outcome{Token: Token{id: rec.ID, attempt: rec.Attempts}}, true, nil
	}
	if !ent.IsConstraintError(err) {
		return Outcome{}, false, fmt.Errorf("idempotency: claim %q: %w", key, err)
	}
	rec, err = s.client.IdempotencyRecord.Query().
		Where(idempotencyrecord.MerchantID(scope), idempotencyrecord.Key(key)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return Outcome{}, false, nil // released or swept since the insert failed: claim again
	}
	if err != nil {
		return Outcome{}, false, fmt.Errorf("idempotency: load %q: %w", key, err)
	}
	switch {
	case rec.Operation != operation:
		return Outcome{}, false, payments.Errorf(payments.ECONFLICT,
			"idempotency key %q was already used for %s; use a new key for a new request", key, rec.Operation)
	case rec.RequestHash != requestHash:
		return Outcome{}, false, payments.Errorf(payments.ECONFLICT,
			"idempotency key %q was already used with a different request; use a new key for a new request", key)
	case rec.State == idempotencyrecord.StateCOMPLETED && len(rec.Response) == 0:
		// An empty replay would read as a claim and run the request again.
		return Outcome{}, false, fmt.Errorf("idempotency: record %s is completed without a response", rec.ID)
	case rec.State == idempotencyrecord.StateCOMPLETED:
		return Outcome{Replay: rec.Response}, true, nil
	case rec.LockedUntil.After(now):
		return Outcome{}, false, nil
	}
	// The holder's lease ran out: it died or hung. Take the record over,
	// unless another retry just did.
	n, err := s.client.IdempotencyRecord.Update().
		Where(idempotencyrecord.ID(rec.ID), idempotencyrecord.StateEQ(idempotencyrecord.StateIN_PROGRESS),
			idempotencyrecord.Attempts(rec.Attempts)).
		SetLockedUntil(now.Add(s.lease)).SetAttempts(rec.Attempts + 1).SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		return Outcome{}, false, fmt.Errorf("idempotency: take over %q: %w", key, err)
	}
	if n == 0 {
		return Outcome{}, false, nil
	}
	return Outcome{Token: Token{id: rec.ID, attempt: rec.Attempts + 1}}, true, nil
}

// Complete stores response as the answer to the request claimed by t and
// wakes the duplicates waiting for it. Concurrent calls are stored together,
// by one statement. Returns ECONFLICT if the claim was lost (its lease ran
// out and a retry took the record over, or the key was released): the
// retry's answer will be stored instead. A response above MaxResponseBytes is
// not stored: the key is released and EINVALID returned. If ctx ends before
// the answer is written, Complete returns ctx's error and stores nothing; if
// it ends while the answer is being written, Complete returns ctx's error and
// the answer may or may not be stored. Returns EUNAVAILABLE after Close.
func (s *Service) Complete(ctx context.Context, t Token, response []byte) error {
	if len(response) > MaxResponseBytes {
		if err := s.Release(ctx, t); err != nil {
			return err
		}
		return payments.Errorf(payments.EINVALID, "response of %d bytes is too large to store", len(response))
	}
	a := &answer{ctx: ctx, token: t, response: response, done: make(chan error, 1)}
	if !s.answers.add(a) {
		return errClosed()
	}
	select {
	case err := <-a.done:
		return err
	case <-ctx.Done():
		switch {
		case a.abandon():
			return fmt.Errorf("idempotency: complete %s: %w", t.id, ctx.Err())
		case a.leave():
			return fmt.Errorf("idempotency: complete %s: the answer may or may not be stored: %w", t.id, ctx.Err())
		}
		return <-a.done // already delivered
	}
}

// Release forgets the key claimed by t, so that the next request with it runs
// again, and wakes the duplicates waiting for it (one of them runs). It does
// nothing if the claim was lost.
func (s *Service) Release(ctx context.Context, t Token) error {
	defer s.wakeups.wake(t.wakeKey)
	_, err := s.client.IdempotencyRecord.Delete().
		Where(idempotencyrecord.ID(t.id), idempotencyrecord.StateEQ(idempotencyrecord.StateIN_PROGRESS),
			idempotencyrecord.Attempts(t.attempt)).
		Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("idempotency: release %s: %w", t.id, err)
	}
	return nil
}

// sweepBatch bounds the rows one DELETE removes, so the janitor never holds
// locks on a large range of the table.
const sweepBatch = 500

// Sweep deletes the records created more than olderThan ago, except those
// still held by a live request, and returns how many it deleted. A key is
// usable again, for any request, once its record is gone.
func (s *Service) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := s.now()
	preds := func() []predicate.IdempotencyRecord {
		return []predicate.IdempotencyRecord{
			idempotencyrecord.CreatedAtLT(now.Add(-olderThan)),
			idempotencyrecord.Or(
				idempotencyrecord.StateEQ(idempotencyrecord.StateCOMPLETED),
				idempotencyrecord.LockedUntilLT(now),
			),
		}
	}
	total := 0
	for {
		ids, err := s.client.IdempotencyRecord.Query().Where(preds()...).Limit(sweepBatch).IDs(sys)
		if err != nil {
			return total, fmt.Errorf("idempotency: sweep: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := s.client.IdempotencyRecord.Delete().
			Where(append(preds(), idempotencyrecord.IDIn(ids...))...).Exec(sys)
		if err != nil {
			return total, fmt.Errorf("idempotency: sweep: %w", err)
		}
		total += n
		if len(ids) < sweepBatch {
			return total, nil
		}
	}
}
