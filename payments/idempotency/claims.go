package idempotency

import (
	"context"
	"fmt"

	"github.com/straitpay/strait/ent"
)

// A claim is a Begin's first attempt at its key, queued for the next batch
// of claims. The batch inserts the records of all its new keys with one
// multi-row INSERT: one statement and one commit for the batch.
type claim struct {
	slot
	ctx context.Context
	claimKey
	done chan claimResult // buffered: the batch never waits for its caller
}

// claimResult is what the batch decided for one claim: the key's new record
// (token); or alone, when the caller must claim the key by itself (try); or
// the caller's ctx error, when the batch found ctx ended.
type claimResult struct {
	token Token
	alone bool
	err   error
}

// claim is Begin's first attempt at the key: it joins the next batch of
// claims and, when the batch leaves the key to it, claims alone (try). It
// answers as try does. If ctx ends before the batch runs, it returns ctx's
// error and nothing is written; if ctx ends while the batch runs, it returns
// ctx's error too, and the batch releases the claim it makes. After Close it
// returns EUNAVAILABLE.
func (s *Service) claim(ctx context.Context, scope, key, operation, requestHash string) (Outcome, bool, error) {
	c := &claim{ctx: ctx, claimKey: claimKey{scope: scope, key: key, operation: operation, requestHash: requestHash}, done: make(chan claimResult, 1)}
	if !s.claims.add(c) {
		return Outcome{}, false, errClosed()
	}
	var r claimResult
	select {
	case r = <-c.done:
	case <-ctx.Done():
		if c.abandon() || c.leave() {
			return Outcome{}, false, fmt.Errorf("idempotency: claim %q: %w", key, ctx.Err())
		}
		r = <-c.done // already delivered
	}
	switch {
	case r.alone:
		return s.try(ctx, scope, key, operation, requestHash)
	case r.err != nil:
		return Outcome{}, false, fmt.Errorf("idempotency: claim %q: %w", key, r.err)
	}
	return Outcome{Token: r.token}, true, nil
}

// claimBatch inserts the records of a batch of claims. A key that appears
// more than once in the batch is inserted for its first claim only; the
// others claim alone after the INSERT, and find the record it made. If the
// INSERT fails after its retries, whatever the reason (a key already stored,
// an invalid row, a lost connection), every claim of the batch claims alone:
// the per-key path then answers each exactly as it did before batching
// (replay, conflict, wait, take-over, or its own error). Answers queued
// meanwhile join the batch (writeTogether).
func (s *Service) claimBatch(batch []*claim) {
	if answers := s.answers.steal(); len(answers) > 0 {
		s.writeTogether(batch, answers)
		return
	}
	insert, alone := takeClaims(batch)
	ctx, cancel := s.batchContext()
	defer cancel()
	defer deliverAlone(alone)
	if len(insert) == 0 {
		return
	}
	recs, err := withRetry(ctx, func() ([]*ent.IdempotencyRecord, error) {
		return s.insertClaims(ctx, s.client, keysOf(insert))
	})
	s.deliverClaims(ctx, insert, recs, err)
}

// takeClaims takes the claims of a batch whose callers still wait: the
// first claim of each key to insert, and the later ones of a key to claim
// alone. A claim whose caller left is answered with its context's error, or
// dropped.
func takeClaims(batch []*claim) (insert, alone []*claim) {
	seen := make(map[string]bool, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			if c.abandon() {
				c.done <- claimResult{err: err}
			}
			continue
		}
		if !c.take() {
			continue // its caller left: nothing is written for it
		}
		k := c.wakeKey()
		if seen[k] {
			alone = append(alone, c)
			continue
		}
		seen[k] = true
		insert = append(insert, c)
	}
	return insert, alone
}

// deliverAlone tells claims to claim by themselves.
func deliverAlone(alone []*claim) {
	for _, c := range alone {
		if c.deliver() {
			c.done <- claimResult{alone: true}
		}
	}
}

// insertClaims inserts the records of claims, on client, in one statement.
func (s *Service) insertClaims(ctx context.Context, client *ent.Client, claims []claimKey) ([]*ent.IdempotencyRecord, error) {
	now := s.now()
	rows := make([]*ent.IdempotencyRecordCreate, len(claims))
	for i, c := range claims {
		rows[i] = client.IdempotencyRecord.Create().
			SetMerchantID(c.scope).SetKey(c.key).SetOperation(c.operation).SetRequestHash(c.requestHash).
			SetLockedUntil(now.Add(s.lease)).SetCreatedAt(now).SetUpdatedAt(now)
	}
	return client.IdempotencyRecord.CreateBulk(rows...).Save(ctx)
}

// keysOf returns the keys of claims.
func keysOf(claims []*claim) []claimKey {
	keys := make([]claimKey, len(claims))
	for i, c := range claims {
		keys[i] = c.claimKey
	}
	return keys
}

// deliverClaims answers inserted claims with their records; if the insert
// failed (err), each claims alone.
func (s *Service) deliverClaims(ctx context.Context, insert []*claim, recs []*ent.IdempotencyRecord, err error) {
	if err != nil {
		deliverAlone(insert)
		return
	}
	for i, c := range insert {
		t := Token{id: recs[i].ID, attempt: recs[i].Attempts, wakeKey: c.wakeKey()}
		if c.deliver() {
			c.done <- claimResult{token: t}
			continue
		}
		// The caller left while the batch ran: free the key now rather than
		// when the lease runs out. If this fails too, the lease still will.
		_ = s.Release(ctx, t)
	}
}
