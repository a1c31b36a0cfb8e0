package idempotency

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// Bounds of one batch. A claim binds 10 values and an answer 5, so a full
// batch stays far below SQLite's 32,766 bound variables; maxAnswerBytes keeps
// an UPDATE of stored answers, which the MySQL driver escapes inline (up to
// twice their size), well under MariaDB's default max_allowed_packet of
// 16 MiB. A lone answer of MaxResponseBytes always fits.
const (
	maxBatch       = 128
	maxAnswerBytes = 4 << 20
)

// maxAttempts bounds the runs of a batch that hit a transient error (a
// deadlock, a lock wait timeout, SQLite busy): nothing of a failed statement
// was written, so running it again is safe.
const maxAttempts = 8

// batcher group-commits work. Callers add items; one goroutine at a time
// takes whatever has queued, up to a bound, and hands it to run. The
// goroutine starts when an item arrives at an idle batcher and ends when the
// queue is empty: a lone item runs at once (no timer, no added latency) and
// an idle batcher holds nothing; items that arrive while a batch runs form
// the next one. Batches never overlap, so run needs no locking of its own.
//
// Batchers sharing a turn (a non-nil turn, the same for each) run one batch
// at a time between them: a batcher waits for its turn before it takes its
// batch off the queue, so what queued while another held the turn goes in
// its next batch whole.
type batcher[T any] struct {
	run  func([]T)
	turn *sync.Mutex
	// size bounds a batch's bytes, with maxBytes; a batch always takes at
	// least one item whatever its size.
	size     func(T) int
	maxItems int
	maxBytes int

	mu      sync.Mutex
	queue   []T
	running bool
	closed  bool
	wg      sync.WaitGroup
}

// add queues item for the next batch. It returns false after close.
func (b *batcher[T]) add(item T) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.queue = append(b.queue, item)
	if !b.running {
		b.running = true
		b.wg.Add(1)
		go b.loop()
	}
	return true
}

func (b *batcher[T]) loop() {
	defer b.wg.Done()
	for {
		if b.turn != nil {
			b.turn.Lock()
		}
		batch, ok := b.next()
		if ok {
			b.run(batch)
		}
		if b.turn != nil {
			b.turn.Unlock()
		}
		if !ok {
			return
		}
	}
}

// next takes the next batch off the queue, or marks the batcher idle and
// returns false when there is none.
func (b *batcher[T]) next() ([]T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.running = false
		return nil, false
	}
	return b.take(), true
}

// steal takes, for another batcher's batch, what would be this batcher's
// next batch: nothing when the queue is empty. This batcher's own loop,
// if it runs, finds the queue the shorter (and goes idle when it is empty).
func (b *batcher[T]) steal() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return nil
	}
	return b.take()
}

// take takes a batch off the non-empty queue; b.mu is held.
func (b *batcher[T]) take() []T {
	n, bytes := 0, 0
	for n < len(b.queue) && n < b.maxItems {
		size := 0
		if b.size != nil {
			size = b.size(b.queue[n])
		}
		if n > 0 && b.maxBytes > 0 && bytes+size > b.maxBytes {
			break
		}
		bytes += size
		n++
	}
	batch := b.queue[:n:n]
	if n == len(b.queue) {
		b.queue = nil
	} else {
		b.queue = append([]T(nil), b.queue[n:]...)
	}
	return batch
}

// close refuses new items and returns once every queued item has run.
func (b *batcher[T]) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}

// slot hands a queued item over between its caller and its batch. The batch
// takes it (take) unless its caller left first (abandon: nothing is written
// for it); once the batch has run it, the batch hands the result over
// (deliver) unless its caller left meanwhile (leave: the batch cleans up
// what the caller will never use).
type slot struct{ state atomic.Int32 }

const (
	slotQueued int32 = iota
	slotTaken
	slotDelivered
	slotAbandoned
	slotLeft
)

func (s *slot) take() bool    { return s.state.CompareAndSwap(slotQueued, slotTaken) }
func (s *slot) abandon() bool { return s.state.CompareAndSwap(slotQueued, slotAbandoned) }
func (s *slot) deliver() bool { return s.state.CompareAndSwap(slotTaken, slotDelivered) }
func (s *slot) leave() bool   { return s.state.CompareAndSwap(slotTaken, slotLeft) }

// batchContext returns the context a batch runs on: its own, as the system,
// so that one caller leaving does not abort the writes of the others.
func (s *Service) batchContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(viewer.SystemContext(context.Background()), s.batchTimeout)
}

// withRetry runs fn again, after a short pause, while it fails with a
// transient error, up to maxAttempts runs or until ctx ends.
func withRetry[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := fn()
		if err == nil || attempt == maxAttempts || !store.IsTransient(err) {
			return v, err
		}
		select {
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		case <-ctx.Done():
			return v, err
		}
	}
}
