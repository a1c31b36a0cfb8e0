package events

import (
	"context"
	"sync"
)

// InProcess is the single-replica Bus: published messages go straight to
// this process's subscribers. Duplicates (a retried publish) are dropped by
// sequence number.
type InProcess struct {
	mu      sync.Mutex
	subs    map[int]func(Message)
	nextID  int
	lastSeq int64
}

// NewInProcess returns an empty in-process bus.
func NewInProcess() *InProcess { return &InProcess{subs: map[int]func(Message){}} }

// Publish implements Bus.
func (b *InProcess) Publish(_ context.Context, msgs []Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		if m.Seq != 0 && m.Seq <= b.lastSeq {
			continue
		}
		b.lastSeq = m.Seq
		for _, fn := range b.subs {
			fn(m)
		}
	}
	return nil
}

// Subscribe implements Bus.
func (b *InProcess) Subscribe(ctx context.Context, fn func(Message)) error {
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	b.subs[id] = fn
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	})
	return nil
}

// Close implements Bus.
func (b *InProcess) Close() error { return nil }
