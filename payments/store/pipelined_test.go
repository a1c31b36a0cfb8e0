package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/merchant"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

func newMerchant(ctx context.Context, c *ent.Client, name string) *ent.Merchant {
	return c.Merchant.Create().SetLegalName(name).SetCountry("US").SetSettlementCurrency("USD").SaveX(ctx)
}

// openTransactions counts the InnoDB transactions open on the pool's one
// connection (the caller limits the pool to one).
func openTransactions(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	err := db.SQL.QueryRow("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPipelinedTransactionsSendNoStatementOfTheirOwn: on MySQL, START
// TRANSACTION goes with a transaction's first statement, COMMIT with the
// writes deferred to it, and a transaction that sent nothing costs no round
// trip at all.
func TestPipelinedTransactionsSendNoStatementOfTheirOwn(t *testing.T) {
	db, trips := storetest.OpenCounting(t)
	ctx := viewer.SystemContext(context.Background())

	before := trips.Trips.Load()
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := trips.Trips.Load() - before; n != 0 {
		t.Fatalf("an empty transaction made %d round trips, want 0", n)
	}

	var sent []string
	sent = trips.Traced(func() {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := newMerchant(ctx, tx.Client(), "Acme")
		w := store.NewWrites(tx, db.Dialect, true)
		w.Client().Merchant.Create().SetLegalName("Deferred").SetCountry("US").SetSettlementCurrency("USD").ExecX(ctx)
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := store.UpdateRows(ctx, w, merchant.Table, []store.RowUpdate{{ID: m.ID, Set: store.Row{merchant.FieldLegalName: "Acme Ltd"}}}, m.CreatedAt); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	})
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "START TRANSACTION;\nINSERT") ||
		!strings.Contains(sent[1], "INSERT") || !strings.Contains(sent[1], "UPDATE") || !strings.HasSuffix(sent[1], ";\nCOMMIT") {
		t.Fatalf("round trips:\n%s\nwant START TRANSACTION with the first insert, then the deferred writes with COMMIT", strings.Join(sent, "\n--\n"))
	}
	names := db.Client.Merchant.Query().Order(merchant.ByLegalName()).Select(merchant.FieldLegalName).StringsX(ctx)
	if strings.Join(names, ",") != "Acme Ltd,Deferred" {
		t.Fatalf("committed merchants %v", names)
	}
}

// TestAFailedDeferredWriteRollsTheTransactionBack: a deferred write that
// fails at COMMIT fails Commit with its own error, nothing of the
// transaction stays, and the connection goes back to the pool with no
// transaction open. A rollback after statements were sent undoes them the
// same way.
func TestAFailedDeferredWriteRollsTheTransactionBack(t *testing.T) {
	db, _ := storetest.OpenCounting(t)
	db.SQL.SetMaxOpenConns(1) // every transaction below uses the same connection
	ctx := viewer.SystemContext(context.Background())
	first := newMerchant(ctx, db.Client, "First")

	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newMerchant(ctx, tx.Client(), "Written at once")
	w := store.NewWrites(tx, db.Dialect, true)
	w.Client().Merchant.Create().SetID(first.ID).SetLegalName("Duplicate").SetCountry("US").SetSettlementCurrency("USD").ExecX(ctx)
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (the write is deferred to the commit)", err)
	}
	err = tx.Commit()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1062 {
		t.Fatalf("Commit = %v, want the duplicate key error of the deferred insert", err)
	}
	if n := openTransactions(t, db); n != 0 {
		t.Fatalf("%d transactions open on the pool's connection after a failed commit", n)
	}
	if n := db.Client.Merchant.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d merchants after the failed commit, want 1", n)
	}

	tx, err = db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newMerchant(ctx, tx.Client(), "Rolled back")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := openTransactions(t, db); n != 0 {
		t.Fatalf("%d transactions open after a rollback", n)
	}
	if n := db.Client.Merchant.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d merchants after the rollback, want 1", n)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("Commit after Rollback succeeded")
	}
}

// TestReadTogetherReadsWhatEachReadWouldAlone: the reads get what they
// would get one by one, their entities belong to the transaction (Unwrap),
// and the transaction goes on as usual.
func TestReadTogetherReadsWhatEachReadWouldAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := viewer.SystemContext(context.Background())
		m := newMerchant(ctx, db.Client, "Acme")
		newMerchant(ctx, db.Client, "Other")
		var ids []string
		for _, ref := range []string{"a", "b", "c"} {
			p := db.Client.Payment.Create().SetMerchantID(m.ID).SetAmount(1000).SetCurrency("USD").SetMerchantReference(ref).SaveX(ctx)
			ids = append(ids, p.ID)
		}
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var ps []*ent.Payment
		var ms []*ent.Merchant
		var none []*ent.Payment
		err = store.ReadTogether(ctx, tx.Client(), db.Dialect,
			func(ctx context.Context, c *ent.Client) (err error) {
				q := c.Payment.Query().Where(payment.IDIn(ids...)).Order(payment.ByID())
				if db.Dialect == "mysql" {
					q = q.ForUpdate()
				}
				ps, err = q.All(ctx)
				return err
			},
			func(ctx context.Context, c *ent.Client) (err error) {
				ms, err = c.Merchant.Query().Order(merchant.ByLegalName()).All(ctx)
				return err
			},
			func(ctx context.Context, c *ent.Client) (err error) {
				none, err = c.Payment.Query().Where(payment.MerchantReference("none")).All(ctx)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 3 || ps[0].MerchantReference != "a" || ps[2].Amount != 1000 {
			t.Fatalf("payments %v", ps)
		}
		if len(ms) != 2 || ms[0].LegalName != "Acme" || ms[1].LegalName != "Other" || len(none) != 0 {
			t.Fatalf("merchants %v, none %v", ms, none)
		}
		if n := tx.Client().Payment.Query().CountX(ctx); n != 3 {
			t.Fatalf("the transaction is unusable after the reads: %d payments", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		ps[0].Unwrap() // panics unless the entity is the transaction's
	})
}

// TestReadTogetherRefusesAReadOfTwoQueries: on MySQL a read that makes a
// second query (eager loading) fails with an error that says so, rather
// than reading another read's result set; the pool stays usable.
func TestReadTogetherRefusesAReadOfTwoQueries(t *testing.T) {
	db := storetest.Open(t, "mysql")
	ctx := viewer.SystemContext(context.Background())
	m := newMerchant(ctx, db.Client, "Acme")
	db.Client.Payment.Create().SetMerchantID(m.ID).SetAmount(1000).SetCurrency("USD").SetMerchantReference("a").SaveX(ctx)
	err := store.ReadTogether(ctx, db.Client, db.Dialect,
		func(ctx context.Context, c *ent.Client) error {
			_, err := c.Payment.Query().WithMerchant().All(ctx)
			return err
		},
		func(ctx context.Context, c *ent.Client) error { _, err := c.Merchant.Query().All(ctx); return err })
	if err == nil || !strings.Contains(err.Error(), "another query") {
		t.Fatalf("err = %v, want a refusal of the second query", err)
	}
	if n := db.Client.Payment.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d payments", n)
	}
}

// TestReadTogetherIsOneRoundTrip counts the round trips on MySQL: one for
// the reads with START TRANSACTION in a transaction, one on the pool.
func TestReadTogetherIsOneRoundTrip(t *testing.T) {
	db, trips := storetest.OpenCounting(t)
	ctx := viewer.SystemContext(context.Background())
	newMerchant(ctx, db.Client, "Acme")
	reads := func(c *ent.Client) error {
		var a, b int
		return store.ReadTogether(ctx, c, db.Dialect,
			func(ctx context.Context, c *ent.Client) (err error) {
				a, err = c.Merchant.Query().Count(ctx)
				return err
			},
			func(ctx context.Context, c *ent.Client) (err error) {
				b, err = c.Payment.Query().Count(ctx)
				if err == nil && (a != 1 || b != 0) {
					err = errors.New("wrong counts")
				}
				return err
			})
	}
	sent := trips.Traced(func() {
		if err := reads(db.Client); err != nil {
			t.Fatal(err)
		}
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := reads(tx.Client()); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	})
	if len(sent) != 3 || strings.Count(sent[0], "SELECT") != 2 || !strings.HasPrefix(sent[1], "START TRANSACTION;\nSELECT") ||
		strings.Count(sent[1], "SELECT") != 2 || sent[2] != "COMMIT" {
		t.Fatalf("round trips:\n%s", strings.Join(sent, "\n--\n"))
	}

	// A read's own error stops the others.
	boom := errors.New("boom")
	ranAfter := false
	err := store.ReadTogether(ctx, db.Client, db.Dialect,
		func(ctx context.Context, c *ent.Client) error { _, err := c.Merchant.Query().All(ctx); return err },
		func(ctx context.Context, c *ent.Client) error {
			if _, err := c.Payment.Query().All(ctx); err != nil {
				return err
			}
			return boom
		},
		func(ctx context.Context, c *ent.Client) error {
			_, err := c.Merchant.Query().All(ctx)
			ranAfter = err == nil // the first call only learns the SQL
			return err
		})
	if !errors.Is(err, boom) || ranAfter {
		t.Fatalf("err = %v (a read after it ran: %v), want the read's own error and no read after it", err, ranAfter)
	}
	if n := newMerchant(ctx, db.Client, "After"); n == nil {
		t.Fatal("pool unusable")
	}
}

// TestAPipelinedTransactionEndsWithItsContext: a transaction whose context
// ends before it does is rolled back at once (its locks released, its
// connection back in the pool with nothing open), and cannot commit, as
// database/sql's transactions behave.
func TestAPipelinedTransactionEndsWithItsContext(t *testing.T) {
	db, _ := storetest.OpenCounting(t)
	db.SQL.SetMaxOpenConns(1)
	sys := viewer.SystemContext(context.Background())
	ctx, cancel := context.WithCancel(sys)
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newMerchant(sys, tx.Client(), "Abandoned")
	cancel()
	// The pool's one connection is free again, with no transaction open.
	if n := openTransactions(t, db); n != 0 {
		t.Fatalf("%d transactions open after the context ended", n)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a transaction committed after its context ended")
	}
	if n := db.Client.Merchant.Query().CountX(sys); n != 0 {
		t.Fatalf("%d merchants, want 0", n)
	}
}

// TestADeadlockInJoinedReadsIsTransientAndLeavesNothingOpen: two
// transactions lock two rows in opposite orders, the second lock of each
// going through ReadTogether. InnoDB refuses one with a deadlock, which
// reaches its caller as a transient error (store.IsTransient) from the
// joined read; after its rollback its connection holds no transaction, and
// the other commits.
func TestADeadlockInJoinedReadsIsTransientAndLeavesNothingOpen(t *testing.T) {
	db, _ := storetest.OpenCounting(t)
	ctx := viewer.SystemContext(context.Background())
	a, b := newMerchant(ctx, db.Client, "A"), newMerchant(ctx, db.Client, "B")

	type outcome struct {
		err       error
		committed bool
	}
	first := make(chan struct{}, 2)
	run := func(x, y string, out chan<- outcome) {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			out <- outcome{err: err}
			return
		}
		c := tx.Client()
		if _, err := c.Merchant.Query().Where(merchant.ID(x)).ForUpdate().Only(ctx); err != nil {
			_ = tx.Rollback()
			out <- outcome{err: err}
			return
		}
		first <- struct{}{}
		for len(first) < 2 { // both hold their first lock
			time.Sleep(time.Millisecond)
		}
		// The joined read: an unlocked read, then the other row's lock.
		err = store.ReadTogether(ctx, c, db.Dialect,
			func(ctx context.Context, c *ent.Client) error { _, err := c.Payment.Query().All(ctx); return err },
			func(ctx context.Context, c *ent.Client) error {
				_, err := c.Merchant.Query().Where(merchant.ID(y)).ForUpdate().Only(ctx)
				return err
			})
		if err != nil {
			_ = tx.Rollback()
			out <- outcome{err: err}
			return
		}
		out <- outcome{err: tx.Commit(), committed: true}
	}
	outs := make(chan outcome, 2)
	go run(a.ID, b.ID, outs)
	go run(b.ID, a.ID, outs)
	o1, o2 := <-outs, <-outs
	victim, winner := o1, o2
	if o1.committed {
		victim, winner = o2, o1
	}
	if !winner.committed || winner.err != nil {
		t.Fatalf("winner: %+v, victim: %+v", winner, victim)
	}
	if victim.err == nil || !store.IsTransient(victim.err) {
		t.Fatalf("victim's error = %v, want a transient deadlock", victim.err)
	}
	var n int
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id IN (SELECT id FROM information_schema.processlist WHERE db = DATABASE())").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d transactions left open", n)
	}
}

// TestReadTogetherTakesAJoinAsItsReads: the reads of a Join are read
// with the others, in order, in the same one round trip on MySQL, and
// each gets what it would alone (on SQLite, one after the other).
func TestReadTogetherTakesAJoinAsItsReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := viewer.SystemContext(context.Background())
		newMerchant(ctx, db.Client, "Acme")
		newMerchant(ctx, db.Client, "Other")
		var a, b, c int
		var names []string
		count := func(dst *int, q func(c *ent.Client) (int, error)) store.Read {
			return func(ctx context.Context, cl *ent.Client) (err error) {
				*dst, err = q(cl)
				return err
			}
		}
		err := store.ReadTogether(ctx, db.Client, db.Dialect,
			count(&a, func(c *ent.Client) (int, error) { return c.Merchant.Query().Count(ctx) }),
			store.Join(
				count(&b, func(c *ent.Client) (int, error) { return c.Payment.Query().Count(ctx) }),
				func(ctx context.Context, cl *ent.Client) (err error) {
					names, err = cl.Merchant.Query().Order(merchant.ByLegalName()).Select(merchant.FieldLegalName).Strings(ctx)
					return err
				}),
			count(&c, func(c *ent.Client) (int, error) {
				return c.Merchant.Query().Where(merchant.LegalName("Acme")).Count(ctx)
			}))
		if err != nil {
			t.Fatal(err)
		}
		if a != 2 || b != 0 || c != 1 || strings.Join(names, ",") != "Acme,Other" {
			t.Fatalf("read %d, %d, %d, %v; want 2, 0, 1, [Acme Other]", a, b, c, names)
		}
	})
	db, trips := storetest.OpenCounting(t)
	ctx := viewer.SystemContext(context.Background())
	read := func(ctx context.Context, c *ent.Client) error { _, err := c.Merchant.Query().Count(ctx); return err }
	sent := trips.Traced(func() {
		if err := store.ReadTogether(ctx, db.Client, db.Dialect, read, store.Join(read, read)); err != nil {
			t.Fatal(err)
		}
	})
	if len(sent) != 1 || strings.Count(sent[0], ";\n") != 2 {
		t.Fatalf("round trips %q, want one of three statements", sent)
	}
}
