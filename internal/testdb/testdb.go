// Package testdb opens throwaway databases for tests: a SQLite file in the
// test's temporary directory, or a fresh MySQL/MariaDB database named
// strait_money_<random> on the server of STRAIT_TEST_MYSQL_DSN, dropped when the
// test ends. MySQL tests are skipped when the variable is unset.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/straitpay/strait/ent"
	_ "github.com/straitpay/strait/ent/runtime" // schema defaults, hooks and privacy policies
)

// DSNEnv names the environment variable holding the MySQL server to test on,
// e.g. "root@tcp(127.0.0.1:3306)/?parseTime=true". Its database name, if any,
// is ignored: each test gets its own.
const DSNEnv = "STRAIT_TEST_MYSQL_DSN"

// DB is an open test database.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
	// DSN reaches the test database (MySQL only), for tests that open more
	// connections of their own.
	DSN string
}

// Open opens a database of the given dialect (dialect.SQLite or
// dialect.MySQL) with Strait's schema created.
func Open(t testing.TB, d string) *DB {
	t.Helper()
	if d == dialect.MySQL {
		return MySQL(t)
	}
	return SQLite(t)
}

// SQLite opens a fresh SQLite database file in WAL mode with foreign keys on and
// a single connection: SQLite has one writer, and queueing in the pool beats
// SQLITE_BUSY.
func SQLite(t testing.TB) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "strait.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return finish(t, db, dialect.SQLite, "")
}

// MySQL creates a fresh database on the server of STRAIT_TEST_MYSQL_DSN, or
// skips the test if it is unset.
func MySQL(t testing.TB) *DB {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		t.Skipf("%s is not set", DSNEnv)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", DSNEnv, err)
	}
	cfg.ParseTime = true
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "strait_money_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("STRAIT_TEST_KEEP_DB") != "" {
			t.Logf("kept database %s", name)
			return
		}
		drop, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			_, _ = drop.Exec("DROP DATABASE IF EXISTS " + name)
			drop.Close()
		}
	})
	cfg.DBName = name
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	return finish(t, db, dialect.MySQL, cfg.FormatDSN())
}

func finish(t testing.TB, db *sql.DB, d, dsn string) *DB {
	t.Helper()
	client := ent.NewClient(ent.Driver(entsql.OpenDB(d, db)))
	t.Cleanup(func() { client.Close() })
	if err := client.Schema.Create(context.Background()); err != nil {
		t.Fatalf("create schema on %s: %v", d, err)
	}
	return &DB{Client: client, SQL: db, Dialect: d, DSN: dsn}
}

// Dialects returns the dialects to run a test on: SQLite always, MySQL when
// STRAIT_TEST_MYSQL_DSN is set.
func Dialects() []string {
	if os.Getenv(DSNEnv) == "" {
		return []string{dialect.SQLite}
	}
	return []string{dialect.SQLite, dialect.MySQL}
}
