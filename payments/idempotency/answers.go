package idempotency

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/idempotencyrecord"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
)

// An answer is a Complete waiting for the next batch of answers. The batch
// stores all its answers with one UPDATE … CASE: one statement and one
// commit for the batch.
type answer struct {
	slot
	ctx      context.Context
	token    Token
	response []byte
	done     chan error // buffered: the batch never waits for its caller
}

// answerBatch stores a batch of answers and wakes the duplicates waiting for
// them. Answers to the same record (a token and the retry that took its
// record over, or one token completed twice) go in successive statements,
// so that each row of a statement belongs to one answer. Claims queued
// meanwhile join the batch (writeTogether).
func (s *Service) answerBatch(batch []*answer) {
	if claims := s.claims.steal(); len(claims) > 0 {
		s.writeTogether(claims, batch)
		return
	}
	ctx, cancel := s.batchContext()
	defer cancel()
	s.storeRounds(ctx, takeAnswers(batch))
}

// takeAnswers takes the answers of a batch whose callers still wait; an
// answer whose caller left before is answered with its context's error, or
// dropped.
func takeAnswers(batch []*answer) []*answer {
	live := make([]*answer, 0, len(batch))
	for _, a := range batch {
		if err := a.ctx.Err(); err != nil {
			if a.abandon() {
				a.done <- fmt.Errorf("idempotency: complete %s: %w", a.token.id, err)
			}
			continue
		}
		if a.take() {
			live = append(live, a)
		}
	}
	return live
}

// storeRounds stores live answers, one round of distinct records at a time.
func (s *Service) storeRounds(ctx context.Context, live []*answer) {
	for len(live) > 0 {
		var round []*answer
		round, live = distinctRecords(live)
		errs, err := s.storeAnswers(ctx, round)
		s.deliverAnswers(round, errs, err)
	}
}

// deliverAnswers wakes the duplicates of a stored round and answers its
// callers: errs per answer, or err for all.
func (s *Service) deliverAnswers(round []*answer, errs []error, err error) {
	for i, a := range round {
		s.wakeups.wake(a.token.wakeKey)
		if !a.deliver() {
			continue // its caller left: it returned ctx's error
		}
		if err != nil {
			a.done <- fmt.Errorf("idempotency: complete %s: %w", a.token.id, err)
			continue
		}
		a.done <- errs[i]
	}
}

// writeTogether inserts claims and stores answers in one transaction: one
// commit for both, and on MySQL one round trip for both statements (the
// INSERT waits for the UPDATE, whose row count the answers need) and one
// for the commit. If the transaction fails, for any reason, nothing of it
// was written, and each side runs as its own batch would have: the claims
// claim alone, the answers are stored by themselves. A second answer to a
// record answered in the batch is stored after it, by itself.
func (s *Service) writeTogether(claims []*claim, answers []*answer) {
	insert, alone := takeClaims(claims)
	live := takeAnswers(answers)
	ctx, cancel := s.batchContext()
	defer cancel()
	defer deliverAlone(alone)
	round, rest := distinctRecords(live)
	if len(insert) == 0 || len(round) == 0 {
		if len(insert) > 0 {
			recs, err := withRetry(ctx, func() ([]*ent.IdempotencyRecord, error) {
				return s.insertClaims(ctx, s.client, keysOf(insert))
			})
			s.deliverClaims(ctx, insert, recs, err)
		}
		s.storeRounds(ctx, live)
		return
	}
	stamp := s.stamp()
	var recs []*ent.IdempotencyRecord
	errs, err := store.WithTx(ctx, s.client, func(tx *ent.Tx) ([]error, error) {
		w := store.NewWrites(tx, s.dialect, true)
		var err error
		if recs, err = s.insertClaims(ctx, w.Client(), keysOf(insert)); err != nil {
			return nil, err
		}
		if err := w.Flush(ctx); err != nil {
			return nil, err
		}
		return s.storeAnswersOn(ctx, tx.Client(), round, stamp)
	})
	if err != nil {
		s.deliverClaims(ctx, insert, nil, err)
		errs, err = s.storeAnswers(ctx, round)
	} else {
		s.deliverClaims(ctx, insert, recs, nil)
	}
	s.deliverAnswers(round, errs, err)
	s.storeRounds(ctx, rest)
}

// distinctRecords splits answers into the first answer to each record, in
// order, and the rest.
func distinctRecords(answers []*answer) (round, rest []*answer) {
	seen := make(map[string]bool, len(answers))
	for _, a := range answers {
		if seen[a.token.id] {
			rest = append(rest, a)
			continue
		}
		seen[a.token.id] = true
		round = append(round, a)
	}
	return round, rest
}

// storeAnswers stores a round of answers to distinct records and returns,
// per answer, nil or ECONFLICT for a claim that was lost. The error return
// applies to the whole round.
//
// The UPDATE runs outside a transaction when the client's driver can run a
// hand-written statement (Strait's store drivers can), and in one otherwise
// (ent's Client.ExecContext refuses, as test wrappers of dialect.Driver do).
func (s *Service) storeAnswers(ctx context.Context, round []*answer) ([]error, error) {
	stamp := s.stamp()
	if !s.answersInTx.Load() {
		errs, err := withRetry(ctx, func() ([]error, error) { return s.storeAnswersOn(ctx, s.client, round, stamp) })
		if !isExecUnsupported(err) {
			return errs, err
		}
		s.answersInTx.Store(true)
	}
	return withRetry(ctx, func() ([]error, error) {
		return store.WithTx(ctx, s.client, func(tx *ent.Tx) ([]error, error) {
			return s.storeAnswersOn(ctx, tx.Client(), round, stamp)
		})
	})
}

// storeAnswersOn runs the round's UPDATE on client. Each row keeps Complete's
// guard: it is written only while IN_PROGRESS with the token's attempt. The
// rows of a round are distinct, so when the UPDATE reports as many rows as
// answers every answer was stored. Otherwise the rows are read back: an
// answer was stored exactly when its row is COMPLETED, with its attempt, at
// the round's stamp, which no other write of this Service shares and which
// no other process writes for this attempt (a token is held by one process).
// Running the round again after a failure therefore reads the same.
func (s *Service) storeAnswersOn(ctx context.Context, client *ent.Client, round []*answer, stamp time.Time) ([]error, error) {
	query, args := answersStatement(round, stamp)
	res, err := client.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, fmt.Errorf("rows affected: %w", err)
	}
	errs := make([]error, len(round))
	if n == int64(len(round)) {
		return errs, nil
	}
	ids := make([]string, len(round))
	for i, a := range round {
		ids[i] = a.token.id
	}
	rows, err := client.IdempotencyRecord.Query().Where(idempotencyrecord.IDIn(ids...)).
		Select(idempotencyrecord.FieldID, idempotencyrecord.FieldState, idempotencyrecord.FieldAttempts, idempotencyrecord.FieldUpdatedAt).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	byID := make(map[string]*ent.IdempotencyRecord, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	for i, a := range round {
		r, ok := byID[a.token.id]
		if !ok || r.State != idempotencyrecord.StateCOMPLETED || r.Attempts != a.token.attempt || !r.UpdatedAt.Equal(stamp) {
			errs[i] = errLost(a.token)
		}
	}
	return errs, nil
}

// answersStatement is the round's UPDATE:
//
//	UPDATE idempotency_records SET state = 'COMPLETED', updated_at = ?,
//	  response = CASE id WHEN ? THEN ? … END
//	WHERE state = 'IN_PROGRESS' AND id IN (…) AND ((id = ? AND attempts = ?) OR …)
//
// ent's builders set one value on every row they update; this one gives
// each row its own.
func answersStatement(round []*answer, stamp time.Time) (string, []any) {
	const (
		table    = idempotencyrecord.Table
		id       = idempotencyrecord.FieldID
		state    = idempotencyrecord.FieldState
		attempts = idempotencyrecord.FieldAttempts
	)
	args := make([]any, 0, 3+5*len(round))
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET %s = ?, %s = ?, %s = CASE %s", table, state, idempotencyrecord.FieldUpdatedAt, idempotencyrecord.FieldResponse, id)
	args = append(args, idempotencyrecord.StateCOMPLETED.String(), stamp)
	for _, a := range round {
		b.WriteString(" WHEN ? THEN ?")
		args = append(args, a.token.id, a.response)
	}
	fmt.Fprintf(&b, " END WHERE %s = ? AND %s IN (", state, id)
	args = append(args, idempotencyrecord.StateIN_PROGRESS.String())
	for i, a := range round {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, a.token.id)
	}
	b.WriteString(") AND (")
	for i, a := range round {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "(%s = ? AND %s = ?)", id, attempts)
		args = append(args, a.token.id, a.token.attempt)
	}
	b.WriteString(")")
	return b.String(), args
}

// stamp returns the updated_at of the next round of answers: the clock's
// time, moved on a microsecond past the previous round's when the clock has
// not advanced (or went back), so that no two rounds share a stamp. Both
// batchers store answers (writeTogether), so it locks.
func (s *Service) stamp() time.Time {
	s.stampMu.Lock()
	defer s.stampMu.Unlock()
	t := s.now()
	if !t.After(s.lastStamp) {
		t = s.lastStamp.Add(time.Microsecond)
	}
	s.lastStamp = t
	return t
}

// isExecUnsupported reports ent's refusal of Client.ExecContext on a driver
// without it; ent says so only in words.
func isExecUnsupported(err error) bool {
	return err != nil && strings.HasSuffix(err.Error(), "ExecContext is not supported")
}

func errLost(t Token) error {
	return payments.Errorf(payments.ECONFLICT, "idempotency record %s was taken over by a retry", t.id)
}

func errClosed() error {
	return payments.Errorf(payments.EUNAVAILABLE, "the idempotency store is closed")
}
