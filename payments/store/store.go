// Package store opens Strait's database: embedded SQLite by default, MySQL or
// MariaDB in production. It returns an ent client with privacy enforced and the
// underlying *sql.DB for health checks and pool metrics.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/straitpay/strait/ent"
	_ "github.com/straitpay/strait/ent/runtime" // privacy policies and hooks
)

// DB is an open database.
type DB struct {
	Client *ent.Client
	// Dialect is dialect.SQLite or dialect.MySQL.
	Dialect string
	// SQL is the pool behind Client: for health checks and pool metrics. With
	// SQLite it is the writer pool.
	SQL *sql.DB
	// closers close the pools, last opened first.
	closers []func() error
}

// Close closes the client and every pool.
func (db *DB) Close() error {
	var errs []error
	for i := len(db.closers) - 1; i >= 0; i-- {
		errs = append(errs, db.closers[i]())
	}
	return errors.Join(errs...)
}

// Open opens the database named by rawURL:
//   - "" or "sqlite:PATH" (e.g. "sqlite:data/strait.db"): embedded SQLite in WAL
//     mode with one writer connection and a small reader pool;
//   - "mysql://user:pass@host:port/db?params" or a go-sql-driver DSN
//     ("user:pass@tcp(host:port)/db"): MySQL 8 or MariaDB.
//
// It does not create tables: see Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// Options are Open's less common settings.
type Options struct {
	// WrapMySQL, if set, wraps the connector of a MySQL pool: to observe
	// what goes to the server (the benchmarks count round trips).
	WrapMySQL func(driver.Connector) driver.Connector
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite:"))
	case strings.HasPrefix(rawURL, "mysql://"):
		dsn, err := mysqlURLToDSN(rawURL)
		if err != nil {
			return nil, err
		}
		return openMySQL(ctx, dsn, opts)
	case strings.Contains(rawURL, "@tcp(") || strings.Contains(rawURL, "@unix("):
		return openMySQL(ctx, rawURL, opts)
	}
	return nil, fmt.Errorf("database url %q: want sqlite:PATH or mysql://", redact(rawURL))
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two transactions never
	// both read and then fail to upgrade (SQLITE_BUSY mid-transaction).
	// cache_size (32 MB per connection) and mmap_size (reads straight from the
	// mapped file) keep a page of the newest rows as cheap at a million rows as
	// at ten thousand: without them the payments-page benchmark halved at 1M.
	params := "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32000)&_pragma=mmap_size(1073741824)&_txlock=immediate"
	open := func(conns int) (*sql.DB, error) {
		db, err := sql.Open("sqlite", "file:"+path+params)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxIdleTime(0)
		return db, db.PingContext(ctx)
	}
	// SQLite allows one writer at a time; several writer connections only trade
	// SQLITE_BUSY retries (seen: p99 0.5 s under 16 writers). One writer
	// connection queues writes in Go instead, while WAL lets readers run beside it.
	writer, err := open(1)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	reader, err := open(4)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	drv := &splitDriver{
		Driver: entsql.OpenDB(dialect.SQLite, writer),
		reader: entsql.OpenDB(dialect.SQLite, reader),
	}
	return &DB{
		Client:  ent.NewClient(ent.Driver(drv)),
		Dialect: dialect.SQLite,
		SQL:     writer,
		closers: []func() error{writer.Close, reader.Close},
	}, nil
}

// DefaultWaitTimeout is the MySQL session wait_timeout Strait sets on its
// connections unless the DSN sets one: how long a transaction whose client
// vanished can hold its row locks.
const DefaultWaitTimeout = 2 * time.Minute

func openMySQL(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn: %w", err)
	}
	// Timestamps are DATETIME(6) in UTC; parseTime makes them time.Time.
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Without interpolation every statement with arguments is a server-side
	// prepare, an execute and a close: two round trips and a parse on the
	// server for each. The driver escapes arguments itself for utf8mb4
	// connections (it refuses to for the multibyte charsets where that is
	// unsafe), which halves the round trips of the payment pipeline
	// (docs/performance.md).
	cfg.InterpolateParams = true
	// Several statements in one round trip (store.Writes): the payment
	// pipeline's batches send their writes together. Strait never builds SQL
	// from input (ent's builders and placeholders, interpolated by the
	// driver), so stacked statements open no door an injection could use.
	cfg.MultiStatements = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["time_zone"]; !ok {
		cfg.Params["time_zone"] = "'+00:00'"
	}
	// A transaction whose client vanished (a network partition, a host
	// frozen mid-transaction) keeps its row locks until the server drops the
	// connection: with the server's default wait_timeout, 8 hours, during
	// which every capture posting to the same ledger accounts waits and
	// fails. Strait never idles inside a transaction (connector calls run
	// outside them), so the server may drop a connection idle for
	// DefaultWaitTimeout; the pool retires idle connections before that. A
	// DSN's own wait_timeout wins.
	if _, ok := cfg.Params["wait_timeout"]; !ok {
		cfg.Params["wait_timeout"] = strconv.Itoa(int(DefaultWaitTimeout / time.Second))
	}
	maxIdle := DefaultWaitTimeout / 2
	if secs, err := strconv.Atoi(cfg.Params["wait_timeout"]); err == nil && secs > 0 {
		maxIdle = time.Duration(secs) * time.Second / 2
	}
	open := func() (*sql.DB, error) {
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		if opts.WrapMySQL != nil {
			c = opts.WrapMySQL(c)
		}
		return sql.OpenDB(c), nil
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	err = db.PingContext(ctx)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1193 && cfg.Params["transaction_isolation"] != "" {
		// MariaDB before 11.1 knows the variable only by its old name.
		db.Close()
		cfg.Params["tx_isolation"] = cfg.Params["transaction_isolation"]
		delete(cfg.Params, "transaction_isolation")
		if db, err = open(); err != nil {
			return nil, err
		}
		err = db.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s: %w", cfg.Addr, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(maxIdle)
	return &DB{
		Client:  ent.NewClient(ent.Driver(&mysqlDriver{Driver: entsql.OpenDB(dialect.MySQL, db), db: db})),
		Dialect: dialect.MySQL,
		SQL:     db,
		closers: []func() error{db.Close},
	}, nil
}

// splitDriver sends reads outside transactions to a reader pool and everything
// else (writes, transactions) to the single writer connection.
type splitDriver struct {
	dialect.Driver
	reader dialect.Driver
}

// Query implements dialect.Driver. Only plain SELECTs go to the readers; an
// INSERT … RETURNING or similar is a write.
func (d *splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isSelect(query) {
		return d.reader.Query(ctx, query, args, v)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// ExecContext runs a hand-written statement on the writer, outside any
// transaction: ent's Client.ExecContext reaches it, for writes its builders
// cannot express (an UPDATE … CASE giving each row its own value).
func (d *splitDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, errors.New("sqlite: the writer driver cannot run hand-written statements")
	}
	return ex.ExecContext(ctx, query, args...)
}

func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT") && !strings.Contains(strings.ToUpper(q), " FOR UPDATE")
}

// mysqlURLToDSN converts mysql://user:pass@host:port/db?params to a
// go-sql-driver DSN.
func mysqlURLToDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Params = map[string]string{}
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			cfg.Params[k] = vs[0]
		}
	}
	return cfg.FormatDSN(), nil
}

// redact hides a password in a database URL for error messages and logs.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	if at := strings.Index(raw, "@"); at > 0 {
		if colon := strings.Index(raw[:at], ":"); colon >= 0 {
			return raw[:colon+1] + "xxxxx" + raw[at:]
		}
	}
	return raw
}

// Redact hides a password in a database URL for logs.
func Redact(raw string) string { return redact(raw) }
