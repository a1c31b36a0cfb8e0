package risk

import (
	"context"
	"sync"
	"time"
)

// Counters keeps the event history velocity and daily limits read. Keys are
// opaque strings built by the Engine (kind, dimension, value and, for volume,
// currency). Implementations may be approximate under concurrency: two
// payments checked at the same instant can both see the count before either.
type Counters interface {
	// Add records one event of value at time at under key.
	Add(ctx context.Context, key string, at time.Time, value int64) error
	// Sum returns how many events key has at or after since, and the sum of their
	// values.
	Sum(ctx context.Context, key string, since time.Time) (count, total int64, err error)
}

// BatchCounters is implemented by Counters that record one event under
// several keys in a single write (a multi-row INSERT): a payment counts
// under its card, customer, IP and email at once, and each separate write
// would be a commit of its own.
type BatchCounters interface {
	Counters
	// AddAll records one event of value at time at under each key, all or
	// none.
	AddAll(ctx context.Context, keys []string, at time.Time, value int64) error
}

// MemCounters is an in-memory Counters for tests and single-process use. It
// forgets events older than its retention (MaxWindow, or a full day if longer,
// by default), so it does not grow without bound.
type MemCounters struct {
	mu        sync.Mutex
	now       func() time.Time
	retention time.Duration
	events    map[string][]event
}

type event struct {
	at    time.Time
	value int64
}

// NewMemCounters returns empty counters timed by now (time.Now if nil).
func NewMemCounters(now func() time.Time) *MemCounters {
	if now == nil {
		now = time.Now
	}
	return &MemCounters{now: now, retention: MaxWindow, events: map[string][]event{}}
}

// Add implements Counters.
func (m *MemCounters) Add(_ context.Context, key string, at time.Time, value int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cutoff := m.now().Add(-m.retention)
	evs := m.events[key]
	i := 0
	for i < len(evs) && evs[i].at.Before(cutoff) {
		i++
	}
	m.events[key] = append(evs[i:], event{at, value})
	return nil
}

// Sum implements Counters.
func (m *MemCounters) Sum(_ context.Context, key string, since time.Time) (count, total int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events[key] {
		if !e.at.Before(since) {
			count++
			total += e.value
		}
	}
	return count, total, nil
}
