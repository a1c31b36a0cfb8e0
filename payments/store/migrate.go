package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"entgo.io/ent/dialect"
	"github.com/pressly/goose/v3"
)

// mysqlMigrations are the versioned migrations for MySQL/MariaDB, generated from
// ent/schema by `make migration NAME=…` (see gen_migration.go) and checked in.
//
//go:embed migrations/mysql/*.sql
var mysqlMigrations embed.FS

func mysqlProvider(db *DB) (*goose.Provider, error) {
	sub, err := fs.Sub(mysqlMigrations, "migrations/mysql")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectMySQL, db.SQL, sub)
}

// Migrate brings the schema up to date: on MySQL by applying the checked-in
// versioned migrations (each once, recorded in goose_db_version); on SQLite,
// the embedded development store, by ent's auto-migration.
func Migrate(ctx context.Context, db *DB) error {
	switch db.Dialect {
	case dialect.MySQL:
		p, err := mysqlProvider(db)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate mysql: %w", err)
		}
		return nil
	case dialect.SQLite:
		if err := db.Client.Schema.Create(ctx); err != nil {
			return fmt.Errorf("migrate sqlite: %w", err)
		}
		return nil
	}
	return fmt.Errorf("migrate: unsupported dialect %q", db.Dialect)
}

// Pending reports whether migrations remain to be applied. SQLite migrates
// automatically at start-up, so it never has pending migrations once Open and
// Migrate have run.
func Pending(ctx context.Context, db *DB) (bool, error) {
	if db.Dialect != dialect.MySQL {
		return false, nil
	}
	p, err := mysqlProvider(db)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}
