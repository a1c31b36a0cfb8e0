package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/straitpay/strait/connectors"
)

// DefaultEmitterCapacity bounds the events a plugin holds while the host
// is not acknowledging them. Ten thousand notifications cover minutes of a
// busy channel; past that Emit fails, so a webhook handler answers 503 and
// the channel keeps the event and retries instead of the plugin growing
// without bound.
const DefaultEmitterCapacity = 10000

// ErrEmitterFull is returned by Emit when the host has stopped acknowledging.
var ErrEmitterFull = errors.New("sdk: event buffer full, host not acknowledging")

// Emitter carries a connector's asynchronous events to the host. An event
// stays in the emitter until the host acknowledges it; every new stream
// (after a restart of the host's side, or a reconnect) receives all
// unacknowledged events again. Delivery is therefore at least once, and
// consumers deduplicate by Event.ID.
type Emitter struct {
	mu      sync.Mutex
	cap     int
	order   []string
	pending map[string]connectors.Event
	changed chan struct{}
}

// NewEmitter returns an Emitter holding up to DefaultEmitterCapacity events.
func NewEmitter() *Emitter {
	return &Emitter{cap: DefaultEmitterCapacity, pending: map[string]connectors.Event{}, changed: make(chan struct{})}
}

// Emit queues ev for the host. ev.ID must be stable (derive it from the
// channel's notification id) so that a notification the channel sends
// twice is one event. Emitting an id that is still pending is a no-op.
func (e *Emitter) Emit(ev connectors.Event) error {
	if ev.ID == "" || len(ev.ID) > connectors.MaxIDLength {
		return fmt.Errorf("sdk: emit %s: event id must be 1 to %d bytes", ev.Type, connectors.MaxIDLength)
	}
	if ev.Type == "" {
		return fmt.Errorf("sdk: emit %s: event type is required", ev.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.pending[ev.ID]; ok {
		return nil
	}
	if len(e.pending) >= e.cap {
		return ErrEmitterFull
	}
	e.pending[ev.ID] = ev
	e.order = append(e.order, ev.ID)
	close(e.changed)
	e.changed = make(chan struct{})
	return nil
}

// Pending returns the number of events not yet acknowledged.
func (e *Emitter) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pending)
}

// ack drops acknowledged events.
func (e *Emitter) ack(ids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		delete(e.pending, id)
	}
	kept := e.order[:0]
	for _, id := range e.order {
		if _, ok := e.pending[id]; ok {
			kept = append(kept, id)
		}
	}
	e.order = kept
}

// stream sends every pending event not yet sent on this stream, then waits
// for more, until ctx ends or send fails.
func (e *Emitter) stream(ctx context.Context, send func(connectors.Event) error) error {
	sent := map[string]bool{}
	for {
		e.mu.Lock()
		var batch []connectors.Event
		for _, id := range e.order {
			if !sent[id] {
				batch = append(batch, e.pending[id])
			}
		}
		changed := e.changed
		e.mu.Unlock()
		for _, ev := range batch {
			if err := send(ev); err != nil {
				return err
			}
			sent[ev.ID] = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
