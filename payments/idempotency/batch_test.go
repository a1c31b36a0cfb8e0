package idempotency_test

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
)

// recorder is a dialect.Driver that counts the statements and durable commits
// reaching the database, can hold a statement until the test lets it go, and
// can fail one with an injected error.
type recorder struct {
	dialect.Driver

	mu      sync.Mutex
	stmts   []string // every statement, BEGIN and COMMIT included
	commits int      // autocommit writes and COMMITs
	held    *hold
	fail    map[string]error // the next statement with this prefix fails
}

type hold struct {
	prefix  string
	reached chan struct{}
	release chan struct{}
}

func newRecorder(db *store.DB) *recorder {
	return &recorder{Driver: entsql.OpenDB(db.Dialect, db.SQL), fail: map[string]error{}}
}

// note records query and returns the error to fail it with, if any. A
// statement the test holds waits here, before it reaches the database.
func (r *recorder) note(query string, inTx bool) error {
	r.mu.Lock()
	r.stmts = append(r.stmts, query)
	if !inTx && isWrite(query) {
		r.commits++
	}
	h := r.held
	if h != nil && strings.HasPrefix(query, h.prefix) {
		r.held = nil
	} else {
		h = nil
	}
	var err error
	for prefix, e := range r.fail {
		if strings.HasPrefix(query, prefix) {
			err = e
			delete(r.fail, prefix)
			break
		}
	}
	r.mu.Unlock()
	if h != nil {
		close(h.reached)
		<-h.release
	}
	return err
}

func isWrite(query string) bool {
	for _, w := range []string{"INSERT", "UPDATE", "DELETE"} {
		if strings.HasPrefix(query, w) {
			return true
		}
	}
	return false
}

// holdNext makes the next statement starting with prefix wait: reached is
// closed when it arrives, and it runs once release is called.
func (r *recorder) holdNext(prefix string) (reached <-chan struct{}, release func()) {
	h := &hold{prefix: prefix, reached: make(chan struct{}), release: make(chan struct{})}
	r.mu.Lock()
	r.held = h
	r.mu.Unlock()
	var once sync.Once
	return h.reached, func() { once.Do(func() { close(h.release) }) }
}

func (r *recorder) failNext(prefix string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[prefix] = err
}

// count returns how many statements start with prefix, and the commits.
func (r *recorder) count(prefix string) (n, commits int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.stmts {
		if strings.HasPrefix(q, prefix) {
			n++
		}
	}
	return n, r.commits
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.stmts)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts, r.commits = nil, 0
}

func (r *recorder) Exec(ctx context.Context, query string, args, v any) error {
	if err := r.note(query, false); err != nil {
		return err
	}
	return r.Driver.Exec(ctx, query, args, v)
}

func (r *recorder) Query(ctx context.Context, query string, args, v any) error {
	if err := r.note(query, false); err != nil {
		return err
	}
	return r.Driver.Query(ctx, query, args, v)
}

// ExecContext serves hand-written statements outside a transaction.
func (r *recorder) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	if err := r.note(query, false); err != nil {
		return nil, err
	}
	return r.Driver.(*entsql.Driver).ExecContext(ctx, query, args...)
}

func (r *recorder) Tx(ctx context.Context) (dialect.Tx, error) {
	if err := r.note("BEGIN", true); err != nil {
		return nil, err
	}
	tx, err := r.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &recordedTx{Tx: tx, r: r}, nil
}

type recordedTx struct {
	dialect.Tx
	r *recorder
}

func (t *recordedTx) Exec(ctx context.Context, query string, args, v any) error {
	if err := t.r.note(query, true); err != nil {
		return err
	}
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *recordedTx) Query(ctx context.Context, query string, args, v any) error {
	if err := t.r.note(query, true); err != nil {
		return err
	}
	return t.Tx.Query(ctx, query, args, v)
}

func (t *recordedTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	if err := t.r.note(query, true); err != nil {
		return nil, err
	}
	return t.Tx.(*entsql.Tx).ExecContext(ctx, query, args...)
}

func (t *recordedTx) Commit() error {
	t.r.mu.Lock()
	t.r.stmts = append(t.r.stmts, "COMMIT")
	t.r.commits++
	t.r.mu.Unlock()
	return t.Tx.Commit()
}

// txOnly hides the recorder's ExecContext, as wrappers of dialect.Driver
// without one do: the Service must then store answers in a transaction.
type txOnly struct{ r *recorder }

func (d txOnly) Exec(ctx context.Context, query string, args, v any) error {
	return d.r.Exec(ctx, query, args, v)
}
func (d txOnly) Query(ctx context.Context, query string, args, v any) error {
	return d.r.Query(ctx, query, args, v)
}
func (d txOnly) Tx(ctx context.Context) (dialect.Tx, error) { return d.r.Tx(ctx) }
func (d txOnly) Close() error                               { return d.r.Close() }
func (d txOnly) Dialect() string                            { return d.r.Dialect() }

// recorded returns a Service over db whose statements rec sees; with
// inTx, its driver cannot run hand-written statements outside a transaction.
func recorded(t *testing.T, db *store.DB, cfg idempotency.Config, inTx bool) (*idempotency.Service, *recorder, *clock) {
	t.Helper()
	rec := newRecorder(db)
	var drv dialect.Driver = rec
	if inTx {
		drv = txOnly{rec}
	}
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.Now
	s := idempotency.New(ent.NewClient(ent.Driver(drv)), cfg)
	t.Cleanup(s.Close)
	return s, rec, c
}

// eachDriver runs fn on a fresh database of every dialect, with answers
// stored outside a transaction (as Strait's store drivers allow) and inside
// one.
func eachDriver(t *testing.T, fn func(t *testing.T, db *store.DB, inTx bool)) {
	for _, d := range storetest.Dialects(t) {
		for _, inTx := range []bool{false, true} {
			name := d + "/" + map[bool]string{false: "autocommit", true: "tx"}[inTx]
			t.Run(name, func(t *testing.T) { fn(t, storetest.Open(t, d), inTx) })
		}
	}
}

// holdBehind runs first, which must send a statement starting with prefix,
// and holds that statement until release is called; release then waits for
// first to return.
func holdBehind(t *testing.T, rec *recorder, prefix string, first func()) (release func()) {
	t.Helper()
	reached, let := rec.holdNext(prefix)
	done := make(chan struct{})
	go func() { defer close(done); first() }()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		let()
		t.Fatalf("no %s statement was sent", prefix)
	}
	return func() { let(); <-done }
}

// lineUp runs first, which must send a statement starting with prefix, and
// holds that statement while it starts each of rest in order, waiting until
// each is queued behind it: rest then runs as one batch. It returns when all
// have returned.
func lineUp(t *testing.T, s *idempotency.Service, rec *recorder, prefix string, first func(), rest ...func()) {
	t.Helper()
	release := holdBehind(t, rec, prefix, first)
	var wg sync.WaitGroup
	for i, fn := range rest {
		wg.Go(fn)
		if !queued(s, i+1) {
			release()
			t.Fatalf("call %d was not queued", i)
		}
	}
	release()
	wg.Wait()
}

// queued waits until n claims or n answers are queued, and reports whether
// they were within 10 s.
func queued(s *idempotency.Service, n int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if claims, answers := idempotency.Queued(s); claims == n || answers == n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// call is one Begin whose outcome a test checks after the fact.
type call struct {
	key, op, hash string
	out           idempotency.Outcome
	err           error
}

func (c *call) begin(s *idempotency.Service) func() {
	return func() { c.out, c.err = s.Begin(context.Background(), "mer_a", c.key, c.op, c.hash) }
}

// claimed reports whether c got a first claim of its key.
func (c *call) claimed() bool {
	return c.err == nil && !c.out.Replayed() && c.out.Token.Attempt() == 1
}

// TestConcurrentBeginsAndCompletesShareStatements lines up ten Begins behind
// a held one: the ten new keys are inserted by one statement, and their ten
// answers are stored by one statement, one commit each.
func TestConcurrentBeginsAndCompletesShareStatements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		calls := make([]*call, 11)
		fns := make([]func(), len(calls))
		for i := range calls {
			calls[i] = &call{key: fmt.Sprintf("k%d", i), op: "refund", hash: "h1"}
			fns[i] = calls[i].begin(s)
		}
		lineUp(t, s, rec, "INSERT", fns[0], fns[1:]...)
		inserts, commits := rec.count("INSERT")
		if inserts != 2 || commits != 2 {
			t.Errorf("11 Begins: %d INSERTs, %d commits; want 2 and 2 (one held, one for the other ten)", inserts, commits)
		}
		for i, c := range calls {
			if !c.claimed() {
				t.Fatalf("Begin %d = %+v, %v; want a first claim", i, c.out, c.err)
			}
		}

		rec.reset()
		errs := make([]error, len(calls))
		for i, c := range calls {
			fns[i] = func() { errs[i] = s.Complete(context.Background(), c.out.Token, fmt.Appendf(nil, `"answer %d"`, i)) }
		}
		lineUp(t, s, rec, "UPDATE", fns[0], fns[1:]...)
		updates, commits := rec.count("UPDATE")
		if total := rec.total(); updates != 2 || commits != 2 || total != 2 {
			t.Errorf("11 Completes: %d UPDATEs, %d commits, %d statements; want 2, 2, 2", updates, commits, total)
		}
		for i, c := range calls {
			if errs[i] != nil {
				t.Errorf("Complete %d: %v", i, errs[i])
			}
			out := begin(t, s, "mer_a", c.key, "refund", "h1")
			if want := fmt.Sprintf(`"answer %d"`, i); string(out.Replay) != want {
				t.Errorf("%s replays %q, want %q", c.key, out.Replay, want)
			}
		}
	})
}

// TestFiftyBeginsOfOneKeyInOneBatchRunOnce puts 50 Begins of one key in one
// batch: one claims it, the others wait for its answer and replay it.
func TestFiftyBeginsOfOneKeyInOneBatchRunOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		var runs atomic.Int32
		answers := make([][]byte, 50)
		errs := make([]error, len(answers))
		fns := make([]func(), len(answers))
		for i := range fns {
			fns[i] = func() {
				out, err := s.Begin(context.Background(), "mer_a", "k1", "refund", "h1")
				switch {
				case err != nil:
					errs[i] = err
				case out.Replayed():
					answers[i] = out.Replay
				default:
					runs.Add(1)
					time.Sleep(20 * time.Millisecond) // the work
					answers[i] = []byte(`{"ran":true}`)
					errs[i] = s.Complete(context.Background(), out.Token, answers[i])
				}
			}
		}
		warm := &call{key: "warm-up", op: "refund", hash: "h1"}
		lineUp(t, s, rec, "INSERT", warm.begin(s), fns...)
		if runs.Load() != 1 {
			t.Fatalf("%d executions of one key, want 1", runs.Load())
		}
		for i, a := range answers {
			if errs[i] != nil || string(a) != `{"ran":true}` {
				t.Errorf("Begin %d got %q, %v", i, a, errs[i])
			}
		}
	})
}

// TestABatchKeepsEveryOutcomeOfBegin lines up, in one batch, new keys, a key
// twice with the same request and a key three times with different
// requests; then, in another, keys already stored or in flight beside a new
// one. Each Begin answers as it would alone.
func TestABatchKeepsEveryOutcomeOfBegin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{Wait: 5 * time.Second}, false)
		ctx := context.Background()

		fresh := []*call{
			{key: "new1", op: "refund", hash: "h1"},
			{key: "dup", op: "refund", hash: "h1"},
			{key: "twice", op: "refund", hash: "h1"},
			{key: "dup", op: "refund", hash: "h1"},    // waits for the first, replays it
			{key: "twice", op: "refund", hash: "h2"},  // another request
			{key: "twice", op: "capture", hash: "h1"}, // another operation
		}
		fns := make([]func(), len(fresh))
		for i, c := range fresh {
			fns[i] = c.begin(s)
		}
		fns[1] = func() { // the first "dup" runs and answers
			fresh[1].begin(s)()
			if fresh[1].claimed() {
				time.Sleep(20 * time.Millisecond)
				if err := s.Complete(ctx, fresh[1].out.Token, []byte(`"dup"`)); err != nil {
					t.Error(err)
				}
			}
		}
		warm := &call{key: "warm-up", op: "refund", hash: "h1"}
		lineUp(t, s, rec, "INSERT", warm.begin(s), fns...)
		for i, c := range fresh[:3] {
			if !c.claimed() {
				t.Errorf("Begin %d (%s): %+v, %v; want a first claim", i, c.key, c.out, c.err)
			}
		}
		if c := fresh[3]; c.err != nil || string(c.out.Replay) != `"dup"` {
			t.Errorf("second Begin of dup: %+v, %v; want the first's answer", c.out, c.err)
		}
		for _, c := range fresh[4:] {
			if payments.ErrorCode(c.err) != payments.ECONFLICT {
				t.Errorf("Begin of %s with %s %s: err = %v, want a conflict", c.key, c.op, c.hash, c.err)
			}
		}

		// Keys already stored make the batch's INSERT fail: each claims alone.
		if err := s.Complete(ctx, fresh[0].out.Token, []byte(`"new1"`)); err != nil {
			t.Fatal(err)
		}
		busy := fresh[2].out.Token // "twice", still in flight
		stored := []*call{
			{key: "new1", op: "refund", hash: "h1"},  // replays
			{key: "new1", op: "capture", hash: "h1"}, // conflicts
			{key: "new2", op: "refund", hash: "h1"},  // claims
			{key: "twice", op: "refund", hash: "h1"}, // waits for busy, then replays
		}
		fns = make([]func(), len(stored))
		for i, c := range stored {
			fns[i] = c.begin(s)
		}
		fns[3] = func() {
			go func() {
				time.Sleep(50 * time.Millisecond)
				if err := s.Complete(ctx, busy, []byte(`"twice"`)); err != nil {
					t.Error(err)
				}
			}()
			stored[3].begin(s)()
		}
		warm = &call{key: "warm-up-2", op: "refund", hash: "h1"}
		lineUp(t, s, rec, "INSERT", warm.begin(s), fns...)
		if c := stored[0]; c.err != nil || string(c.out.Replay) != `"new1"` {
			t.Errorf("stored key: %+v, %v; want its answer", c.out, c.err)
		}
		if c := stored[1]; payments.ErrorCode(c.err) != payments.ECONFLICT {
			t.Errorf("stored key, another operation: err = %v, want a conflict", c.err)
		}
		if c := stored[2]; !c.claimed() {
			t.Errorf("new key beside stored ones: %+v, %v; want a first claim", c.out, c.err)
		}
		if c := stored[3]; c.err != nil || string(c.out.Replay) != `"twice"` {
			t.Errorf("key in flight: %+v, %v; want its answer once stored", c.out, c.err)
		}
	})
}

// TestALostClaimConflictsInsideABatch stores, in one batch, the answers of a
// token whose record a retry took over, of that retry, of a fresh claim, of a
// released claim and of one token twice: only the live claims store theirs,
// once.
func TestALostClaimConflictsInsideABatch(t *testing.T) {
	eachDriver(t, func(t *testing.T, db *store.DB, inTx bool) {
		s, rec, c := recorded(t, db, idempotency.Config{Lease: time.Minute, Wait: 50 * time.Millisecond}, inTx)
		ctx := context.Background()
		dead := begin(t, s, "mer_a", "taken", "refund", "h1").Token
		c.Advance(time.Minute + time.Second)
		retry := begin(t, s, "mer_a", "taken", "refund", "h1").Token
		if retry.Attempt() != 2 {
			t.Fatalf("retry attempt %d, want 2", retry.Attempt())
		}
		fresh := begin(t, s, "mer_a", "fresh", "refund", "h1").Token
		released := begin(t, s, "mer_a", "released", "refund", "h1").Token
		if err := s.Release(ctx, released); err != nil {
			t.Fatal(err)
		}
		twice := begin(t, s, "mer_a", "twice", "refund", "h1").Token
		warm := begin(t, s, "mer_a", "warm-up", "refund", "h1").Token

		type completion struct {
			tok    idempotency.Token
			answer string
			want   string // the error code; "" when the answer is stored
			err    error
		}
		calls := []*completion{
			{tok: dead, answer: `"stale"`, want: payments.ECONFLICT},
			{tok: fresh, answer: `"fresh"`},
			{tok: retry, answer: `"retry"`},
			{tok: released, answer: `"released"`, want: payments.ECONFLICT},
			{tok: twice, answer: `"first"`},
			{tok: twice, answer: `"second"`, want: payments.ECONFLICT},
		}
		fns := make([]func(), len(calls))
		for i, cl := range calls {
			fns[i] = func() { cl.err = s.Complete(ctx, cl.tok, []byte(cl.answer)) }
		}
		prefix := "UPDATE"
		if inTx {
			prefix = "BEGIN"
		}
		var warmErr error
		lineUp(t, s, rec, prefix, func() { warmErr = s.Complete(ctx, warm, []byte(`"warm"`)) }, fns...)
		if warmErr != nil {
			t.Fatal(warmErr)
		}
		for i, cl := range calls {
			if got := payments.ErrorCode(cl.err); got != cl.want || (cl.want == "" && cl.err != nil) {
				t.Errorf("Complete %d (%s): err = %v, want code %q", i, cl.answer, cl.err, cl.want)
			}
		}
		for key, want := range map[string]string{"taken": `"retry"`, "fresh": `"fresh"`, "twice": `"first"`, "warm-up": `"warm"`} {
			if out := begin(t, s, "mer_a", key, "refund", "h1"); string(out.Replay) != want {
				t.Errorf("%s replays %q, want %q", key, out.Replay, want)
			}
		}
		if out := begin(t, s, "mer_a", "released", "refund", "h2"); out.Replayed() {
			t.Errorf("released key replays %q", out.Replay)
		}
	})
}

// TestACallerWhoLeavesBeforeItsBatchWritesNothing cancels a Begin and a
// Complete while they wait behind a held batch.
func TestACallerWhoLeavesBeforeItsBatchWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		bg := context.Background()
		// leave queues fn behind a held statement, cancels its ctx there,
		// and returns fn's error, before the held batch goes on.
		leave := func(prefix string, first func(), fn func(ctx context.Context) error) error {
			t.Helper()
			release := holdBehind(t, rec, prefix, first)
			defer release()
			ctx, cancel := context.WithCancel(bg)
			errc := make(chan error, 1)
			go func() { errc <- fn(ctx) }()
			if !queued(s, 1) {
				t.Fatal("the call was not queued")
			}
			cancel()
			return <-errc
		}

		warm := &call{key: "warm-up", op: "refund", hash: "h1"}
		err := leave("INSERT", warm.begin(s), func(ctx context.Context) error {
			_, err := s.Begin(ctx, "mer_a", "left", "refund", "h1")
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Begin whose caller left: %v, want context.Canceled", err)
		}
		// Nothing was written: the key is free for any request.
		tok := begin(t, s, "mer_a", "left", "refund", "h2").Token
		if tok.Attempt() != 1 {
			t.Fatalf("attempt %d, want a first claim", tok.Attempt())
		}

		warmTok := begin(t, s, "mer_a", "warm-up-2", "refund", "h1").Token
		err = leave("UPDATE", func() { _ = s.Complete(bg, warmTok, []byte(`"warm"`)) }, func(ctx context.Context) error {
			return s.Complete(ctx, tok, []byte(`"lost"`))
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Complete whose caller left: %v, want context.Canceled", err)
		}
		// Nothing was stored: the claim is still in flight and takes an answer.
		if err := s.Complete(bg, tok, []byte(`"kept"`)); err != nil {
			t.Fatal(err)
		}
		if out := begin(t, s, "mer_a", "left", "refund", "h2"); string(out.Replay) != `"kept"` {
			t.Fatalf("replay %q, want the answer stored after", out.Replay)
		}
	})
}

// TestACallerWhoLeavesDuringItsBatchFreesTheKey cancels a Begin while its
// batch's INSERT runs: the batch releases the claim it made.
func TestACallerWhoLeavesDuringItsBatchFreesTheKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		ctx, cancel := context.WithCancel(context.Background())
		reached, let := rec.holdNext("INSERT")
		errc := make(chan error, 1)
		go func() { _, err := s.Begin(ctx, "mer_a", "left", "refund", "h1"); errc <- err }()
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			let()
			t.Fatal("no INSERT was sent")
		}
		cancel()
		// Begin returns as soon as its caller leaves, while the INSERT is
		// still held: the answer must not depend on which comes first.
		var err error
		select {
		case err = <-errc:
		case <-time.After(10 * time.Second):
			t.Fatal("Begin did not return when its caller left")
		}
		let()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Begin: %v, want context.Canceled", err)
		}
		s.Close() // waits for the batch, and for its release of the claim
		other := idempotency.New(ent.NewClient(ent.Driver(rec)), idempotency.Config{})
		t.Cleanup(other.Close)
		if out := begin(t, other, "mer_a", "left", "refund", "h2"); out.Replayed() || out.Token.Attempt() != 1 {
			t.Fatalf("after the caller left: %+v, want a first claim", out)
		}
	})
}

// TestCloseWritesWhatIsQueuedThenRefuses closes the Service while claims
// wait behind a held batch: they are written, and later calls refused.
func TestCloseWritesWhatIsQueuedThenRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		calls := make([]*call, 4)
		for i := range calls {
			calls[i] = &call{key: fmt.Sprintf("k%d", i), op: "refund", hash: "h1"}
		}
		release := holdBehind(t, rec, "INSERT", calls[0].begin(s))
		var wg sync.WaitGroup
		for i, c := range calls[1:] {
			wg.Go(c.begin(s))
			if !queued(s, i+1) {
				release()
				t.Fatalf("Begin %d was not queued", i+1)
			}
		}
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
			t.Error("Close returned before the queued claims were written")
		case <-time.After(20 * time.Millisecond):
		}
		release()
		<-closed
		wg.Wait()
		for i, c := range calls {
			if !c.claimed() {
				t.Errorf("queued Begin %d = %+v, %v; want a first claim", i, c.out, c.err)
			}
		}
		_, err := s.Begin(context.Background(), "mer_a", "late", "refund", "h1")
		wantCode(t, err, payments.EUNAVAILABLE)
		wantCode(t, s.Complete(context.Background(), calls[0].out.Token, []byte(`{}`)), payments.EUNAVAILABLE)
	})
}

// TestATransientErrorRetriesTheBatch fails a batch's INSERT and UPDATE once
// with a deadlock: each runs again and succeeds.
func TestATransientErrorRetriesTheBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		deadlock := &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock"}
		rec.failNext("INSERT", deadlock)
		out := begin(t, s, "mer_a", "k1", "refund", "h1")
		if out.Token.Attempt() != 1 {
			t.Fatalf("Begin = %+v, want a claim", out)
		}
		rec.failNext("UPDATE", deadlock)
		if err := s.Complete(context.Background(), out.Token, []byte(`"ok"`)); err != nil {
			t.Fatal(err)
		}
		if n, _ := rec.count("INSERT"); n != 2 {
			t.Errorf("%d INSERTs, want 2: the failed one and its retry", n)
		}
		if n, _ := rec.count("UPDATE"); n != 2 {
			t.Errorf("%d UPDATEs, want 2: the failed one and its retry", n)
		}
		if again := begin(t, s, "mer_a", "k1", "refund", "h1"); string(again.Replay) != `"ok"` {
			t.Fatalf("replay %q", again.Replay)
		}
	})
}

// TestConcurrentRequestsShareStatements runs 16 clients, each claiming new
// keys and storing their answers, and reports the writes per request: one
// INSERT, one UPDATE and two commits without batching, fewer with it.
func TestConcurrentRequestsShareStatements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{}, false)
		const clients, each = 16, 20
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for i := range each {
					out, err := s.Begin(context.Background(), "mer_a", fmt.Sprintf("c%d-%d", c, i), "refund", "h1")
					if err == nil {
						err = s.Complete(context.Background(), out.Token, []byte(`{}`))
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		inserts, commits := rec.count("INSERT")
		updates, _ := rec.count("UPDATE")
		n := clients * each
		per := func(k int) float64 { return float64(k) / float64(n) }
		t.Logf("%d requests from %d clients: %.2f INSERTs, %.2f UPDATEs, %.2f statements, %.2f commits per request",
			n, clients, per(inserts), per(updates), per(rec.total()), per(commits))
		if inserts > n || updates > n || commits > 2*n {
			t.Errorf("%d INSERTs, %d UPDATEs, %d commits for %d requests: more than without batching", inserts, updates, commits, n)
		}
	})
}

// TestClaimsAndAnswersQueuedTogetherShareOneCommit: while a batch of answers
// is held, five more answers queue behind it; a new claim then finds its
// own batcher idle and takes the queued answers along: one transaction
// inserts the claim and stores the five answers, with one commit. Every
// answer is then replayed, and the claim holds its key.
func TestClaimsAndAnswersQueuedTogetherShareOneCommit(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(map[bool]string{false: "commits", true: "fails"}[failing], func(t *testing.T) {
			claimsAndAnswersTogether(t, failing)
		})
	}
}

// claimsAndAnswersTogether is TestClaimsAndAnswersQueuedTogetherShareOneCommit;
// failing makes the shared transaction's INSERT fail, after which the claim
// claims alone and the answers are stored by themselves, with the same
// outcomes.
func claimsAndAnswersTogether(t *testing.T, failing bool) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, rec, _ := recorded(t, db, idempotency.Config{Dialect: db.Dialect}, false)
		ctx := context.Background()
		toks := make([]idempotency.Token, 6)
		for i := range toks {
			toks[i] = begin(t, s, "mer_a", fmt.Sprintf("k%d", i), "refund", "h1").Token
		}
		errs := make([]error, len(toks))
		release := holdBehind(t, rec, "UPDATE", func() { errs[0] = s.Complete(ctx, toks[0], []byte(`"a0"`)) })
		var wg sync.WaitGroup
		for i := 1; i < len(toks); i++ {
			wg.Go(func() { errs[i] = s.Complete(ctx, toks[i], fmt.Appendf(nil, `"a%d"`, i)) })
			if !queued(s, i) {
				release()
				t.Fatalf("answer %d was not queued", i)
			}
		}
		rec.reset()
		if failing {
			rec.failNext("INSERT", errors.New("injected"))
		}
		// The claim waits for its turn behind the held answer, then one
		// batch takes it and the five queued answers.
		c := &call{key: "new", op: "refund", hash: "h1"}
		wg.Go(c.begin(s))
		if !queued(s, 1) {
			release()
			t.Fatal("the claim was not queued")
		}
		release()
		wg.Wait()
		rec.mu.Lock()
		stmts, commits := append([]string(nil), rec.stmts...), rec.commits
		rec.mu.Unlock()
		if !c.claimed() {
			t.Fatalf("Begin = %+v, %v; want a first claim", c.out, c.err)
		}
		var kinds []string
		for _, q := range stmts {
			kinds = append(kinds, strings.Fields(q)[0])
		}
		if got := strings.Join(kinds, " "); !failing && (got != "BEGIN INSERT UPDATE COMMIT" || commits != 1) {
			t.Fatalf("statements %q, %d commits; want the claim's INSERT and the answers' UPDATE in one transaction", got, commits)
		}
		for i, tok := range toks {
			if errs[i] != nil {
				t.Fatalf("Complete %d: %v", i, errs[i])
			}
			out := begin(t, s, "mer_a", fmt.Sprintf("k%d", i), "refund", "h1")
			if want := fmt.Sprintf(`"a%d"`, i); string(out.Replay) != want || tok.Attempt() != 1 {
				t.Fatalf("k%d replays %q, want %q", i, out.Replay, want)
			}
		}
	})
}
