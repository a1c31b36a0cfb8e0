package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
)

// Writes gathers the write statements of a transaction step that need no
// answer but success, to send them to MySQL in one round trip (Flush):
// UPDATE … CASE statements (UpdateRows on Writes) and the INSERTs of ent's
// builders on Client. The payment pipeline's record step writes eight
// statements this way, and they go with its COMMIT.
//
// Without deferral (SQLite, or a caller that needs each statement's own
// error) every statement runs at once on the transaction, as if Writes
// were not there. With it, Flush hands the
// statements to the transaction (DeferToCommit), which sends them with its
// next statement or its COMMIT: a statement's error surfaces there, not
// where it was written, and RowsAffected is unknown. Only statements whose
// success is all the caller needs belong here. Reads stay on the
// transaction: a read after a deferred write of the same rows must Flush
// first (the transaction then sends the writes before the read).
type Writes struct {
	tx       *ent.Tx
	client   *ent.Client
	deferred bool

	queries []string
	args    []any
}

// NewWrites returns Writes over tx that defers its statements to Flush when
// deferral is asked for and the database is MySQL.
func NewWrites(tx *ent.Tx, sqlDialect string, deferral bool) *Writes {
	w := &Writes{tx: tx, deferred: deferral && sqlDialect == dialect.MySQL}
	if w.deferred {
		w.client = ent.NewClient(ent.Driver(&recorder{w: w}))
		// The hooks of the transaction's events (events.WakeOnCommit: a
		// commit that wrote events wakes the relay) run for the events
		// deferred here too, with the transaction in their context, as
		// this client has none of its own.
		w.client.Event.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				return next.Mutate(ent.NewTxContext(ctx, tx), m)
			})
		})
		w.client.Event.Use(tx.Client().Event.Hooks()...)
	} else {
		w.client = tx.Client()
	}
	return w
}

// Client is an ent client whose writes go through w: create builders only
// (their INSERT is deferred); a query on it fails when w defers.
func (w *Writes) Client() *ent.Client { return w.client }

// ExecContext implements Execer: the statement is deferred, or run at once.
func (w *Writes) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !w.deferred {
		return w.tx.ExecContext(ctx, query, args...)
	}
	w.add(query, args)
	return driver.RowsAffected(0), nil
}

func (w *Writes) add(query string, args []any) {
	w.queries = append(w.queries, query)
	w.args = append(w.args, args...)
}

// Flush hands the deferred statements to the transaction, in the order they
// were written, to go with its next statement or its COMMIT in one round
// trip (DeferToCommit); the first one's error is that statement's or
// Commit's. Nothing is deferred afterwards until more is written.
func (w *Writes) Flush(ctx context.Context) error {
	if len(w.queries) == 0 {
		return nil
	}
	query, args := strings.Join(w.queries, ";\n"), w.args
	w.queries, w.args = nil, nil
	if _, err := w.tx.ExecContext(DeferToCommit(ctx), query, args...); err != nil {
		return fmt.Errorf("writes: %w", err)
	}
	return nil
}

// recorder is an ent driver that defers what ent executes and refuses what
// it queries.
type recorder struct{ w *Writes }

var errDeferredQuery = errors.New("store: a query cannot be deferred; read on the transaction")

func (r *recorder) Exec(_ context.Context, query string, args, v any) error {
	a, ok := args.([]any)
	if !ok {
		return fmt.Errorf("store: unexpected arguments %T", args)
	}
	r.w.add(query, a)
	if res, ok := v.(*sql.Result); ok {
		*res = driver.RowsAffected(0)
	}
	return nil
}

func (r *recorder) Query(context.Context, string, any, any) error { return errDeferredQuery }
func (r *recorder) Tx(context.Context) (dialect.Tx, error)        { return dialect.NopTx(r), nil }
func (r *recorder) Close() error                                  { return nil }
func (r *recorder) Dialect() string                               { return dialect.MySQL }
