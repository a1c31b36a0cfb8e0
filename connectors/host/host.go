// Package host discovers, launches and supervises connector plugins, and
// hands the payment core a connectors.Connector for each.
//
// The load order, once: New checks the configuration and registers
// metrics; Start reads the manifest in the plugin directory and launches
// every entry in parallel (a refused or failing plugin never stops the
// others); each plugin is then pinged, restarted with backoff after a
// crash, and its events are pumped into Events until Close.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/straitpay/strait/connectors"
)

// Defaults for Config. Each says why it is what it is.
const (
	// DefaultDir is where `make build` puts the reference connectors.
	DefaultDir = "bin/plugins"
	// DefaultCallTimeout bounds a channel call. Card networks answer in a
	// few seconds; past 15 s the buyer has given up and the attempt is
	// better recorded as unknown and resolved through QueryPayment.
	DefaultCallTimeout = 15 * time.Second
	// DefaultStartTimeout bounds the handshake. A Go plugin handshakes in
	// about 10 ms; 5 s allows a cold, loaded machine and no more.
	DefaultStartTimeout = 5 * time.Second
	// DefaultPingInterval is how often a running plugin is pinged; a crash
	// is seen sooner through the process exit, the ping catches hangs.
	DefaultPingInterval = 2 * time.Second
	// DefaultRestartMin is the first restart delay: short enough to have a
	// killed plugin back well within 2 s.
	DefaultRestartMin = 100 * time.Millisecond
	// DefaultRestartMax caps the doubling delay for a plugin that keeps
	// crashing, so it still comes back within a minute once fixed.
	DefaultRestartMax = 30 * time.Second
	// DefaultBreakerFailures consecutive errors or unknown outcomes open a
	// connector's circuit: a few in a row rule out a one-off glitch.
	DefaultBreakerFailures = 5
	// DefaultBreakerCooldown is how long an open circuit refuses calls
	// before letting one trial call through.
	DefaultBreakerCooldown = 10 * time.Second
	// DefaultEventBuffer is the capacity of the Events channel.
	DefaultEventBuffer = 1024
)

// Config configures a Manager. Zero values take the defaults above.
type Config struct {
	// Dir is the plugin directory holding manifest.json and the binaries.
	// Empty means $STRAIT_PLUGIN_DIR, then DefaultDir.
	Dir string
	// Logger receives the host's logs and every plugin's log lines.
	Logger *slog.Logger
	// Registry is where the connector metrics are registered; nil means a
	// private registry (metrics are kept but not exported).
	Registry prometheus.Registerer
	// CallTimeout bounds every call; a caller's shorter deadline wins.
	CallTimeout  time.Duration
	StartTimeout time.Duration
	PingInterval time.Duration
	RestartMin   time.Duration
	RestartMax   time.Duration
	// BreakerFailures and BreakerCooldown tune the circuit breaker.
	BreakerFailures int
	BreakerCooldown time.Duration
	// LookupEnv resolves ${NAME} in manifest config values; nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// EventSink, when set, receives every event instead of the Events
	// channel. An event is acknowledged to the plugin only when the sink
	// returns nil, so a sink that persists the event makes delivery
	// lossless across crashes of either side.
	EventSink   func(context.Context, connectors.Event) error
	EventBuffer int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = os.Getenv("STRAIT_PLUGIN_DIR")
	}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.CallTimeout, DefaultCallTimeout)
	set(&c.StartTimeout, DefaultStartTimeout)
	set(&c.PingInterval, DefaultPingInterval)
	set(&c.RestartMin, DefaultRestartMin)
	set(&c.RestartMax, DefaultRestartMax)
	set(&c.BreakerCooldown, DefaultBreakerCooldown)
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Health, Status and their constants are the contract's (connectors), so the
// payment core reads a connector's state without importing the host.
type (
	Health = connectors.Health
	Status = connectors.Status
)

// Health states.
const (
	HealthStarting   = connectors.HealthStarting
	HealthUp         = connectors.HealthUp
	HealthRestarting = connectors.HealthRestarting
	HealthDown       = connectors.HealthDown
)

// Manager supervises the connector plugins of one Strait process.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	events  chan connectors.Event
	seen    *recentIDs

	mu        sync.RWMutex
	instances map[string]*instance
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closed    bool
}

// New returns a Manager; nothing runs until Start.
func New(cfg Config) (*Manager, error) {
	cfg.defaults()
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("connector host: register metrics: %w", err)
	}
	return &Manager{
		cfg: cfg, log: cfg.Logger.With("component", "connectors"), metrics: m,
		events: make(chan connectors.Event, cfg.EventBuffer), seen: newRecentIDs(4096),
		instances: map[string]*instance{},
	}, nil
}

// Start reads the manifest and launches every connector in it. It returns
// once each has finished its first launch, whether it came up or not; it
// fails only when the manifest itself cannot be read. Plugins keep running
// until Close; ctx only bounds Start.
func (m *Manager) Start(ctx context.Context) error {
	entries, err := ReadManifest(m.cfg.Dir)
	if err != nil {
		return fmt.Errorf("connector host: %w", err)
	}
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("connector host: already started")
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	var started []chan struct{}
	for _, e := range entries {
		bin := e.Binary
		if !filepath.IsAbs(bin) {
			bin = filepath.Join(m.cfg.Dir, bin)
		}
		in := newInstance(m, e, bin)
		m.instances[e.Name] = in
		ready := make(chan struct{})
		started = append(started, ready)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			in.supervise(m.ctx, ready)
		}()
	}
	m.mu.Unlock()
	for _, ready := range started {
		select {
		case <-ready:
		case <-ctx.Done():
			return fmt.Errorf("connector host: start: %w", ctx.Err())
		}
	}
	return nil
}

// Get returns the connector called name. Calls to a connector that is
// down, disabled or whose circuit is open fail at once with EUNAVAILABLE
// and OutcomeError: nothing was sent.
func (m *Manager) Get(name string) (connectors.Connector, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	in, ok := m.instances[name]
	if !ok {
		return nil, false
	}
	return &proxy{in: in}, true
}

// Status returns the status of the connector called name.
func (m *Manager) Status(name string) (Status, bool) {
	m.mu.RLock()
	in, ok := m.instances[name]
	m.mu.RUnlock()
	if !ok {
		return Status{}, false
	}
	return in.status(), true
}

// List returns the status of every connector, sorted by name.
func (m *Manager) List() []Status {
	m.mu.RLock()
	out := make([]Status, 0, len(m.instances))
	for _, in := range m.instances {
		out = append(out, in.status())
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Snapshot is List without the figures of the latency window (P50, P99,
// ErrorRate and Calls are zero): what routing reads on every payment, which
// should not sort a thousand latencies per connector each time.
func (m *Manager) Snapshot() []Status {
	m.mu.RLock()
	out := make([]Status, 0, len(m.instances))
	for _, in := range m.instances {
		out = append(out, in.snapshot())
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetEnabled turns routing to a connector on or off. A disabled connector
// keeps running (its events and webhooks still flow) but refuses calls
// with EUNAVAILABLE. It returns an error for an unknown name.
func (m *Manager) SetEnabled(name string, enabled bool) error {
	m.mu.RLock()
	in, ok := m.instances[name]
	m.mu.RUnlock()
	if !ok {
		return connectors.Errorf("not_found", "connector %q is not installed", name)
	}
	in.enabled.Store(enabled)
	m.log.Info("connector enabled changed", "connector", name, "enabled", enabled)
	return nil
}

// Events returns the merged asynchronous events of all connectors. It is
// unused (and never fills) when Config.EventSink is set. An event is
// acknowledged to its plugin once it is in this channel; consumers
// deduplicate by Event.ID (delivery is at least once).
func (m *Manager) Events() <-chan connectors.Event { return m.events }

// Close stops every plugin process and waits for the supervisors. The
// Events channel is not closed: late readers simply see nothing more.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	cancel := m.cancel
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	return nil
}

// deliver hands an event to the sink or channel, dropping an id already
// delivered recently (a channel's duplicate webhook, a redelivery after a
// reconnect).
func (m *Manager) deliver(ctx context.Context, connector string, ev connectors.Event) error {
	ev.Connector = connector
	key := connector + "/" + ev.ID
	if m.seen.has(key) {
		return nil
	}
	if m.cfg.EventSink != nil {
		if err := m.cfg.EventSink(ctx, ev); err != nil {
			return fmt.Errorf("deliver event %s: %w", ev.ID, err)
		}
	} else {
		select {
		case m.events <- ev:
		case <-ctx.Done():
			return fmt.Errorf("deliver event %s: %w", ev.ID, ctx.Err())
		}
	}
	m.seen.add(key)
	return nil
}

// recentIDs is a bounded set of the latest delivered event ids.
type recentIDs struct {
	mu    sync.Mutex
	set   map[string]bool
	order []string
	next  int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{set: map[string]bool{}, order: make([]string, n)}
}

func (r *recentIDs) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[id]
}

func (r *recentIDs) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set[id] {
		return
	}
	delete(r.set, r.order[r.next])
	r.order[r.next] = id
	r.set[id] = true
	r.next = (r.next + 1) % len(r.order)
}
