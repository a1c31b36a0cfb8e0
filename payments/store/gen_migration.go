//go:build ignore

// gen_migration.go writes a new MySQL migration for whatever ent/schema has
// that the checked-in migrations do not. It replays the existing migrations
// into a scratch database on a dev server, diffs against ent/schema, and writes
// the difference as a goose file; with nothing to do it writes nothing.
//
//	go run ./payments/store/gen_migration.go -name add_refunds
//	go run ./payments/store/gen_migration.go -check   # exit 1 if a migration is missing
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/ent/migrate"
)

func main() {
	name := flag.String("name", "change", "migration name")
	check := flag.Bool("check", false, "fail if ent/schema needs a migration that is not checked in")
	server := flag.String("server", envOr("STRAIT_MIGRATE_DEV_SERVER", "root:@tcp(127.0.0.1:3306)/"), "dev MySQL/MariaDB server DSN (no database)")
	flag.Parse()
	ctx := context.Background()

	// A scratch database, dropped afterwards: atlas replays the migration
	// directory into it and compares the result with ent/schema.
	scratch := fmt.Sprintf("strait_migrate_%d", os.Getpid())
	admin, err := sql.Open("mysql", *server)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		log.Fatalf("create scratch database: %v", err)
	}
	defer admin.ExecContext(ctx, "DROP DATABASE "+scratch)

	target := "payments/store/migrations/mysql"
	if *check {
		tmp, err := os.MkdirTemp("", "strait-migrations-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		files, _ := filepath.Glob(filepath.Join(target, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), b, 0o644); err != nil {
				log.Fatal(err)
			}
		}
		target = tmp
	}
	dir, err := sqltool.NewGooseDir(target)
	if err != nil {
		log.Fatalf("migration dir: %v", err)
	}
	before, _ := dir.Files()
	url := "mysql://" + dsnToURLPart(*server) + scratch
	err = migrate.NamedDiff(ctx, url, *name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.MySQL),
		schema.WithFormatter(sqltool.GooseFormatter),
	)
	if err != nil {
		log.Fatalf("diff: %v", err)
	}
	after, _ := dir.Files()
	if *check && len(after) != len(before) {
		log.Fatalf("ent/schema changed without a migration: run `make migration NAME=…` and commit the file")
	}
	fmt.Printf("migrations: %d before, %d after\n", len(before), len(after))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dsnToURLPart turns "user:pass@tcp(host:port)/" into "user:pass@host:port/".
func dsnToURLPart(dsn string) string {
	out := []byte{}
	skip := false
	for i := 0; i < len(dsn); i++ {
		switch {
		case dsn[i:] != "" && len(dsn[i:]) >= 4 && dsn[i:i+4] == "tcp(":
			i += 3
			skip = true
		case skip && dsn[i] == ')':
			skip = false
		default:
			out = append(out, dsn[i])
		}
	}
	return string(out)
}
