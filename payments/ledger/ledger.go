package ledger

import (
	"context"
	"fmt"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/batch"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Ledger posts journal entries and answers balance queries, on the ent client
// it is given. Posting is group-committed: concurrent Post calls are gathered by
// a few committer goroutines into one transaction each, which takes the row
// locks of all accounts involved once, in ascending id order, and writes every
// entry, posting and balance with a handful of statements. An entry that fails
// its own checks (overdraft, conflicting source) fails alone; the rest of its
// batch commits.
type Ledger struct {
	client  *ent.Client
	dialect string
	now     func() time.Time

	accounts sync.Map // AccountKey → account; identities never change, so the cache never goes stale

	queue    chan *request
	maxBatch int
	// batchTimeout bounds one batch's transaction, retries included.
	batchTimeout time.Duration
	stop         chan struct{}
	wg           sync.WaitGroup
	closed       sync.Once
}

// Config configures a Ledger.
type Config struct {
	// Dialect is dialect.MySQL or dialect.SQLite: row locks are taken with
	// SELECT … FOR UPDATE on MySQL, while SQLite runs one writer at a time.
	Dialect string
	// Now is the clock stamping created_at; it defaults to time.Now.
	Now func() time.Time
	// Committers is the number of goroutines committing batches concurrently
	// (default 4 on MySQL, 1 on SQLite). More overlap the network round trips of
	// batches that touch different accounts; batches that share accounts queue
	// on their row locks.
	Committers int
	// MaxBatch caps the entries of one transaction (default 256): large enough
	// to amortise a commit's fsync over many entries, small enough to keep lock
	// hold times and statement sizes modest.
	MaxBatch int
	// BatchTimeout bounds one batch, retries included (default
	// batch.DefaultTimeout): a database that stops answering fails the
	// batch's entries instead of holding their callers.
	BatchTimeout time.Duration
}

// New returns a Ledger posting through client and starts its committers; Close
// stops them. It panics on an unknown dialect, a wiring bug.
func New(client *ent.Client, cfg Config) *Ledger {
	if cfg.Dialect != dialect.MySQL && cfg.Dialect != dialect.SQLite {
		panic(fmt.Sprintf("ledger: unsupported dialect %q", cfg.Dialect))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 4
		if cfg.Dialect == dialect.SQLite {
			cfg.Committers = 1
		}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = batch.DefaultTimeout
	}
	l := &Ledger{
		client:   client,
		dialect:  cfg.Dialect,
		now:      func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) },
		queue:    make(chan *request, cfg.MaxBatch*cfg.Committers),
		maxBatch: cfg.MaxBatch, batchTimeout: cfg.BatchTimeout,
		stop: make(chan struct{}),
	}
	for range cfg.Committers {
		l.wg.Add(1)
		go l.committer()
	}
	return l
}

// Close stops the committers after the batches in flight. Posting after Close
// returns EUNAVAILABLE.
func (l *Ledger) Close() {
	l.closed.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// Posted is the outcome of posting one entry.
type Posted struct {
	// EntryID is the journal entry recording the source.
	EntryID string
	// Replayed is true when the source had already been posted with the same
	// postings, so nothing new was written.
	Replayed bool
}

type request struct {
	ctx    context.Context
	entry  Entry
	hash   string
	result chan result // buffered, so a committer never blocks on a caller who left
}

type result struct {
	posted Posted
	err    error
}

// Post records e exactly once for its source, in one transaction with its
// balance updates. Posting a source again with the same postings (in any
// order) replays: it returns the first entry with Replayed set and writes
// nothing. It returns EINVALID if e fails Validate, ECONFLICT if the source
// was posted with different postings, ECONFLICT ("insufficient funds") if an
// account that may not go negative would, and EUNAVAILABLE after Close.
//
// If ctx ends while the entry is being committed, Post returns ctx's error and
// the entry may or may not have been posted; posting it again is safe and
// tells which.
func (l *Ledger) Post(ctx context.Context, e Entry) (Posted, error) {
	if err := e.Validate(); err != nil {
		return Posted{}, err
	}
	e.EffectiveAt = e.EffectiveAt.UTC().Truncate(time.Microsecond)
	r := &request{ctx: ctx, entry: e, hash: e.Hash(), result: make(chan result, 1)}
	select {
	case l.queue <- r:
	case <-l.stop:
		return Posted{}, payments.Errorf(payments.EUNAVAILABLE, "ledger is closed")
	case <-ctx.Done():
		return Posted{}, ctx.Err()
	}
	select {
	case res := <-r.result:
		return res.posted, res.err
	case <-ctx.Done():
		return Posted{}, ctx.Err()
	}
}

func (l *Ledger) committer() {
	defer l.wg.Done()
	batch := make([]*request, 0, l.maxBatch)
	for {
		select {
		case <-l.stop:
			return
		case r := <-l.queue:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < l.maxBatch {
			select {
			case r := <-l.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		l.commitWithRetry(batch)
	}
}

// maxAttempts bounds retries of a batch that hit a transient database error (a
// deadlock, a lock wait timeout, or a unique-key race with another batch);
// nothing of a failed attempt was committed, so retrying is safe. Under
// heavy contention (CI's race detector on two cores) eight tries in lockstep
// were seen to run out; the waits are jittered so that two batches that
// deadlocked do not meet again at the same moment.
const maxAttempts = 12

func (l *Ledger) commitWithRetry(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.result <- result{err: err} // the caller left before the batch began: nothing posted
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The batch runs on its own context: one caller leaving must not abort the
	// entries of the others.
	ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background()), l.batchTimeout)
	defer cancel()
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var results []result
		results, err = l.commitBatch(ctx, live)
		if err == nil {
			for i, r := range live {
				r.result <- results[i]
			}
			return
		}
		if !store.IsConflict(err) {
			break
		}
		time.Sleep(store.ConflictWait(attempt))
	}
	err = fmt.Errorf("ledger: post: %w", err)
	for _, r := range live {
		r.result <- result{err: err}
	}
}
