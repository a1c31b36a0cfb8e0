package host

import (
	"sync"
	"time"

	"github.com/straitpay/strait/connectors"
)

// CircuitState is the contract's (connectors.CircuitState).
type CircuitState = connectors.CircuitState

// Circuit states.
const (
	CircuitClosed   = connectors.CircuitClosed
	CircuitOpen     = connectors.CircuitOpen
	CircuitHalfOpen = connectors.CircuitHalfOpen
)

// breaker opens after Threshold consecutive failures (errors and unknown
// outcomes, not declines) and lets a trial call through after Cooldown.
// Calls cut by a crash of the plugin's process count neither way (forget):
// the process failed, not the channel, and the supervisor restarts it.
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	state    CircuitState
	failures int
	openedAt time.Time
	trial    bool // a half-open trial call is in flight
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: now, state: CircuitClosed}
}

// allow reports whether a call may go through, and claims the trial slot
// when half-open.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case CircuitOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state, b.trial = CircuitHalfOpen, true
		return true
	case CircuitHalfOpen:
		if b.trial {
			return false
		}
		b.trial = true
	}
	return true
}

// record feeds the result of an allowed call back.
func (b *breaker) record(failure bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !failure:
		b.state, b.failures, b.trial = CircuitClosed, 0, false
	case b.state == CircuitHalfOpen:
		b.state, b.openedAt, b.trial = CircuitOpen, b.now(), false
	default:
		b.failures++
		if b.failures >= b.threshold {
			b.state, b.openedAt = CircuitOpen, b.now()
		}
	}
}

// forget feeds back an allowed call that says nothing about the channel
// (cut by the plugin's crash): the count of failures stays as it was, and
// a half-open trial slot is free again for the next call.
func (b *breaker) forget() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == CircuitHalfOpen {
		b.trial = false
	}
}

// current returns the state as routing should see it: an open circuit
// whose cool-down has passed reads as half-open.
func (b *breaker) current() CircuitState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == CircuitOpen && b.now().Sub(b.openedAt) >= b.cooldown {
		return CircuitHalfOpen
	}
	return b.state
}
