// Package batch runs the requests of concurrent callers together, the way a
// database group-commits: a worker takes every request queued (up to a
// maximum), runs them as one batch, answers each caller, and takes the next
// batch. A lone request runs at once, so batching adds no wait when the
// system is idle; under load, the requests arriving while a batch runs share
// the next one, and with it their statements and commits.
//
// The worker exists only while there is work: it starts when a request
// arrives at an idle runner and ends when the queue is empty, so a Runner
// needs no shutdown to release it.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("batch: runner is closed")

// Result is one request's answer.
type Result[Res any] struct {
	Value Res
	Err   error
}

// Func runs a batch. It must return one Result per request, in order. Its
// context is the runner's, not any caller's: one caller leaving must not
// abort the others' work (a caller whose context ends before its batch
// starts is answered with its context's error and is not in any batch). The
// context ends when the batch has run for the runner's timeout
// (DefaultTimeout), so that a database that stops answering fails the batch
// rather than hold its callers, and every later batch, for ever.
type Func[Req, Res any] func(ctx context.Context, reqs []Req) []Result[Res]

// DefaultTimeout bounds one batch, fallbacks included: a healthy batch takes
// milliseconds, and one stuck behind row locks or a lost connection gives
// up well before the callers' HTTP clients do (30–60 s) and before MySQL's
// own lock wait timeout (50 s).
const DefaultTimeout = 30 * time.Second

// Runner runs batches of requests with a Func, one batch at a time.
type Runner[Req, Res any] struct {
	run     Func[Req, Res]
	max     int
	base    context.Context
	timeout time.Duration

	mu      sync.Mutex
	queue   []*call[Req, Res]
	working bool
	closed  bool

	// stats are counted by the worker and read by Stats.
	batches, requests, busyNanos atomic.Int64
}

// Stats is what a runner has done since it was made.
type Stats struct {
	// Batches and Requests count the batches run and the requests in them:
	// Requests/Batches is the mean batch size.
	Batches, Requests int64
	// Busy is the time spent running batches.
	Busy time.Duration
}

// Stats returns the runner's counts so far.
func (r *Runner[Req, Res]) Stats() Stats {
	return Stats{Batches: r.batches.Load(), Requests: r.requests.Load(), Busy: time.Duration(r.busyNanos.Load())}
}

type call[Req, Res any] struct {
	ctx  context.Context
	req  Req
	done chan Result[Res]
}

// New returns a runner that hands at most maxBatch requests to run at a time,
// in the context base (values only: batches never end with a caller's
// context), each batch bounded by DefaultTimeout.
func New[Req, Res any](base context.Context, maxBatch int, run Func[Req, Res]) *Runner[Req, Res] {
	return &Runner[Req, Res]{run: run, max: max(maxBatch, 1), base: context.WithoutCancel(base), timeout: DefaultTimeout}
}

// WithTimeout sets the bound of each batch (d > 0) and returns r. Call it
// before the first Do.
func (r *Runner[Req, Res]) WithTimeout(d time.Duration) *Runner[Req, Res] {
	if d > 0 {
		r.timeout = d
	}
	return r
}

// Do queues req, waits for its batch, and returns its result. It returns
// ctx's error if ctx ends before the batch starts (nothing of req was run),
// and ErrClosed after Close. Once its batch has started, Do waits for the
// batch's answer even if ctx ends: the caller must learn what was done.
func (r *Runner[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	var zero Res
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c := &call[Req, Res]{ctx: ctx, req: req, done: make(chan Result[Res], 1)}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return zero, ErrClosed
	}
	r.queue = append(r.queue, c)
	start := !r.working
	r.working = true
	r.mu.Unlock()
	if start {
		go r.work()
	}
	res := <-c.done
	return res.Value, res.Err
}

// Close makes later calls of Do return ErrClosed; the batches queued before
// still run. Safe to call more than once.
func (r *Runner[Req, Res]) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// work runs batches until the queue is empty.
func (r *Runner[Req, Res]) work() {
	calls := make([]*call[Req, Res], 0, r.max)
	reqs := make([]Req, 0, r.max)
	for {
		r.mu.Lock()
		n := min(len(r.queue), r.max)
		if n == 0 {
			r.working = false
			r.mu.Unlock()
			return
		}
		calls = append(calls[:0], r.queue[:n]...)
		clear(r.queue[:n])
		r.queue = r.queue[n:]
		r.mu.Unlock()

		live, reqs := calls[:0], reqs[:0]
		for _, c := range calls {
			if err := c.ctx.Err(); err != nil {
				c.done <- Result[Res]{Err: err}
				continue
			}
			live = append(live, c)
			reqs = append(reqs, c.req)
		}
		if len(live) == 0 {
			continue
		}
		start := time.Now()
		results := r.safeRun(reqs)
		r.busyNanos.Add(int64(time.Since(start)))
		r.batches.Add(1)
		r.requests.Add(int64(len(reqs)))
		for i, c := range live {
			if i < len(results) {
				c.done <- results[i]
			} else {
				c.done <- Result[Res]{Err: errors.New("batch: no result for a request")}
			}
		}
	}
}

// safeRun runs a batch, turning a panic into every request's error so that
// no caller waits forever and the runner goes on.
func (r *Runner[Req, Res]) safeRun(reqs []Req) (results []Result[Res]) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("batch: panic: %v", p)
			results = make([]Result[Res], len(reqs))
			for i := range results {
				results[i].Err = err
			}
		}
	}()
	ctx, cancel := context.WithTimeout(r.base, r.timeout)
	defer cancel()
	return r.run(ctx, reqs)
}
