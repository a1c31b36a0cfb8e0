package host

import (
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus series of all connectors, labelled by
// connector name.
type metrics struct {
	up       *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	circuit  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strait_connector_up", Help: "1 when the connector plugin is running and configured, else 0.",
		}, []string{"connector"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_connector_restarts_total", Help: "Restarts of the connector plugin after a crash or failed ping.",
		}, []string{"connector"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_connector_calls_total", Help: "Connector calls by operation and normalized outcome.",
		}, []string{"connector", "op", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_connector_call_errors_total", Help: "Connector calls that returned an error, by error code.",
		}, []string{"connector", "op", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "strait_connector_call_duration_seconds", Help: "Connector call latency, host side, including the channel.",
			// 250 µs (a local plugin round trip) up to 32 s (a slow
			// channel hitting the call deadline).
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 18),
		}, []string{"connector", "op"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strait_connector_circuit_state", Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"connector"}),
	}
	for _, c := range []prometheus.Collector{m.up, m.restarts, m.calls, m.errors, m.latency, m.circuit} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func circuitValue(s CircuitState) float64 {
	switch s {
	case CircuitHalfOpen:
		return 1
	case CircuitOpen:
		return 2
	}
	return 0
}

// window keeps the latest calls of one connector for the p50/p99 and
// error rate in Status. 1024 calls is enough for a stable p99 and small
// enough to sort on every List.
type window struct {
	mu     sync.Mutex
	lat    [1024]time.Duration
	failed [1024]bool
	n      int // calls recorded, ever
}

func (w *window) add(d time.Duration, failed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := w.n % len(w.lat)
	w.lat[i], w.failed[i] = d, failed
	w.n++
}

// stats returns p50, p99 and the error rate over the window.
func (w *window) stats() (p50, p99 time.Duration, errRate float64, calls int) {
	w.mu.Lock()
	n := min(w.n, len(w.lat))
	lat := append([]time.Duration(nil), w.lat[:n]...)
	fails := 0
	for _, f := range w.failed[:n] {
		if f {
			fails++
		}
	}
	calls = w.n
	w.mu.Unlock()
	if n == 0 {
		return 0, 0, 0, calls
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[(n-1)*50/100], lat[(n-1)*99/100], float64(fails) / float64(n), calls
}
