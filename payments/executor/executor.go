// Package executor applies the payment core's writes. Every step of the core
// (a new payment's first attempt, a channel outcome's record, a capture, a
// refund, a review's decision, a checkout confirm) reads its rows, decides
// its writes in a pure function of what it read and the event it got, and
// hands the reading and the writing to an Executor, which alone owns what
// running them costs and risks:
//
//   - the transaction, run again when it loses a race with another (a
//     deadlock, a lock wait timeout: nothing of it was written);
//   - group commit: concurrent requests of one step share a transaction and
//     its COMMIT (payments/batch Runner), up to the step's Max; a lone
//     request is a batch of one and waits for nobody;
//   - pipelined round trips: a step's writes that need no answer but
//     success are deferred to the commit (deferWrites, store.Writes), which
//     on MySQL sends them in one round trip; a lone request that fails so,
//     without an error code of its own, runs again with each write answering
//     for itself, so that its error is exact;
//   - deadlines: a batch runs for at most the step's timeout
//     (batch.DefaultTimeout), so that a database that stops answering fails
//     the batch rather than hold its callers for ever;
//   - the fallback: a batch whose transaction fails as a whole runs each of
//     its requests in a transaction of its own, so that what refuses one
//     request refuses only it; but a COMMIT whose outcome is unknown
//     (store.OutcomeUnknown) may have written everything, and each request
//     is answered with that error, never run again.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/store"
)

// Apply reads a batch's rows in tx, decides each request's writes (a pure
// plan of what it read) and writes them, deferring to the commit the writes
// that need no answer (deferWrites). It returns one result per request, in
// order: a request its plan refuses is answered with its error and adds no
// write. Its error means the transaction must roll back: nothing of the
// batch may be written.
type Apply[Req, Res any] func(ctx context.Context, tx *ent.Tx, reqs []Req, deferWrites bool) ([]batch.Result[Res], error)

// Step is one kind of request the executor runs.
type Step[Req, Res any] struct {
	// Name names the step in logs and batch statistics.
	Name string
	// Max bounds the requests of one batch (the rows one transaction holds
	// locked); 1 runs each request in a transaction of its own.
	Max int
	// Key says which requests may not share a transaction (one payment, one
	// session): a request whose key an earlier one of the batch has runs
	// after the others, in a transaction of its own. Nil: none conflict.
	Key func(Req) string
	// Apply is the step's reading, deciding and writing. It may run more
	// than once for a request (a lost race, a batch that failed): what it
	// decides it decides again from what it reads, and what it holds for
	// the request beyond the transaction (a card taken from the vault) the
	// request keeps for the next run.
	Apply Apply[Req, Res]
}

// Config is what every step's executor shares.
type Config struct {
	Client *ent.Client
	Log    *slog.Logger
	// Timeout bounds one batch, fallbacks included; zero means
	// batch.DefaultTimeout.
	Timeout time.Duration
	// NoBatching runs every request in a transaction of its own (for tests
	// that compare the two).
	NoBatching bool
}

// MaxTries bounds the runs of a transaction that lost a race (a deadlock or
// lock wait timeout): nothing of it committed.
const MaxTries = 4

// Executor runs one step's requests.
type Executor[Req, Res any] struct {
	cfg    Config
	step   Step[Req, Res]
	runner *batch.Runner[Req, Res]
}

// New returns the executor of step. Unless cfg.NoBatching, concurrent
// requests are group-committed, up to step.Max per transaction.
func New[Req, Res any](cfg Config, step Step[Req, Res]) *Executor[Req, Res] {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if step.Max < 1 {
		step.Max = 1
	}
	e := &Executor[Req, Res]{cfg: cfg, step: step}
	if !cfg.NoBatching && step.Max > 1 {
		e.runner = batch.New(context.Background(), step.Max, e.run).WithTimeout(cfg.Timeout)
	}
	return e
}

// Do runs req, with concurrent requests of the step when it batches, and
// returns its result. It returns ctx's error only if ctx ends before req's
// batch starts (nothing of req was run); once its batch has started, Do
// waits for its answer: the caller must learn what was written.
func (e *Executor[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	if e.runner != nil {
		res, err := e.runner.Do(ctx, req)
		if !errors.Is(err, batch.ErrClosed) {
			return res, err
		}
	}
	var zero Res
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	timeout := e.cfg.Timeout
	if timeout <= 0 {
		timeout = batch.DefaultTimeout
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	r := e.run(bctx, []Req{req})[0]
	return r.Value, r.Err
}

// Stats reports the step's batches so far (zero when it does not batch).
func (e *Executor[Req, Res]) Stats() batch.Stats {
	if e.runner == nil {
		return batch.Stats{}
	}
	return e.runner.Stats()
}

// Close stops group commit: later requests run each in a transaction of its
// own. Safe to call more than once.
func (e *Executor[Req, Res]) Close() {
	if e.runner != nil {
		e.runner.Close()
	}
}

// run runs reqs in one transaction, and returns one result per request: a
// request whose key an earlier one has runs after the others, alone; if the
// transaction fails as a whole, each request runs alone (see the package
// comment).
func (e *Executor[Req, Res]) run(ctx context.Context, reqs []Req) []batch.Result[Res] {
	out := make([]batch.Result[Res], len(reqs))
	first, later := distinct(reqs, e.step.Key)
	group := make([]Req, len(first))
	for j, i := range first {
		group[j] = reqs[i]
	}
	alone := func(i int) batch.Result[Res] { return e.run(ctx, reqs[i:i+1])[0] }
	res, err := e.tx(ctx, group, true)
	if err != nil && len(group) == 1 && payments.ErrorCode(err) == payments.EINTERNAL && !store.OutcomeUnknown(err) {
		// A deferred write failed, and its error names no statement: each
		// write answers for itself this time.
		res, err = e.tx(ctx, group, false)
	}
	switch {
	case err == nil && len(res) != len(group):
		err = fmt.Errorf("%s: %d results for %d requests", e.step.Name, len(res), len(group))
		for _, i := range first {
			out[i].Err = err
		}
	case err == nil:
		for j, i := range first {
			out[i] = res[j]
		}
	case store.OutcomeUnknown(err), len(group) == 1:
		// Unknown: the transaction may have committed, and running its
		// requests again would write twice or be refused for what the
		// first run wrote; each is answered with the error, and a retry
		// reads what is there. Alone: the error is the request's own.
		for _, i := range first {
			out[i].Err = err
		}
	default:
		e.cfg.Log.InfoContext(ctx, "batch refused; running one by one", "step", e.step.Name, "requests", len(group), "err", err)
		for _, i := range first {
			out[i] = alone(i)
		}
	}
	for _, i := range later {
		out[i] = alone(i)
	}
	return out
}

// tx runs Apply over reqs in a transaction, again after a lost race. Its
// error means nothing of reqs was written (or, store.OutcomeUnknown, that
// nobody knows).
func (e *Executor[Req, Res]) tx(ctx context.Context, reqs []Req, deferWrites bool) ([]batch.Result[Res], error) {
	for try := 1; ; try++ {
		res, err := e.txOnce(ctx, reqs, deferWrites)
		if err == nil || !store.IsTransient(err) || try == MaxTries || ctx.Err() != nil {
			return res, err
		}
		time.Sleep(time.Duration(try) * 5 * time.Millisecond)
	}
}

func (e *Executor[Req, Res]) txOnce(ctx context.Context, reqs []Req, deferWrites bool) (res []batch.Result[Res], err error) {
	tx, err := e.cfg.Client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: begin: %w", e.step.Name, err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	res, err = e.step.Apply(ctx, tx, reqs, deferWrites)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", e.step.Name, err)
	}
	return res, nil
}

// distinct splits the indexes of reqs into the first of each key and the
// later ones, which must wait for the first to commit.
func distinct[Req any](reqs []Req, key func(Req) string) (first, later []int) {
	if key == nil {
		first = make([]int, len(reqs))
		for i := range reqs {
			first[i] = i
		}
		return first, nil
	}
	seen := make(map[string]bool, len(reqs))
	for i, r := range reqs {
		if k := key(r); seen[k] {
			later = append(later, i)
		} else {
			seen[k] = true
			first = append(first, i)
		}
	}
	return first, later
}
