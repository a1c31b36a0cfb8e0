// Package batch runs the requests of concurrent callers together, the way a
// database group-commits: one goroutine takes every request queued (up to a
// maximum), runs them as one batch, answers each caller, and takes the next
// batch. A lone request runs at once, so batching adds no wait when the
// system is idle; under load, requests arriving while a batch runs share the
// next one, and the statements and commits of a batch are shared by all.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("batch: runner is closed")

// Result is one request's answer.
type Result[Res any] struct {
	Value Res
	Err   error
}

// Func runs a batch. It must return one Result per request, in order. Its
// context is not any caller's: one caller leaving must not abort the others'
// work (a caller whose context ends before its batch starts is answered
// with its context's error and is not in any batch).
type Func[Req, Res any] func(ctx context.Context, reqs []Req) []Result[Res]

// Runner runs batches of requests with Func, one batch at a time.
type Runner[Req, Res any] struct {
	run   Func[Req, Res]
	max   int
	base  context.Context
	queue chan *call[Req, Res]
	stop  chan struct{}
	// exited is closed when the loop has returned.
	exited chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

type call[Req, Res any] struct {
	ctx  context.Context
	req  Req
	done chan Result[Res]
}

// New starts a runner that hands at most max requests to run at a time. base
// is the context batches run in (canceled by the caller's shutdown, never by
// a request).
func New[Req, Res any](base context.Context, max int, run Func[Req, Res]) *Runner[Req, Res] {
	if max < 1 {
		max = 1
	}
	r := &Runner[Req, Res]{run: run, max: max, base: base,
		queue: make(chan *call[Req, Res], 4*max), stop: make(chan struct{}), exited: make(chan struct{})}
	r.wg.Add(1)
	go r.loop()
	return r
}

// Do queues req, waits for its batch, and returns its result. It returns
// ctx's error if ctx ends before the batch starts (nothing of req was run),
// and ErrClosed after Close. Once its batch has started, Do waits for the
// batch's answer even if ctx ends: the caller must learn what was done.
func (r *Runner[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	c := &call[Req, Res]{ctx: ctx, req: req, done: make(chan Result[Res], 1)}
	var zero Res
	select {
	case <-r.stop:
		return zero, ErrClosed
	default:
	}
	select {
	case r.queue <- c:
	case <-r.stop:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case res := <-c.done:
		return res.Value, res.Err
	case <-r.exited:
		select {
		case res := <-c.done:
			return res.Value, res.Err
		default:
			return zero, ErrClosed // queued as the runner stopped
		}
	}
}

// Close stops the runner after the batch in progress; requests still queued
// are answered with ErrClosed.
func (r *Runner[Req, Res]) Close() {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
	for {
		select {
		case c := <-r.queue:
			c.done <- Result[Res]{Err: ErrClosed}
		default:
			return
		}
	}
}

func (r *Runner[Req, Res]) loop() {
	defer r.wg.Done()
	defer close(r.exited)
	calls := make([]*call[Req, Res], 0, r.max)
	reqs := make([]Req, 0, r.max)
	for {
		calls, reqs = calls[:0], reqs[:0]
		select {
		case <-r.stop:
			return
		case c := <-r.queue:
			calls = append(calls, c)
		}
	drain:
		for len(calls) < r.max {
			select {
			case c := <-r.queue:
				calls = append(calls, c)
			default:
				break drain
			}
		}
		live := calls[:0]
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
		results := r.safeRun(reqs)
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
	return r.run(r.base, reqs)
}
