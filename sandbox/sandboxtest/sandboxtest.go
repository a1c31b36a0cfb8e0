// Package sandboxtest runs Strait's reference plugins against the sandbox for
// tests: a sandbox, the real plugin host with the plugins installed, and a
// listener that routes the sandbox's webhooks back to the host.
//
// It lives on the sandbox's side so the connector test kit
// (connectors/hosttest) does not depend on the simulated outside world. A
// package that uses it runs its tests through hosttest.Main, so the plugin
// binaries built are removed afterwards.
package sandboxtest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/connectors/hosttest"
	"github.com/straitpay/strait/sandbox"
)

// NetworkConfig describes a Network.
type NetworkConfig struct {
	// Sandbox configures the sandbox.
	Sandbox sandbox.Config
	// Connectors are reference plugins, as hosttest.Channel.Reference takes them.
	Connectors []string
	// CallTimeout bounds each connector call (the host's default if zero).
	CallTimeout time.Duration
	// APIKey is the plugins' sandbox API key; default sandbox.DefaultAPIKey.
	APIKey string
	// WebhookSecret signs the sandbox's webhooks; default "whsec_hosttest".
	WebhookSecret string
}

// Network is the sandbox and a host running reference plugins against it,
// with the sandbox's webhooks delivered to the host through Listener, as
// Strait's /connectors/{name}/… route delivers them.
type Network struct {
	Sandbox  *sandbox.Server
	Host     *host.Manager
	Listener *httptest.Server
}

// StartNetwork starts a sandbox, a listener and a host with cfg's connectors,
// all closed when the test ends, and fails the test unless every connector
// came up.
func StartNetwork(t testing.TB, cfg NetworkConfig) *Network {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = sandbox.DefaultAPIKey
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = "whsec_hosttest"
	}
	n := &Network{}
	var err error
	if n.Sandbox, err = sandbox.Start(cfg.Sandbox); err != nil {
		t.Fatalf("sandboxtest: start sandbox: %v", err)
	}
	t.Cleanup(func() { n.Sandbox.Close() })
	n.Listener = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Host is set before any connector runs, so before any webhook.
		n.Host.ForwardHTTP(w, r)
	}))
	t.Cleanup(n.Listener.Close)

	ch := hosttest.Channel{BaseURL: n.Sandbox.URL(), APIKey: cfg.APIKey, Webhooks: n.Listener.URL, WebhookSecret: cfg.WebhookSecret}
	conns := make([]hosttest.Connector, len(cfg.Connectors))
	for i, spec := range cfg.Connectors {
		conns[i] = ch.Reference(t, spec)
	}
	dir := t.TempDir()
	hosttest.Install(t, dir, conns...)
	n.Host = hosttest.Start(t, host.Config{Dir: dir, CallTimeout: cfg.CallTimeout})
	return n
}
