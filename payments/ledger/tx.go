package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Prepare makes sure every account the entries post to exists, creating the
// missing ones outside any transaction. Call it before PostTx: account
// creation must not run inside the caller's transaction (on SQLite the single
// writer connection is that transaction's, and on MySQL a first use racing
// another would abort it).
func (l *Ledger) Prepare(ctx context.Context, entries ...Entry) error {
	var keys []AccountKey
	for _, e := range entries {
		keys = append(keys, e.Accounts()...)
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := l.resolve(viewer.SystemContext(ctx), keys)
	return err
}

// PostTx records e exactly once for its source inside the caller's
// transaction tx, so that a payment's state change, its postings and its
// outbox event commit or roll back together. It locks e's accounts with
// SELECT … FOR UPDATE in ascending id order, as Post's batches do, so the two
// paths cannot deadlock on accounts; a caller that locks its own rows first
// (a payment) must always lock them before the accounts.
//
// The results are Post's: a replay of the same source and postings returns
// the first entry with Replayed set; different postings are ECONFLICT, and so
// is an overdraft of an account that may not go negative. On any error the
// caller must roll tx back. The accounts must exist: call Prepare first
// (EINTERNAL otherwise).
func (l *Ledger) PostTx(ctx context.Context, tx *ent.Tx, e Entry) (Posted, error) {
	posted, err := l.PostTxMany(ctx, tx, nil, nil, []Entry{e})
	if err != nil {
		return Posted{}, err
	}
	return posted[0], nil
}

// prepared returns the accounts entries post to, which Prepare made sure
// of, and their ids in ascending order.
func (l *Ledger) prepared(entries []Entry) (map[AccountKey]account, []string, error) {
	accs := map[AccountKey]account{}
	for _, e := range entries {
		for _, k := range e.Accounts() {
			a, ok := l.accounts.Load(k)
			if !ok {
				return nil, nil, fmt.Errorf("ledger: account %s not prepared before PostTx", k)
			}
			accs[k] = a.(account)
		}
	}
	ids := make([]string, 0, len(accs))
	for _, a := range accs {
		ids = append(ids, a.id)
	}
	slices.Sort(ids)
	return accs, ids, nil
}

// Locks are ledger accounts locked ahead of PostTxMany by a read the
// caller joins to its own (store.ReadTogether), so that the transaction
// makes one round trip fewer while it holds the accounts every capture of
// a channel and currency shares. The same read takes the closed-through
// mark (cutoffRead), so that posting makes no round trip of its own.
type Locks struct {
	rows []*ent.LedgerAccount
	// closedThrough is the mark as read with the accounts, under its
	// shared lock: the transaction holds it until it ends, so a close
	// waits for it and the mark cannot move under its entries.
	closedThrough time.Time
}

// LockAhead returns the read that locks, on a transaction's client, the
// accounts entries post to and reads the closed-through mark under its
// shared lock (two queries, one read: store.Join), and the Locks to pass
// to PostTxMany in the same transaction. The accounts must be prepared
// (Prepare). A payment or other row the caller locks must be locked by an
// earlier read: every transaction locks its own rows before the accounts,
// and the accounts before the mark, as every posting path does.
func (l *Ledger) LockAhead(entries ...Entry) (store.Read, *Locks, error) {
	_, ids, err := l.prepared(entries)
	if err != nil {
		return nil, nil, err
	}
	locks := &Locks{}
	lock := func(ctx context.Context, c *ent.Client) (err error) {
		locks.rows, err = l.lockAccounts(viewer.SystemContext(ctx), c, ids)
		return err
	}
	mark := func(ctx context.Context, c *ent.Client) error {
		return l.cutoffRead(&locks.closedThrough)(viewer.SystemContext(ctx), c)
	}
	return store.Join(lock, mark), locks, nil
}

// covering returns the locked rows if they hold every account of ids, and
// nil otherwise (or for nil Locks).
func (k *Locks) covering(ids []string) []*ent.LedgerAccount {
	if k == nil || k.rows == nil {
		return nil
	}
	have := make(map[string]bool, len(k.rows))
	for _, r := range k.rows {
		have[r.ID] = true
	}
	for _, id := range ids {
		if !have[id] {
			return nil
		}
	}
	return k.rows
}

// PostTxMany is PostTx for several entries of distinct sources, posted
// together: their accounts locked in one statement, their entries and
// postings inserted in one statement each, the balances updated in one. It
// returns the first error of any entry, and the caller must then roll tx
// back; a source posted before with the same postings is replayed (Posted
// with Replayed set, nothing written), as PostTx does. The accounts are read
// on tx, unless locked holds them (LockAhead); the writes go through w
// (nil: at once, on tx), so a caller that defers them (store.Writes) must
// Flush before it commits, and then learns of a source posted before only
// as the commit's error.
func (l *Ledger) PostTxMany(ctx context.Context, tx *ent.Tx, w *store.Writes, locked *Locks, entries []Entry) ([]Posted, error) {
	if w == nil {
		w = store.NewWrites(tx, l.dialect, false)
	}
	reqs := make([]*request, len(entries))
	for i, e := range entries {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		e.EffectiveAt = e.EffectiveAt.UTC().Truncate(time.Microsecond)
		reqs[i] = &request{ctx: ctx, entry: e, hash: e.Hash()}
	}
	accs, ids, err := l.prepared(entries)
	if err != nil {
		return nil, err
	}
	results, err := l.commitInTx(viewer.SystemContext(ctx), tx, w, reqs, accs, ids, true, locked)
	if err != nil {
		return nil, err
	}
	out := make([]Posted, len(results))
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		out[i] = r.posted
	}
	return out, nil
}
