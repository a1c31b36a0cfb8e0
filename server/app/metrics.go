package app

import (
	"context"
	"github.com/straitpay/strait/payments/batch"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on their own registry so tests
// can build several servers in one process.
type metrics struct {
	registry  *prometheus.Registry
	httpReqs  *prometheus.CounterVec
	httpTime  *prometheus.HistogramVec
	gqlOps    *prometheus.CounterVec
	gqlTime   *prometheus.HistogramVec
	authFails *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		httpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "strait_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		gqlOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_graphql_operations_total",
			Help: "GraphQL operations by type and first root field, and outcome (ok or the first error code).",
		}, []string{"operation", "outcome"}),
		gqlTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "strait_graphql_operation_duration_seconds", Help: "GraphQL operation latency by type and first root field.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strait_auth_failures_total", Help: "Rejected credentials by kind (jwt, api_key, missing, oversized).",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.httpReqs, m.httpTime, m.gqlOps, m.gqlTime, m.authFails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// instrument wraps h, recording count and latency under a fixed route label.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.httpReqs.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.httpTime.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// operationLabel names an operation by its type and first root field
// ("query.payments"): bounded by the schema, unlike client-chosen names.
func operationLabel(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "invalid"
	}
	label := string(oc.Operation.Operation)
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		return label + "." + f.Name
	}
	return label
}

// graphqlMetrics is a gqlgen extension recording each operation.
type graphqlMetrics struct{ m *metrics }

func (graphqlMetrics) ExtensionName() string                   { return "StraitMetrics" }
func (graphqlMetrics) Validate(graphql.ExecutableSchema) error { return nil }

func (g graphqlMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	label := operationLabel(oc)
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
			outcome = code
		} else {
			outcome = "error"
		}
	}
	g.m.gqlOps.WithLabelValues(label, outcome).Inc()
	g.m.gqlTime.WithLabelValues(label).Observe(time.Since(start).Seconds())
	return resp
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush,
// hijack for websockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// batchCollector exports the group-committed steps' counts (payments/batch):
// the mean batch size is requests ÷ batches, and busy time ÷ batches the
// mean time a batch holds its transaction.
type batchCollector struct {
	stats                   func() map[string]batch.Stats
	batches, requests, busy *prometheus.Desc
}

func newBatchCollector(stats func() map[string]batch.Stats) *batchCollector {
	return &batchCollector{stats: stats,
		batches:  prometheus.NewDesc("strait_batch_batches_total", "Batches run by a group-committed step.", []string{"step"}, nil),
		requests: prometheus.NewDesc("strait_batch_requests_total", "Requests run in a group-committed step's batches.", []string{"step"}, nil),
		busy:     prometheus.NewDesc("strait_batch_busy_seconds_total", "Time a group-committed step spent running batches.", []string{"step"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *batchCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.batches
	ch <- c.requests
	ch <- c.busy
}

// Collect implements prometheus.Collector.
func (c *batchCollector) Collect(ch chan<- prometheus.Metric) {
	for step, st := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(st.Batches), step)
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(st.Requests), step)
		ch <- prometheus.MustNewConstMetric(c.busy, prometheus.CounterValue, st.Busy.Seconds(), step)
	}
}
