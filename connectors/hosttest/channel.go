package hosttest

import (
	"strings"
	"testing"
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
