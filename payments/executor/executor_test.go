package executor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/executor"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// probe is a step over a table of its own: each request inserts its row,
// a request named "refuse" is refused alone (its result), one named "fail"
// fails the whole transaction.
type probe struct {
	db       *store.DB
	batches  atomic.Int64
	sizes    sync.Map // batch size → count
	deferred []bool
	mu       sync.Mutex
}

type req struct{ id, key string }

func (p *probe) apply(ctx context.Context, tx *ent.Tx, reqs []req, deferWrites bool) ([]batch.Result[string], error) {
	p.batches.Add(1)
	p.mu.Lock()
	p.deferred = append(p.deferred, deferWrites)
	p.mu.Unlock()
	out := make([]batch.Result[string], len(reqs))
	for i, r := range reqs {
		switch r.id {
		case "refuse":
			out[i].Err = payments.Errorf(payments.ECONFLICT, "refused")
			continue
		case "fail":
			return out, errors.New("a write failed")
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO executor_probe (id) VALUES (?)", r.id); err != nil {
			return out, err
		}
		out[i].Value = "wrote " + r.id
	}
	return out, nil
}

func newProbe(t *testing.T, db *store.DB) *probe {
	if _, err := db.SQL.Exec("CREATE TABLE executor_probe (id VARCHAR(40) PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return &probe{db: db}
}

func (p *probe) rows(t *testing.T) map[string]bool {
	rs, err := p.db.SQL.Query("SELECT id FROM executor_probe")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]bool{}
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

func (p *probe) executor(noBatching bool) *executor.Executor[req, string] {
	return executor.New(executor.Config{Client: p.db.Client, NoBatching: noBatching},
		executor.Step[req, string]{Name: "probe", Max: 64, Key: func(r req) string { return r.key }, Apply: p.apply})
}

func TestALoneRequestIsABatchOfOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newProbe(t, db)
		e := p.executor(false)
		got, err := e.Do(context.Background(), req{id: "a", key: "a"})
		if err != nil || got != "wrote a" {
			t.Fatalf("Do = %q, %v", got, err)
		}
		if st := e.Stats(); st.Batches != 1 || st.Requests != 1 {
			t.Fatalf("stats %+v", st)
		}
		if !p.rows(t)["a"] || !p.deferred[0] {
			t.Fatalf("rows %v, deferred %v", p.rows(t), p.deferred)
		}
	})
}

func TestConcurrentRequestsShareATransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newProbe(t, db)
		e := p.executor(false)
		const n = 40
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.Do(context.Background(), req{id: fmt.Sprint("r", i), key: fmt.Sprint("r", i)})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got := len(p.rows(t)); got != n {
			t.Fatalf("%d rows, want %d", got, n)
		}
		if st := e.Stats(); st.Requests != n || st.Batches >= n {
			t.Logf("no batch held two requests this time: %+v", st) // scheduling: not an error
		}
	})
}

func TestABatchThatFailsRunsEachAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newProbe(t, db)
		// Concurrent requests, likely one batch: "fail" fails the
		// transaction, so "x" and "y" must be written by their lone runs
		// and "fail" answered with its error; "refuse" is refused alone
		// in the first transaction, which still commits the others.
		run := executor.New(executor.Config{Client: db.Client}, executor.Step[req, string]{Name: "probe", Max: 64,
			Key: func(r req) string { return r.key }, Apply: p.apply})
		var wg sync.WaitGroup
		res := make([]error, 4)
		vals := make([]string, 4)
		for i, r := range []req{{"x", "x"}, {"fail", "f"}, {"y", "y"}, {"refuse", "r"}} {
			wg.Go(func() { vals[i], res[i] = run.Do(context.Background(), r) })
		}
		wg.Wait()
		if res[0] != nil || res[2] != nil || vals[0] != "wrote x" || vals[2] != "wrote y" {
			t.Fatalf("x, y = %q %v, %q %v", vals[0], res[0], vals[2], res[2])
		}
		if res[1] == nil || payments.ErrorCode(res[3]) != payments.ECONFLICT {
			t.Fatalf("fail, refuse = %v, %v", res[1], res[3])
		}
		rows := p.rows(t)
		if !rows["x"] || !rows["y"] || len(rows) != 2 {
			t.Fatalf("rows %v", rows)
		}
	})
}

func TestALoneFailureRunsAgainWithoutDeferredWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newProbe(t, db)
		e := p.executor(true)
		_, err := e.Do(context.Background(), req{id: "fail", key: "f"})
		if err == nil {
			t.Fatal("no error")
		}
		// An error with no code of its own: the first run deferred its
		// writes, the second let each answer for itself.
		if len(p.deferred) != 2 || !p.deferred[0] || p.deferred[1] {
			t.Fatalf("runs (deferWrites) %v", p.deferred)
		}
	})
}

func TestSameKeyRunsAfterTheFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := newProbe(t, db)
		e := p.executor(false)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{"k1", "k2"} {
			wg.Go(func() { _, errs[i] = e.Do(context.Background(), req{id: id, key: "same"}) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if rows := p.rows(t); !rows["k1"] || !rows["k2"] {
			t.Fatalf("rows %v", rows)
		}
	})
}
