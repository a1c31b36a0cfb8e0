package sandbox

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// idSource makes opaque, type-prefixed, time-ordered IDs. Monotonic entropy
// keeps IDs made in the same millisecond (or under a fixed test clock) in
// creation order, so sorting by ID sorts by age.
type idSource struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

func newIDSource() *idSource {
	return &idSource{entropy: ulid.Monotonic(rand.Reader, 0)}
}

func (g *idSource) next(prefix string, t time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(t), g.entropy)
	if err != nil {
		// Only possible after 2^80 IDs in one millisecond, or if the system's
		// random source fails; neither leaves the sandbox usable.
		panic("sandbox: cannot make an id: " + err.Error())
	}
	return prefix + "_" + strings.ToLower(id.String())
}
