package app_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/vault"
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
		// One per level, and the caller's own: a merchant user's status is
		// read on every request (a disabled user is refused at once).
		if large > 5 {
			t.Fatalf("%d SELECTs for one page; want at most 5 (the user's status, payments, attempts, refunds, customers)", large)
		}
		t.Logf("%s: %d SELECTs for a page of 50 payments with nested attempts, refunds and customer", db.Dialect, large)
	})
}

// TestCustomersPageHasNoNPlusOne: a page of customers with their saved cards
// costs two SELECTs (customers, then every card of the page at once) however
// many customers and cards it holds.
func TestCustomersPageHasNoNPlusOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvWith(t, db, withVaultKeys)
		sys := viewer.SystemContext(context.Background())
		for i := range 30 {
			c := db.Client.Customer.Create().SetMerchantID(e.a.ID).SaveX(sys)
			if _, _, err := e.app.Vault.Tokenize(sys, vault.CardInput{MerchantID: e.a.ID, CustomerID: c.ID, Save: true,
				Number: "4242424242424242", ExpMonth: 1 + i%12, ExpYear: 2031}); err != nil {
				t.Fatal(err)
			}
		}
		drv := &countingDriver{Driver: entsql.OpenDB(db.Dialect, db.SQL)}
		counted := &store.DB{Client: ent.NewClient(ent.Driver(drv)), Dialect: db.Dialect, SQL: db.SQL}
		cfg, _ := app.ParseConfig("test", nil, func(string) string { return "" })
		withVaultKeys(&cfg, nil)
		e.app = app.New(cfg, counted, e.keys, app.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		run := func(n int) int64 {
			t.Helper()
			drv.selects.Store(0)
			r := e.do("API_KEY", `query($n: Int!) { customers(first: $n) { edges { node { id email savedCards { token maskedNumber brand } } } } }`, map[string]any{"n": n})
			if r.code() != "" || !strings.Contains(r.Raw, "424242******4242") {
				t.Fatalf("%s", truncate(r.Raw, 400))
			}
			return drv.selects.Load()
		}
		small, large := run(2), run(30)
		// The API key's lookup takes two (key, merchant); the page two more.
		if large != small || large > 4 {
			t.Fatalf("SELECTs: %d for 2 customers, %d for 30; want at most 4 each (API key and merchant, customers, cards)", small, large)
		}
	})
}
