package app_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/server/app"
)

// countingDriver counts the queries (SELECT or WITH … SELECT) that reach the database.
type countingDriver struct {
	dialect.Driver
	selects atomic.Int64
}

func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.selects.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

// TestPaymentsPageHasNoNPlusOne loads a page of 50 payments with their
// attempts, refunds and customer and checks that the number of SELECTs does not
// grow with the page: one per level, and no COUNT unless totalCount is asked.
func TestPaymentsPageHasNoNPlusOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.makePayments(viewer.SystemContext(context.Background()), e.a.ID, 60)

		drv := &countingDriver{Driver: entsql.OpenDB(db.Dialect, db.SQL)}
		counted := &store.DB{Client: ent.NewClient(ent.Driver(drv)), Dialect: db.Dialect, SQL: db.SQL}
		cfg, _ := app.ParseConfig("test", nil, func(string) string { return "" })
		e.app = app.New(cfg, counted, e.keys, app.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})

		const page = `query($n: Int!) { payments(first: $n) {
			pageInfo { hasNextPage endCursor }
			edges { node { id status amount { amount currency decimal }
				attempts(first: 5) { edges { node { id status connector } } }
				refunds(first: 5) { edges { node { id amount { amount } } } }
				customer { id email } } } } }`
		run := func(n int) int64 {
			t.Helper()
			drv.selects.Store(0)
			r := e.do("MERCHANT_ANALYST", page, map[string]any{"n": n})
			if r.code() != "" {
				t.Fatalf("%s", truncate(r.Raw, 400))
			}
			return drv.selects.Load()
		}
		small, large := run(2), run(50)
		if large != small {
			t.Fatalf("SELECTs grow with the page: %d for 2 payments, %d for 50", small, large)
		}
		if large > 4 {
			t.Fatalf("%d SELECTs for one page; want at most 4 (payments, attempts, refunds, customers)", large)
		}
		t.Logf("%s: %d SELECTs for a page of 50 payments with nested attempts, refunds and customer", db.Dialect, large)
	})
}
