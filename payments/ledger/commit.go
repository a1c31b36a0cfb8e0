package ledger

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/journalentry"
	"github.com/straitpay/strait/ent/ledgeraccount"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
)

// insertChunk bounds the rows of one multi-row INSERT: 500 postings of 11
// columns stay far below SQLite's 32,766 bound variables and MySQL's packet
// size.
const insertChunk = 500

type existing struct {
	id   string
	hash string
}

// commitBatch posts the batch's entries in one transaction and returns one
// result per request. An error return means the transaction did not commit and
// applies to the whole batch.
func (l *Ledger) commitBatch(ctx context.Context, reqs []*request) ([]result, error) {
	var keys []AccountKey
	for _, r := range reqs {
		keys = append(keys, r.entry.Accounts()...)
	}
	accs, err := l.resolve(ctx, keys)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(accs))
	for _, a := range accs {
		ids = append(ids, a.id)
	}
	slices.Sort(ids)

	tx, err := l.client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	results, err := l.commitInTx(ctx, tx, store.NewWrites(tx, l.dialect, false), reqs, accs, ids, false, nil)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return results, nil
}

// commitInTx posts reqs in tx. With optimistic set (a single entry, from
// PostTx), it does not look for the sources first: it inserts the entry, and
// only if the unique index on the source refuses it does it read the entry
// already there to replay it or report the conflict, writing nothing else.
// The lookup is a statement fewer while the batch holds the accounts' locks,
// which every capture of a channel and currency shares.
//
// Its writes go through w: deferred to the caller's Flush when w defers
// (then a repeated source surfaces as Flush's error, not as a replay).
//
// locked, if it holds every account of ids, are the accounts as the caller
// locked them ahead (Locks); otherwise commitInTx locks them.
func (l *Ledger) commitInTx(ctx context.Context, tx *ent.Tx, w *store.Writes, reqs []*request, accs map[AccountKey]account,
	ids []string, optimistic bool, locked *Locks) ([]result, error) {
	// The accounts' locks, and the closed-through mark (close.go): an entry
	// effective in a closed day takes effect in the next open one.
	rows, closedThrough, err := l.lockForPosting(ctx, tx.Client(), ids, locked)
	if err != nil {
		return nil, err
	}
	balance := make(map[AccountKey]int64, len(rows))
	version := make(map[string]int64, len(rows))
	byID := make(map[string]AccountKey, len(accs))
	for k, a := range accs {
		byID[a.id] = k
	}
	for _, row := range rows {
		balance[byID[row.ID]] = row.Balance
		version[row.ID] = row.Version
	}

	// Read the sources after the locks: an earlier transaction posting the same
	// source touched the same accounts, so it has committed by now and its
	// entry is visible.
	seen := map[Source]existing{}
	if !optimistic {
		if seen, err = l.existingSources(ctx, tx, reqs); err != nil {
			return nil, err
		}
	}

	now := l.now()
	results := make([]result, len(reqs))
	var entries []*ent.JournalEntryCreate
	var postings []*ent.PostingCreate
	touched := map[string]bool{}
	allow := func(k AccountKey) bool { return accs[k].allowNegative }
	for i, r := range reqs {
		if prior, ok := seen[r.entry.Source]; ok {
			if prior.hash != r.hash {
				results[i].err = payments.Errorf(payments.ECONFLICT,
					"source %s was already posted with different postings (entry %s)", r.entry.Source, prior.id)
				continue
			}
			results[i].posted = Posted{EntryID: prior.id, Replayed: true}
			continue
		}
		next, err := Apply(balance, allow, r.entry)
		if err != nil {
			results[i].err = err
			continue
		}
		for k, b := range next {
			balance[k] = b
		}
		effective, asked := openDay(r.entry, closedThrough)
		entryID := pulid.New("jen")
		seen[r.entry.Source] = existing{id: entryID, hash: r.hash}
		results[i].posted = Posted{EntryID: entryID}
		entries = append(entries, w.Client().JournalEntry.Create().
			SetID(entryID).
			SetSourceType(r.entry.Source.Type).
			SetSourceID(r.entry.Source.ID).
			SetDescription(r.entry.Description).
			SetReference(r.entry.Reference).
			SetEffectiveAt(effective.EffectiveAt).
			SetNillableOriginalEffectiveAt(asked).
			SetPostingHash(r.hash).
			SetCreatedAt(now))
		// Postings get running balances in the order given; each bumps its
		// account's version, which becomes the posting's seq.
		running := map[AccountKey]int64{}
		for _, p := range r.entry.Postings {
			a := accs[p.Account]
			if _, ok := running[p.Account]; !ok {
				running[p.Account] = next[p.Account] - r.entry.Net()[p.Account]
			}
			running[p.Account] += p.Amount.Minor
			version[a.id]++
			touched[a.id] = true
			c := w.Client().Posting.Create().
				SetEntryID(entryID).
				SetAccountID(a.id).
				SetAmount(p.Amount.Minor).
				SetCurrency(p.Amount.Currency.Code()).
				SetSeq(version[a.id]).
				SetBalanceAfter(running[p.Account]).
				SetEffectiveAt(effective.EffectiveAt).
				SetCreatedAt(now)
			if a.merchantID != "" {
				c.SetMerchantID(a.merchantID)
			}
			postings = append(postings, c)
		}
	}
	if len(entries) == 0 {
		return results, nil
	}
	for chunk := range slices.Chunk(entries, insertChunk) {
		err := w.Client().JournalEntry.CreateBulk(chunk...).Exec(ctx)
		if optimistic && ent.IsConstraintError(err) {
			// Only the refused statement was undone: tx is usable, and
			// nothing of this entry was written.
			return l.priorEntries(ctx, tx, reqs)
		}
		if err != nil {
			return nil, fmt.Errorf("insert entries: %w", err)
		}
	}
	for chunk := range slices.Chunk(postings, insertChunk) {
		if err := w.Client().Posting.CreateBulk(chunk...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("insert postings: %w", err)
		}
	}
	if err := l.updateBalances(ctx, w, touched, byID, balance, version, now); err != nil {
		return nil, err
	}
	return results, nil
}

// lockAccounts locks the accounts ids in one statement, on a
// transaction's client c, and reads their balances and versions. InnoDB
// walks the primary key in ascending order, so every transaction takes its
// locks in the same order and none waits on another in a cycle. SQLite
// has a single writer and no FOR UPDATE.
func (l *Ledger) lockAccounts(ctx context.Context, c *ent.Client, ids []string) ([]*ent.LedgerAccount, error) {
	q := c.LedgerAccount.Query().Where(ledgeraccount.IDIn(ids...)).Order(ledgeraccount.ByID())
	if l.dialect == dialect.MySQL {
		q = q.ForUpdate()
	}
	rows, err := q.Select(ledgeraccount.FieldID, ledgeraccount.FieldBalance, ledgeraccount.FieldVersion).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock accounts: %w", err)
	}
	return rows, nil
}

// priorEntries answers requests whose sources turned out to be posted
// already: a replay of the first entry when the postings are the same,
// ECONFLICT when they differ.
func (l *Ledger) priorEntries(ctx context.Context, tx *ent.Tx, reqs []*request) ([]result, error) {
	seen, err := l.existingSources(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	results := make([]result, len(reqs))
	for i, r := range reqs {
		prior, ok := seen[r.entry.Source]
		switch {
		case !ok:
			return nil, fmt.Errorf("insert entry for %s: refused by a unique index, but no entry holds the source", r.entry.Source)
		case prior.hash != r.hash:
			results[i].err = payments.Errorf(payments.ECONFLICT,
				"source %s was already posted with different postings (entry %s)", r.entry.Source, prior.id)
		default:
			results[i].posted = Posted{EntryID: prior.id, Replayed: true}
		}
	}
	return results, nil
}

// existingSources returns the entries already recorded for the batch's
// sources: one indexed lookup per source type.
func (l *Ledger) existingSources(ctx context.Context, tx *ent.Tx, reqs []*request) (map[Source]existing, error) {
	byType := map[string][]string{}
	for _, r := range reqs {
		byType[r.entry.Source.Type] = append(byType[r.entry.Source.Type], r.entry.Source.ID)
	}
	seen := make(map[Source]existing)
	for typ, srcIDs := range byType {
		rows, err := tx.JournalEntry.Query().
			Where(journalentry.SourceTypeEQ(typ), journalentry.SourceIDIn(srcIDs...)).
			Select(journalentry.FieldID, journalentry.FieldSourceType, journalentry.FieldSourceID, journalentry.FieldPostingHash).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up sources: %w", err)
		}
		for _, row := range rows {
			seen[Source{Type: row.SourceType, ID: row.SourceID}] = existing{id: row.ID, hash: row.PostingHash}
		}
	}
	return seen, nil
}

// updateBalances writes every touched account's new balance and version in
// one UPDATE … CASE statement (store.UpdateRows): one round trip however
// many accounts a batch touches, inside the same transaction, as the system,
// on rows this transaction holds locked.
func (l *Ledger) updateBalances(ctx context.Context, x store.Execer, touched map[string]bool, byID map[string]AccountKey,
	balance map[AccountKey]int64, version map[string]int64, now time.Time) error {
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rows := make([]store.RowUpdate, len(ids))
	for i, id := range ids {
		rows[i] = store.RowUpdate{ID: id, Set: store.Row{
			ledgeraccount.FieldBalance: balance[byID[id]], ledgeraccount.FieldVersion: version[id]}}
	}
	res, err := store.UpdateRows(ctx, x, ledgeraccount.Table, rows, now)
	if err != nil {
		return fmt.Errorf("update balances: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n != int64(len(ids)) && l.dialect == dialect.SQLite {
		return fmt.Errorf("update balances: %d of %d accounts updated", n, len(ids))
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, stdsql.ErrNoRows) }
