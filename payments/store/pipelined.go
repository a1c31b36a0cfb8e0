package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// mysqlDriver is the ent driver of a MySQL database. Its transactions are
// pipelined (pipelinedTx): they cost the round trips of their statements
// and nothing more, where database/sql's cost one more for BEGIN and one
// for COMMIT. A transaction with options (an isolation level, read only)
// is database/sql's.
type mysqlDriver struct {
	*entsql.Driver
	db *sql.DB
}

// Tx implements dialect.Driver.
func (d *mysqlDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx is what ent's Client.BeginTx calls.
func (d *mysqlDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if opts != nil && (opts.Isolation != sql.LevelDefault || opts.ReadOnly) {
		return d.Driver.BeginTx(ctx, opts)
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	t := &pipelinedTx{conn: conn, ctx: ctx}
	t.Conn = entsql.Conn{ExecQuerier: t}
	t.stop = context.AfterFunc(ctx, t.abandon)
	return t, nil
}

// pipelinedTx is a MySQL transaction on a connection of its own that sends
// no statement of its own:
//   - START TRANSACTION goes with the transaction's first statement, in one
//     round trip (multiStatements);
//   - the statements a caller leaves for later (DeferToCommit) go with the
//     next statement, or with COMMIT;
//   - COMMIT goes with those, and a transaction that sent nothing commits
//     and rolls back without a round trip.
//
// When one statement of a round trip fails, MySQL runs none of the rest
// (COMMIT included) and the error is that statement's: the caller rolls
// back as it would have. If a commit fails, the transaction is rolled back
// before Commit returns. A connection whose transaction cannot be rolled
// back is closed, never returned to the pool with a transaction open.
//
// As database/sql's transactions do, it rolls back when the context it
// began with ends before it does, and then refuses to commit: a caller
// that never ends its transaction (a panic) holds its locks only as long
// as its context.
type pipelinedTx struct {
	entsql.Conn // Exec and Query, over ExecContext and QueryContext below

	ctx  context.Context
	stop func() bool // stops abandon
	// mu serializes the transaction's own calls with abandon.
	mu   sync.Mutex
	conn *sql.Conn
	// sent is set once START TRANSACTION has gone to the server (with
	// whatever went with it, failed or not).
	sent bool
	// ended is set by Commit or Rollback: the connection is back in the pool.
	ended bool
	// queued are statements to send before the next one (DeferToCommit).
	queued []string
	args   []any
}

type deferKey struct{}

// DeferToCommit marks ctx so that a statement executed with it inside a
// MySQL transaction is sent with the transaction's next statement or with
// its COMMIT, instead of in a round trip of its own; ExecContext returns a
// result of no rows at once. Its error, if any, is the error of that next
// statement or of Commit, and nothing after it in the transaction runs.
// Outside a pipelined transaction (SQLite, a transaction with options)
// the statement runs at once.
func DeferToCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferKey{}, true)
}

func deferred(ctx context.Context) bool { v, _ := ctx.Value(deferKey{}).(bool); return v }

var errTxDone = errors.New("store: transaction has already been committed or rolled back")

// batch is the round trip that sends query: START TRANSACTION first if it
// has not gone yet, then the queued statements, then query.
func (t *pipelinedTx) batch(query string, args []any) (string, []any) {
	var parts []string
	if !t.sent {
		parts = append(parts, "START TRANSACTION")
		t.sent = true
	}
	parts = append(parts, t.queued...)
	all := append(t.args, args...)
	t.queued, t.args = nil, nil
	if len(parts) == 0 {
		return query, args
	}
	if query != "" {
		parts = append(parts, query)
	}
	return strings.Join(parts, ";\n"), all
}

// ExecContext runs query in the transaction, or queues it when ctx says
// DeferToCommit. Its result is query's (RowsAffected of its last
// statement).
func (t *pipelinedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, errTxDone
	}
	if deferred(ctx) {
		t.queued = append(t.queued, query)
		t.args = append(t.args, args...)
		return driver.RowsAffected(0), nil
	}
	q, a := t.batch(query, args)
	return t.conn.ExecContext(ctx, q, a...)
}

// QueryContext runs query in the transaction. Its rows are query's: the
// statements sent before it answer no rows, and the driver passes over
// them.
func (t *pipelinedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, errTxDone
	}
	q, a := t.batch(query, args)
	return t.conn.QueryContext(ctx, q, a...)
}

// Commit implements driver.Tx: the queued statements and COMMIT in one
// round trip. On failure the transaction is rolled back.
func (t *pipelinedTx) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return errTxDone
	}
	if err := t.ctx.Err(); err != nil {
		return t.end(err)
	}
	if !t.sent && len(t.queued) == 0 {
		return t.end(nil) // nothing was sent: nothing to commit
	}
	q, a := t.batch("COMMIT", nil)
	ctx, cancel := commitContext(t.ctx)
	defer cancel()
	if _, err := t.conn.ExecContext(ctx, q, a...); err != nil {
		return t.end(commitFailed(err))
	}
	t.sent = false // committed: nothing left to roll back
	return t.end(nil)
}

// Rollback implements driver.Tx. Queued statements are dropped.
func (t *pipelinedTx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return errTxDone
	}
	t.queued, t.args = nil, nil
	return t.end(nil)
}

// end rolls back what was sent and not committed, and returns the
// connection to the pool, or closes it when the rollback fails: err joined
// with what went wrong.
func (t *pipelinedTx) end(err error) error {
	t.ended = true
	t.stop()
	if t.sent {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		defer cancel()
		if _, rerr := t.conn.ExecContext(ctx, "ROLLBACK"); rerr != nil {
			// Never hand a connection with a transaction open to the next
			// caller: ErrBadConn makes database/sql close it.
			_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("rollback: %w", rerr)
			}
		}
	}
	if cerr := t.conn.Close(); cerr != nil && !errors.Is(cerr, sql.ErrConnDone) && err == nil {
		err = cerr
	}
	return err
}

// commitContext is the context of a transaction's COMMIT: it ends at the
// transaction's deadline, so a server that stops answering fails the
// commit instead of holding it for ever, but not when the transaction's
// context is cancelled (a caller who hung up), which would turn a commit
// the server completes into an unknown outcome for nothing. A commit cut
// off by its deadline has an unknown outcome, as if the process had died
// there: the payment pipeline's janitor resolves such payments through the
// channel, and its writes are idempotent.
func commitContext(tx context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(tx)
	if deadline, ok := tx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline)
	}
	return ctx, func() {}
}

// rollbackTimeout bounds a ROLLBACK: on a live connection it takes a round
// trip; on one that stopped answering, the connection is closed instead,
// and the server rolls back when it drops it (store.DefaultWaitTimeout).
const rollbackTimeout = 10 * time.Second

// abandon rolls the transaction back when its context ends first.
func (t *pipelinedTx) abandon() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended {
		_ = t.end(t.ctx.Err())
	}
}

// Query implements dialect.ExecQuerier: a read of ReadTogether is served
// from its joined query; any other runs as ent runs it.
func (d *mysqlDriver) Query(ctx context.Context, query string, args, v any) error {
	if ok, err := servePrefetched(ctx, d.db.QueryContext, query, v); ok {
		return err
	}
	return d.Driver.Query(ctx, query, args, v)
}

// Query implements dialect.ExecQuerier, as mysqlDriver.Query does.
func (t *pipelinedTx) Query(ctx context.Context, query string, args, v any) error {
	if ok, err := servePrefetched(ctx, t.QueryContext, query, v); ok {
		return err
	}
	return t.Conn.Query(ctx, query, args, v)
}
