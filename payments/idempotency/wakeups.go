package idempotency

import "sync"

// wakeups lets duplicates waiting on this replica learn at once that the
// request they wait for completed or was released, instead of at their next
// poll. Waiters on other replicas poll.
type wakeups struct {
	mu sync.Mutex
	m  map[string]*signal
}

type signal struct {
	c       chan struct{}
	waiters int
}

// subscribe returns a channel closed at the next wake of key, and a function
// to call when no longer waiting.
func (w *wakeups) subscribe(key string) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*signal{}
	}
	s, ok := w.m[key]
	if !ok {
		s = &signal{c: make(chan struct{})}
		w.m[key] = s
	}
	s.waiters++
	return s.c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		s.waiters--
		if s.waiters == 0 && w.m[key] == s {
			delete(w.m, key)
		}
	}
}

// wake wakes every current subscriber of key.
func (w *wakeups) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.m[key]; ok {
		close(s.c)
		delete(w.m, key)
	}
}
