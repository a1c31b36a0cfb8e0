package routing

import (
	"context"
	"slices"
	"sync"
)

// MemCatalog is an in-memory Catalog for tests and for running without a
// database.
type MemCatalog struct {
	mu    sync.Mutex
	conns []Connector
}

// NewMemCatalog returns a catalog of the given connectors.
func NewMemCatalog(conns ...Connector) *MemCatalog { return &MemCatalog{conns: conns} }

// Set replaces the connector with the same name, or adds it.
func (m *MemCatalog) Set(c Connector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.IndexFunc(m.conns, func(x Connector) bool { return x.Name == c.Name }); i >= 0 {
		m.conns[i] = c
		return
	}
	m.conns = append(m.conns, c)
}

// Connectors implements Catalog.
func (m *MemCatalog) Connectors(context.Context) ([]Connector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.conns), nil
}

// MemHealth is an in-memory Health whose stats tests set directly.
type MemHealth struct {
	mu    sync.Mutex
	stats map[string]Stats
}

// NewMemHealth returns a Health that knows nothing yet (every connector closed).
func NewMemHealth() *MemHealth { return &MemHealth{stats: map[string]Stats{}} }

// Set records a connector's stats.
func (m *MemHealth) Set(connector string, s Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats[connector] = s
}

// Stats implements Health.
func (m *MemHealth) Stats(_ context.Context, connector string) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats[connector], nil
}
