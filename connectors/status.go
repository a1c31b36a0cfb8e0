package connectors

import "time"

// Status is what operators and routing see of an installed connector: its
// description, whether its process is up (Health), whether calls may reach it
// (Circuit, Enabled) and how its latest calls went. The plugin host
// (connectors/host) reports it; the payment core reads it through this
// package, never through the host.
type Status struct {
	Name           string
	Kind           Kind
	Version        string
	Capabilities   []Capability
	PaymentMethods []string
	Currencies     []string
	Countries      []string
	Health         Health
	Circuit        CircuitState
	Enabled        bool
	PID            int
	Restarts       int
	LastError      string
	Since          time.Time // when Health last changed
	Calls          int       // calls made since start
	P50, P99       time.Duration
	ErrorRate      float64 // over the latest calls, 0 to 1
}

// Routable reports whether routing may send a call to the connector now.
func (s Status) Routable() bool {
	return s.Enabled && s.Health == HealthUp && s.Circuit != CircuitOpen
}

// Health is the supervision state of a connector plugin.
type Health string

// Health states.
const (
	HealthStarting   Health = "starting"   // first launch in progress
	HealthUp         Health = "up"         // running, configured, answering pings
	HealthRestarting Health = "restarting" // crashed or failed to start; a restart is scheduled
	HealthDown       Health = "down"       // refused (checksum, protocol version, config) or closed
)

// CircuitState is the state of a connector's circuit breaker.
type CircuitState string

// Circuit states.
const (
	// CircuitClosed lets every call through.
	CircuitClosed CircuitState = "closed"
	// CircuitOpen refuses calls (EUNAVAILABLE) until the cool-down ends.
	CircuitOpen CircuitState = "open"
	// CircuitHalfOpen lets one trial call through; its result closes or
	// re-opens the circuit.
	CircuitHalfOpen CircuitState = "half_open"
)
