package host_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
)

// How Strait's server wires the host: start it, route webhooks under
// /connectors/{name}/…, consume events, call connectors, stop it.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := host.New(host.Config{Logger: slog.Default(), Registry: reg, CallTimeout: 15 * time.Second})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	if err := m.Start(context.Background()); err != nil {
		panic(err) // the manifest could not be read
	}

	go func() {
		for ev := range m.Events() {
			_ = ev // record it in one transaction, deduplicated by (ev.Connector, ev.ID)
		}
	}()

	http.HandleFunc("/connectors/", func(w http.ResponseWriter, r *http.Request) {
		name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/connectors/"), "/")
		c, ok := m.Get(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		body := make([]byte, 0) // read r.Body with a size limit
		resp, _ := c.HandleHTTP(r.Context(), connectors.HTTPRequest{Method: r.Method, Path: "/" + rest,
			Query: r.URL.RawQuery, Headers: r.Header, Body: body})
		for k, v := range resp.Headers {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
	})

	for _, s := range m.List() {
		if s.Routable() {
			_ = s.Name // a candidate for routing
		}
	}
}
