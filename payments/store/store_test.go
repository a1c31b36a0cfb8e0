package store_test

import (
	"context"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// TestMySQLConnectionsCarryAWaitTimeout: Strait's MySQL connections ask the
// server to drop them after store.DefaultWaitTimeout idle, so a transaction
// whose client vanished releases its locks within minutes, not the server's
// 8 hours; a DSN's own wait_timeout wins.
func TestMySQLConnectionsCarryAWaitTimeout(t *testing.T) {
	dsn := storetest.URL(t, "mysql") // skips without MySQL
	for _, tt := range []struct {
		name, param string
		want        int
	}{
		{"default", "", int(store.DefaultWaitTimeout.Seconds())},
		{"the DSN's own", "7", 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			if tt.param != "" {
				cfg.Params = map[string]string{"wait_timeout": tt.param}
			}
			db, err := store.Open(context.Background(), cfg.FormatDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var got int
			if err := db.SQL.QueryRow("SELECT @@SESSION.wait_timeout").Scan(&got); err != nil || got != tt.want {
				t.Fatalf("wait_timeout %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}
