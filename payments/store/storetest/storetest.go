// Package storetest opens real databases for tests: a fresh SQLite file always,
// and a fresh MySQL/MariaDB database when STRAIT_TEST_MYSQL_DSN names a server.
// Each database is migrated the way production migrates it (versioned
// migrations on MySQL) and removed when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments/store"
)

// EnvMySQL names the environment variable holding the MySQL DSN for tests, e.g.
// "root:@tcp(127.0.0.1:3306)/strait_ci". Tests create their own databases on
// that server, named after it.
const EnvMySQL = "STRAIT_TEST_MYSQL_DSN"

// Dialects returns the databases tests should run on: "sqlite" always, and
// "mysql" when EnvMySQL is set.
func Dialects(t testing.TB) []string {
	t.Helper()
	if mysqlDSN() != "" {
		return []string{"sqlite", "mysql"}
	}
	return []string{"sqlite"}
}

// Each runs fn as a subtest on a fresh, migrated database of every dialect.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, Open(t, d)) })
	}
}

// Open returns a fresh, migrated database of the given dialect ("sqlite" or
// "mysql"), closed and dropped when the test ends. It skips the test for
// "mysql" when EnvMySQL is unset.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	ctx := context.Background()
	var url string
	switch dialect {
	case "sqlite":
		url = "sqlite:" + filepath.Join(t.TempDir(), "strait.db")
	case "mysql":
		url = freshMySQL(t)
	default:
		t.Fatalf("storetest: unknown dialect %q", dialect)
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatalf("storetest: migrate %s: %v", dialect, err)
	}
	return db
}

// URL returns the database URL of a fresh, empty database (not migrated) of the
// dialect, for tests that start a whole server process.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == "mysql" {
		return freshMySQL(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "strait.db")
}

func mysqlDSN() string {
	return lookupEnv(EnvMySQL)
}

// freshMySQL creates an empty database on the test server and returns its DSN;
// the database is dropped when the test ends.
func freshMySQL(t testing.TB) string {
	t.Helper()
	dsn := mysqlDSN()
	if dsn == "" {
		t.Skipf("%s not set: skipping MySQL", EnvMySQL)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("storetest: %s: %v", EnvMySQL, err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	base := cfg.DBName
	if base == "" {
		base = "strait_test"
	}
	name := base + "_" + hex.EncodeToString(suffix[:])
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		admin.Close()
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}
