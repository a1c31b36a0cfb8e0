package cashier

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/viewer"
)

// The payment core's steps, and the executor (payments/executor) each hands
// its writes to:
//
//   - a new payment's first attempt: beginner, applyBegins (pipeline.go);
//   - a result, from the connector, the janitor or a channel event:
//     recorder, applyRecords, planned by plan (record.go);
//   - an operation on a payment, the merchant's or the janitor's: ops,
//     applyOp, group-committed with other payments' operations, with the operation's reads and plan (below): a stored
//     payment's attempt (planBegin), capture (planCapture), cancel
//     (planCancel), a refund's start (planRefund) and result
//     (planRefundResult), a review's decision (planCloseReview), an
//     agreement's event (planAgreement), and the bookkeeping of operations
//     in flight (planInFlight).
//
// Every plan is a pure function of the rows the step read under the
// payment's lock (or the agreement's) and the event: it adds its writes to a
// recordWrites and changes the rows in memory, writing nothing; Service.write
// applies them. plan_test.go calls the plans with rows built in memory.

// op reads an operation's rows in tx (locking the payment first, as every
// transaction that changes a payment does) and decides its writes into w by
// the operation's plan. Its error refuses the operation: nothing is written.
type op func(ctx context.Context, tx *ent.Tx, w *recordWrites) error

// opReq is one operation for the ops executor.
type opReq struct {
	ctx context.Context // the caller's, without its cancel: its viewer is the audit log's actor
	// key is the row the operation locks first (its payment, or its
	// agreement): operations of one key never share a transaction, as each
	// decides from what the one before it wrote.
	key string
	op  op
}

// maxOpBatch bounds the operations one transaction runs (the payments it
// holds locked).
const maxOpBatch = 32

// apply runs an operation's reads, plan and writes in a transaction of the
// ops executor (group commit with other payments' operations, deadlock
// retries, deferred writes, the batch deadline, the fallback to running
// alone). key is the row the operation locks first; what names the
// operation in its error. A caller who hangs up does not abort it: what the
// channel did is recorded.
func (s *Service) apply(ctx context.Context, what, key string, o op) error {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.ops.Do(ctx, &opReq{ctx: ctx, key: key, op: o}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// applyOp is the ops executor's Apply: each operation's reads and plan, in
// the order of their keys (so that two batches lock their payments in one
// order and never deadlock on each other), then their writes together. An
// operation its plan refuses fails the transaction: the executor then runs
// each operation alone, and the refusal answers only its own.
func (s *Service) applyOp(ctx context.Context, tx *ent.Tx, reqs []*opReq, deferWrites bool) ([]batch.Result[struct{}], error) {
	w := newRecordWrites(s.now())
	order := make([]*opReq, len(reqs))
	copy(order, reqs)
	slices.SortStableFunc(order, func(a, b *opReq) int { return strings.Compare(a.key, b.key) })
	for _, r := range order {
		if err := r.op(viewer.SystemContext(r.ctx), tx, w); err != nil {
			return nil, err
		}
	}
	if err := s.write(viewer.SystemContext(ctx), tx, w, deferWrites); err != nil {
		return nil, err
	}
	return make([]batch.Result[struct{}], len(reqs)), nil
}
