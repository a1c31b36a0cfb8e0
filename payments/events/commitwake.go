package events

import (
	"context"

	"github.com/straitpay/strait/ent"
)

// WakeOnCommit has wake called once a transaction that wrote an event has
// committed (at once for an event written outside a transaction), so that
// the relay publishes it now instead of at its next poll. Every writer of
// events goes through ent, so no writer can forget it (store.Writes runs
// the hook for the events it defers to the commit). It installs a hook
// on client's events: call it before the client is shared. wake must not
// block (a Waker's Wake, a buffered publish).
func WakeOnCommit(client *ent.Client, wake func()) {
	client.Event.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			if err != nil || !m.Op().Is(ent.OpCreate) {
				return v, err
			}
			em, ok := m.(*ent.EventMutation)
			if !ok {
				return v, err
			}
			tx, terr := em.Tx()
			if terr != nil {
				// A deferred write (store.Writes) carries its transaction
				// in ctx; without one the event is committed already.
				if tx = ent.TxFromContext(ctx); tx == nil {
					wake()
					return v, err
				}
			}
			tx.OnCommit(func(commit ent.Committer) ent.Committer {
				return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
					err := commit.Commit(ctx, tx)
					if err == nil {
						wake()
					}
					return err
				})
			})
			return v, err
		})
	})
}
