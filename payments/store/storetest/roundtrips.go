package storetest

import (
	"context"
	"database/sql/driver"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/straitpay/strait/payments/store"
)

// OpenCounting is Open of a fresh MySQL database whose round trips are
// counted. It skips the test when EnvMySQL is unset.
func OpenCounting(t testing.TB) (*store.DB, *RoundTrips) {
	t.Helper()
	counter := &RoundTrips{}
	ctx := context.Background()
	db, err := store.OpenWith(ctx, freshMySQL(t), store.Options{
		WrapMySQL: func(c driver.Connector) driver.Connector { counter.Connector = c; return counter },
	})
	if err != nil {
		t.Fatalf("storetest: open mysql: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatalf("storetest: migrate mysql: %v", err)
	}
	return db, counter
}

// RoundTrips counts what reaches MySQL below database/sql: round
// trips, the SQL statements they carry (several when joined by ";\n", as
// Strait's batches join them) and the transactions they begin, whether
// database/sql's (BeginTx) or pipelined (START TRANSACTION sent with the
// first statement).
type RoundTrips struct {
	driver.Connector
	Trips, Statements, Txs atomic.Int64

	mu      sync.Mutex
	tracing bool
	trace   []string
	kinds   map[string]int64
}

// Connect implements driver.Connector.
func (c *RoundTrips) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: c}, nil
}

// note counts one round trip carrying query, and keeps it while tracing.
func (c *RoundTrips) note(query string) {
	c.Trips.Add(1)
	c.Statements.Add(int64(strings.Count(query, ";\n") + 1))
	c.Txs.Add(int64(strings.Count(query, "START TRANSACTION")))
	c.mu.Lock()
	if c.tracing {
		c.trace = append(c.trace, query)
	}
	if c.kinds == nil {
		c.kinds = map[string]int64{}
	}
	c.kinds[kindOf(query)]++
	c.mu.Unlock()
}

// kindOf names a round trip by its first statement after START
// TRANSACTION: its verb and table.
func kindOf(query string) string {
	first, rest, _ := strings.Cut(query, ";\n")
	if first == "START TRANSACTION" && rest != "" {
		first, _, _ = strings.Cut(rest, ";\n")
	}
	f := strings.Fields(first[:min(len(first), 80)])
	switch {
	case len(f) == 0:
		return ""
	case f[0] == "SELECT":
		if _, from, ok := strings.Cut(first, " FROM "); ok {
			table, _, _ := strings.Cut(from, " ")
			return "SELECT " + strings.Trim(table, "`")
		}
	case f[0] == "INSERT" && len(f) > 2:
		return "INSERT " + strings.Trim(f[2], "`")
	case f[0] == "UPDATE" && len(f) > 1:
		return "UPDATE " + strings.Trim(f[1], "`")
	}
	return f[0]
}

// Kinds returns how many round trips of each kind (kindOf) were counted.
func (c *RoundTrips) Kinds() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.kinds))
	for k, n := range c.kinds {
		out[k] = n
	}
	return out
}

// Traced runs fn with tracing on and returns the round trips it made, each
// as the query text sent.
func (c *RoundTrips) Traced(fn func()) []string {
	c.mu.Lock()
	c.tracing, c.trace = true, nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tracing = false
	return c.trace
}

// countingConn passes every optional interface of go-sql-driver's
// connection through, counting the ones that talk to the server.
type countingConn struct {
	driver.Conn
	c *RoundTrips
}

func (k *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	k.c.note(query)
	return k.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (k *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	k.c.note(query)
	return k.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (k *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	k.c.note("PREPARE " + query)
	return k.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (k *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	k.c.note("START TRANSACTION")
	tx, err := k.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, c: k.c}, nil
}

func (k *countingConn) Ping(ctx context.Context) error { return k.Conn.(driver.Pinger).Ping(ctx) }

func (k *countingConn) ResetSession(ctx context.Context) error {
	return k.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (k *countingConn) IsValid() bool { return k.Conn.(driver.Validator).IsValid() }

func (k *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return k.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

type countingTx struct {
	driver.Tx
	c *RoundTrips
}

func (t *countingTx) Commit() error {
	t.c.note("COMMIT")
	return t.Tx.Commit()
}

func (t *countingTx) Rollback() error {
	t.c.note("ROLLBACK")
	return t.Tx.Rollback()
}
