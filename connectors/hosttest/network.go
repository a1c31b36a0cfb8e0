package hosttest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/sandbox"
)

// noWebhooks lists the reference plugins whose channel sends no webhooks, and
// which therefore take no webhook settings.
var noWebhooks = map[string]bool{"fx": true}

// Channel is where the reference plugins find the outside world.
type Channel struct {
	// BaseURL and APIKey reach the channel (the sandbox, usually). APIKey may
	// be a ${NAME} reference, which the host resolves from its environment.
	BaseURL, APIKey string
	// Webhooks, if set, is the URL of a listener that serves
	// /connectors/{name}/… as Strait does: each connector tells the channel
	// to send its webhooks to Webhooks/connectors/<name>/webhook, signed with
	// WebhookSecret.
	Webhooks, WebhookSecret string
}

// Reference returns the entry of a reference plugin on ch. spec is "name", or
// "name=plugin" to run plugins/<plugin> under another name; the plugin is
// built on first use (Binary).
func (ch Channel) Reference(t testing.TB, spec string) Connector {
	t.Helper()
	name, plugin, ok := strings.Cut(spec, "=")
	if !ok {
		plugin = name
	}
	cfg := map[string]string{"base_url": ch.BaseURL, "api_key": ch.APIKey}
	if ch.Webhooks != "" && !noWebhooks[plugin] {
		cfg["webhook_url"] = ch.Webhooks + "/connectors/" + name + "/webhook"
		cfg["webhook_secret"] = ch.WebhookSecret
	}
	return Connector{Name: name, Binary: Binary(t, plugin), Config: cfg}
}

// NetworkConfig describes a Network.
type NetworkConfig struct {
	// Sandbox configures the sandbox.
	Sandbox sandbox.Config
	// Connectors are reference plugins, as Channel.Reference takes them.
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
		t.Fatalf("hosttest: start sandbox: %v", err)
	}
	t.Cleanup(func() { n.Sandbox.Close() })
	n.Listener = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Host is set before any connector runs, so before any webhook.
		n.Host.ForwardHTTP(w, r)
	}))
	t.Cleanup(n.Listener.Close)

	ch := Channel{BaseURL: n.Sandbox.URL(), APIKey: cfg.APIKey, Webhooks: n.Listener.URL, WebhookSecret: cfg.WebhookSecret}
	conns := make([]Connector, len(cfg.Connectors))
	for i, spec := range cfg.Connectors {
		conns[i] = ch.Reference(t, spec)
	}
	dir := t.TempDir()
	Install(t, dir, conns...)
	n.Host = Start(t, host.Config{Dir: dir, CallTimeout: cfg.CallTimeout})
	return n
}
