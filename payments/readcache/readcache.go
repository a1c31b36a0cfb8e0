// Package readcache keeps small, rarely written tables (operator rules,
// connector settings) in memory for the payment pipeline, which would
// otherwise read each of them on every payment.
//
// A Value is reloaded when it is older than its TTL, and at once after
// Invalidate, which the process's own writers call after they commit: a
// change made through this process applies to the next payment, a change
// made through another replica within the TTL.
package readcache

import (
	"context"
	"sync"
	"time"
)

// Value is one cached result of load.
type Value[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)
	now  func() time.Time

	mu     sync.Mutex
	val    T
	loaded time.Time // zero: never loaded, or invalidated
}

// New returns a Value that calls load when it holds nothing fresher than ttl.
// now is the clock (time.Now when nil).
func New[T any](ttl time.Duration, now func() time.Time, load func(context.Context) (T, error)) *Value[T] {
	if now == nil {
		now = time.Now
	}
	return &Value[T]{ttl: ttl, load: load, now: now}
}

// Get returns the cached value, loading it first when it is missing or
// stale. Loads are serialized: callers that find it stale together wait for
// one load. A failed load is returned and nothing is cached.
func (v *Value[T]) Get(ctx context.Context) (T, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	if !v.loaded.IsZero() && now.Sub(v.loaded) < v.ttl {
		return v.val, nil
	}
	val, err := v.load(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v.val, v.loaded = val, now
	return val, nil
}

// Invalidate drops the cached value: the next Get loads. Writers call it
// after their change has committed. A load in progress holds the lock, so
// what it read never outlives an Invalidate that follows it.
func (v *Value[T]) Invalidate() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.loaded = time.Time{}
}
