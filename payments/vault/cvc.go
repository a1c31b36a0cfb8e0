package vault

import (
	"sync"
	"time"
)

// DefaultCVCTTL is how long a CVC waits for its authorization. Ten minutes
// covers a buyer finishing checkout (including a 3-D Secure challenge) after
// tokenizing; a CVC that waits longer is wiped and the buyer re-enters it.
const DefaultCVCTTL = 10 * time.Minute

// CVCStore holds CVCs in process memory, keyed by token, for at most a TTL.
// TakeCVC removes the value, so a CVC serves one authorization. Nothing here is
// persisted or logged; a restart forgets every CVC, by design. With several
// Strait replicas, the authorization must reach the replica that tokenized the
// card (or the card is tokenized in the confirm request itself).
type CVCStore struct {
	mu   sync.Mutex
	ttl  time.Duration
	now  func() time.Time
	held map[Token]heldCVC
}

type heldCVC struct {
	cvc     CVC
	expires time.Time
}

// NewCVCStore returns a store whose entries live for ttl (DefaultCVCTTL if ttl
// is not positive), timed by now.
func NewCVCStore(ttl time.Duration, now func() time.Time) *CVCStore {
	if ttl <= 0 {
		ttl = DefaultCVCTTL
	}
	return &CVCStore{ttl: ttl, now: now, held: map[Token]heldCVC{}}
}

// Put holds c for t, replacing (and wiping) any CVC already held for t. It also
// wipes every expired entry, so the store does not grow with abandoned checkouts.
func (s *CVCStore) Put(t Token, c CVC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, h := range s.held {
		if !now.Before(h.expires) {
			h.cvc.Wipe()
			delete(s.held, k)
		}
	}
	if old, ok := s.held[t]; ok {
		old.cvc.Wipe()
	}
	s.held[t] = heldCVC{cvc: c, expires: now.Add(s.ttl)}
}

// Take removes and returns the CVC held for t. It returns false if none is held
// or it has expired (an expired one is wiped). The caller wipes the returned CVC
// once the authorization request is sent.
func (s *CVCStore) Take(t Token) (CVC, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.held[t]
	if !ok {
		return CVC{}, false
	}
	delete(s.held, t)
	if !s.now().Before(h.expires) {
		h.cvc.Wipe()
		return CVC{}, false
	}
	return h.cvc, true
}

// Len returns the number of CVCs held, expired or not.
func (s *CVCStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}
