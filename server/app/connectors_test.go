package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/connectors/hosttest"
	"github.com/straitpay/strait/ent/auditlog"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/server/app"
)

func TestMain(m *testing.M) { hosttest.Main(m) }

const testWebhookSecret = "whsec_app_test"

// connectorEnv is env with the reference connectors running against a
// sandbox, behind a real HTTP listener so the sandbox can deliver webhooks.
type connectorEnv struct {
	*env
	sb   *sandbox.Server
	srv  *httptest.Server
	dir  string
	logs *lockedBuffer
	// opts are the options every app startStrait builds gets (the
	// configure hook's), with Log writing to logs at logLevel.
	opts     app.Options
	logLevel slog.Leveler
	// onNew, if set, sees each app startStrait builds before it starts.
	onNew func(*app.App)
}

// startStrait replaces e's app with one over the plugin directory dir and
// starts it; the previous one, if started, is closed first.
func (ce *connectorEnv) startStrait(t *testing.T) {
	t.Helper()
	if ce.app != nil {
		ce.app.Close()
	}
	cfg := ce.app.Config
	cfg.PluginDir = ce.dir
	opts := ce.opts
	opts.Log = slog.New(slog.NewJSONHandler(ce.logs, &slog.HandlerOptions{Level: ce.logLevel}))
	a := app.New(cfg, ce.db, ce.keys, opts)
	if ce.onNew != nil {
		ce.onNew(a)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ce.app = a
}

// newConnectorEnv starts a sandbox and Strait with the named reference
// connectors; entries may override a connector's manifest entry.
func newConnectorEnv(t *testing.T, db *store.DB, names ...string) *connectorEnv {
	t.Helper()
	return newConnectorEnvWith(t, db, nil, names...)
}

// newConnectorEnvWith is newConnectorEnv with the app's configuration and
// options adjusted by configure (see newEnvWith).
func newConnectorEnvWith(t *testing.T, db *store.DB, configure func(*app.Config, *app.Options), names ...string) *connectorEnv {
	t.Helper()
	return newConnectorEnvSpec(t, db, envSpec{configure: configure, connectors: names})
}

// envSpec describes a connectorEnv.
type envSpec struct {
	// configure adjusts the app's configuration and options (newEnvWith);
	// the options are kept for every restart.
	configure func(*app.Config, *app.Options)
	// sandbox adjusts the sandbox's configuration before it starts.
	sandbox func(*sandbox.Config)
	// connectors are manifest entries, "name" or "name=plugin" to run a
	// reference plugin under another name.
	connectors []string
	// channelURL gives a connector's channel base URL by name; the default
	// is the sandbox.
	channelURL map[string]string
	// logLevel is the app's log level; the default is info.
	logLevel slog.Leveler
	// onNew sees each app built, before it starts: for wrappers in the
	// options that must reach the app built around them (its plugin host).
	onNew func(*app.App)
}

// newConnectorEnvSpec starts a sandbox and Strait as spec says.
func newConnectorEnvSpec(t *testing.T, db *store.DB, spec envSpec) *connectorEnv {
	t.Helper()
	sbCfg := sandbox.Config{Logger: slog.New(slog.DiscardHandler), PayoutDelay: 100 * time.Millisecond,
		// Drifting rates are published every minute; the fixed table's are
		// as of midnight, too old to quote after 00:15.
		FXDrift: true}
	if spec.sandbox != nil {
		spec.sandbox(&sbCfg)
	}
	sb, err := sandbox.Start(sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	ce := &connectorEnv{sb: sb, dir: t.TempDir(), logs: &lockedBuffer{}, logLevel: spec.logLevel, onNew: spec.onNew}
	if ce.logLevel == nil {
		ce.logLevel = slog.LevelInfo
	}
	ce.env = newEnvWith(t, db, func(cfg *app.Config, opts *app.Options) {
		if spec.configure != nil {
			spec.configure(cfg, opts)
		}
		ce.opts = *opts
	})
	ce.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ce.app.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ce.srv.Close)
	ch := hosttest.Channel{BaseURL: sb.URL(), APIKey: sandbox.DefaultAPIKey, Webhooks: ce.srv.URL, WebhookSecret: testWebhookSecret}
	conns := make([]hosttest.Connector, len(spec.connectors))
	for i, c := range spec.connectors {
		conns[i] = ch.Reference(t, c)
		if u, ok := spec.channelURL[conns[i].Name]; ok {
			conns[i].Config["base_url"] = u
		}
	}
	hosttest.Install(t, ce.dir, conns...)
	ce.startStrait(t)
	return ce
}

func (ce *connectorEnv) writeManifest(t *testing.T, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ce.dir, host.ManifestFile), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// post sends a raw request to Strait's listener.
func (ce *connectorEnv) post(t *testing.T, path string, header http.Header, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ce.srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type connectorView struct {
	Name, Kind, Version, Health, Circuit string
	Capabilities, PaymentMethods         []string
	Currencies                           []string
	Enabled                              bool
	Restarts, Calls                      int
	LastError                            *string
	P50Ms, P99Ms, ErrorRate              float64
	Fees                                 []struct {
		Currency    string
		Fixed       struct{ Amount string }
		BasisPoints int
	}
	Limits []struct {
		Currency string
		Min      struct{ Amount string }
		Max      *struct{ Amount string }
	}
	Settings *struct{ ID string }
}

const connectorFields = `name kind version health circuit capabilities paymentMethods currencies enabled restarts calls lastError
	p50Ms p99Ms errorRate fees { currency fixed { amount } basisPoints } limits { currency min { amount } max { amount } } settings { id }`

func (e *env) connectors() map[string]connectorView {
	e.t.Helper()
	r := e.do("OPERATOR", `{ connectors { `+connectorFields+` } }`, nil)
	if len(r.Errors) > 0 {
		e.t.Fatalf("connectors: %s", r.Raw)
	}
	var list []connectorView
	if err := json.Unmarshal(r.Data["connectors"], &list); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]connectorView{}
	for _, c := range list {
		out[c.Name] = c
	}
	return out
}

func TestOperatorsSeeTheRunningConnectors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newConnectorEnv(t, db, "cardnet", "fx")
		got := ce.connectors()
		card, fx := got["cardnet"], got["fx"]
		if len(got) != 2 || card.Health != "UP" || card.Kind != "card_scheme" || card.Circuit != "CLOSED" || !card.Enabled ||
			!contains(card.Capabilities, "authorize") || !contains(card.PaymentMethods, "card") || !contains(card.Currencies, "JPY") ||
			card.LastError != nil || card.Settings != nil || len(card.Fees) != 0 {
			t.Fatalf("cardnet = %+v", card)
		}
		if fx.Health != "UP" || fx.Kind != "fx" || !contains(fx.Capabilities, "rates") {
			t.Fatalf("fx = %+v", fx)
		}
		for _, p := range []string{"MERCHANT_ADMIN", "API_KEY", "CASHIER"} {
			if r := ce.do(p, `{ connectors { name } }`, nil); r.code() != "FORBIDDEN" {
				t.Fatalf("%s: %s", p, r.Raw)
			}
		}
		rec := httptest.NewRecorder()
		ce.app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if !strings.Contains(rec.Body.String(), `strait_connector_up{connector="cardnet"} 1`) {
			t.Fatalf("plugin metrics missing from /metrics:\n%s", grep(rec.Body.String(), "strait_connector"))
		}
	})
}

func TestForgedWebhookIsRefusedAndStraitKeepsServing(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	ce := newConnectorEnv(t, db, "cardnet")
	forged := http.Header{
		"X-Sandbox-Event-Id":  {"evt_forged"},
		"X-Sandbox-Timestamp": {fmt.Sprint(time.Now().Unix())},
		"X-Sandbox-Signature": {"v1=" + strings.Repeat("0", 64)},
	}
	body := `{"id":"evt_forged","type":"card.payment.authorized","channel":"card","created_at":"2026-01-02T00:00:00Z","data":{}}`
	if code, _ := ce.post(t, "/connectors/cardnet/webhook", forged, body); code != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %d, want 401", code)
	}
	if code, resp := ce.post(t, "/connectors/nosuch/webhook", nil, "{}"); code != http.StatusNotFound || !strings.Contains(resp, `"error"`) {
		t.Fatalf("unknown connector: %d %s", code, resp)
	}
	if code, _ := ce.post(t, "/connectors/cardnet/webhook", forged, strings.Repeat("x", 2<<20)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", code)
	}
	if n := db.Client.ChannelEvent.Query().CountX(viewer.SystemContext(context.Background())); n != 0 {
		t.Fatalf("refused webhooks stored %d events", n)
	}
	if c := ce.connectors()["cardnet"]; c.Health != "UP" || c.Circuit != "CLOSED" {
		t.Fatalf("after forged webhooks cardnet = %+v", c)
	}
}

func TestDuplicatedWebhookIsStoredOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newConnectorEnv(t, db, "cardnet")
		ctx := context.Background()
		c, _ := ce.app.Connectors.Get("cardnet")
		resp, err := c.Authorize(ctx, connectors.AuthorizeRequest{
			IdempotencyKey: "att-3ds", Reference: "pay-3ds", Amount: connectors.Money{Minor: 1050, Currency: "USD"},
			Capture: true, PaymentMethod: "card",
			Card: &connectors.Card{Number: "4000000000000069", ExpMonth: 12, ExpYear: 2031, CVC: "123"},
		})
		if err != nil || resp.NextAction == nil {
			t.Fatalf("authorize: %+v, %v", resp, err)
		}
		approve(t, resp.NextAction.URL)
		sys := viewer.SystemContext(ctx)
		// The payment core does not know this payment (the test called the
		// connector directly), so the inbox keeps the event and retries it:
		// stored and tried, not processed.
		waitFor(t, "the webhook's event stored and handed to the payment core", func() bool {
			rows := db.Client.ChannelEvent.Query().AllX(sys)
			return len(rows) == 1 && rows[0].Attempts > 0
		})
		ev := db.Client.ChannelEvent.Query().OnlyX(sys)
		if ev.Connector != "cardnet" || ev.Type != "payment_result" || ev.PaymentID != resp.PaymentID || ev.Reference != "pay-3ds" {
			t.Fatalf("stored event = %+v", ev)
		}
		// The channel sends the same notification again.
		req, _ := http.NewRequest(http.MethodPost, ce.sb.URL()+"/webhooks/events/"+ev.EventID+"/redeliver", nil)
		req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusAccepted {
			t.Fatalf("redeliver: %v %v", r, err)
		}
		time.Sleep(time.Second)
		if n := db.Client.ChannelEvent.Query().CountX(sys); n != 1 {
			t.Fatalf("a duplicated webhook stored %d events", n)
		}
		r := ce.do("OPERATOR", `{ channelEvents(first: 10) { edges { node { id connector eventID type processedAt } } } }`, nil)
		if len(r.Errors) > 0 || !strings.Contains(r.Raw, ev.ID) {
			t.Fatalf("channelEvents: %s", r.Raw)
		}
		if r := ce.do("OPERATOR", `query($id: ID!) { node(id: $id) { id ... on ChannelEvent { eventID } } }`, map[string]any{"id": ev.ID}); len(r.Errors) > 0 {
			t.Fatalf("node(che): %s", r.Raw)
		}
		if r := ce.do("MERCHANT_ADMIN", `{ channelEvents(first: 10) { edges { node { id } } } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("merchant channelEvents: %s", r.Raw)
		}
	})
}

// approve plays the buyer on a 3-D Secure page.
func approve(t *testing.T, page string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(page, url.Values{"action": {"approve"}})
	if err != nil {
		t.Fatalf("buyer page %s: %v", page, err)
	}
	resp.Body.Close()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestConnectorSettingsAreValidatedAuditedAndKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newConnectorEnv(t, db, "cardnet")
		ctx := context.Background()
		update := `mutation($in: UpdateConnectorSettingsInput!) { updateConnectorSettings(input: $in) { ` + connectorFields + ` } }`
		fee := func(cur string, fixed any, bps int) map[string]any {
			return map[string]any{"currency": cur, "fixedAmount": fixed, "basisPoints": bps}
		}
		limit := func(cur string, min any, max any) map[string]any {
			l := map[string]any{"currency": cur, "min": min}
			if max != nil {
				l["max"] = max
			}
			return l
		}
		bad := []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"unknown currency", map[string]any{"name": "cardnet", "fees": []any{fee("XXX", 0, 10)}}, "fees[0].currency"},
			{"negative fixed", map[string]any{"name": "cardnet", "fees": []any{fee("USD", -1, 10)}}, "fees[0].fixedAmount"},
			{"bps above 10000", map[string]any{"name": "cardnet", "fees": []any{fee("USD", 30, 10001)}}, "fees[0].basisPoints"},
			{"repeated currency", map[string]any{"name": "cardnet", "fees": []any{fee("USD", 30, 290), fee("usd", 0, 1)}}, "fees[1].currency"},
			{"negative min", map[string]any{"name": "cardnet", "limits": []any{limit("JPY", -5, nil)}}, "limits[0].min"},
			{"min above max", map[string]any{"name": "cardnet", "limits": []any{limit("JPY", 500, 100)}}, "limits[0].min"},
		}
		for _, c := range bad {
			r := ce.do("OPERATOR", update, map[string]any{"in": c.in})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != c.field {
				t.Fatalf("%s: %s", c.name, r.Raw)
			}
		}
		if r := ce.do("OPERATOR", update, map[string]any{"in": map[string]any{"name": "nosuch", "fees": []any{}}}); r.code() != "NOT_FOUND" {
			t.Fatalf("unknown connector: %s", r.Raw)
		}
		if r := ce.do("MERCHANT_ADMIN", update, map[string]any{"in": map[string]any{"name": "cardnet"}}); r.code() != "FORBIDDEN" {
			t.Fatalf("merchant update: %s", r.Raw)
		}

		r := ce.do("OPERATOR", update, map[string]any{"in": map[string]any{"name": "cardnet",
			"fees":   []any{fee("USD", 30, 290), fee("JPY", "0", 350)},
			"limits": []any{limit("JPY", 100, "9999999999"), limit("USD", 50, nil)}}})
		var got struct{ UpdateConnectorSettings connectorView }
		mustData(t, r, &got)
		c := got.UpdateConnectorSettings
		if len(c.Fees) != 2 || c.Fees[0].Currency != "USD" || c.Fees[0].Fixed.Amount != "30" || c.Fees[0].BasisPoints != 290 ||
			len(c.Limits) != 2 || c.Limits[0].Max.Amount != "9999999999" || c.Limits[1].Max != nil || c.Limits[1].Min.Amount != "50" || c.Settings == nil {
			t.Fatalf("after update: %s", r.Raw)
		}
		// Omitting limits keeps them; [] clears the fees.
		r = ce.do("OPERATOR", update, map[string]any{"in": map[string]any{"name": "cardnet", "fees": []any{}}})
		mustData(t, r, &got)
		if c := got.UpdateConnectorSettings; len(c.Fees) != 0 || len(c.Limits) != 2 {
			t.Fatalf("partial update: %s", r.Raw)
		}

		r = ce.do("OPERATOR", `mutation { setConnectorEnabled(name: "cardnet", enabled: false) { name enabled } }`, nil)
		if len(r.Errors) > 0 || !strings.Contains(r.Raw, `"enabled":false`) {
			t.Fatalf("disable: %s", r.Raw)
		}
		card, _ := ce.app.Connectors.Get("cardnet")
		if _, err := card.QueryPayment(ctx, connectors.QueryPaymentRequest{Reference: "x"}); connectors.ErrorCode(err) != connectors.EUNAVAILABLE {
			t.Fatalf("a disabled connector took a call: %v", err)
		}
		forged := http.Header{"X-Sandbox-Event-Id": {"evt_x"}, "X-Sandbox-Timestamp": {fmt.Sprint(time.Now().Unix())}, "X-Sandbox-Signature": {"v1=00"}}
		if code, _ := ce.post(t, "/connectors/cardnet/webhook", forged, "{}"); code != http.StatusUnauthorized {
			t.Fatalf("webhook to a disabled connector: %d, want it checked by the connector (401)", code)
		}
		cat, err := ce.app.Catalog.Connectors(viewer.NewContext(ctx, viewer.Viewer{Kind: viewer.MerchantUser, MerchantID: ce.a.ID, Role: viewer.RoleAdmin}))
		if err != nil || len(cat) != 1 || cat[0].Enabled || len(cat[0].Limits) != 2 {
			t.Fatalf("catalog = %+v, %v", cat, err)
		}
		sys := viewer.SystemContext(ctx)
		actions := db.Client.AuditLog.Query().Where(auditlog.TargetType("connector_setting")).Order(auditlog.ByID()).AllX(sys)
		if len(actions) != 3 || actions[0].Action != "connector.settings.update" || actions[2].Action != "connector.disable" ||
			actions[2].ActorID != "test-op" || actions[2].Details["connector"] != "cardnet" {
			t.Fatalf("audit = %+v", actions)
		}

		// The setting is a node for operators only.
		if r := ce.do("OPERATOR", `query($id: ID!) { node(id: $id) { ... on ConnectorSetting { name enabled fees { currency } } } }`,
			map[string]any{"id": c.Settings.ID}); len(r.Errors) > 0 || !strings.Contains(r.Raw, `"name":"cardnet"`) {
			t.Fatalf("node(cns) as operator: %s", r.Raw)
		}
		if r := ce.do("MERCHANT_ADMIN", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.Settings.ID}); r.code() != "NOT_FOUND" {
			t.Fatalf("node(cns) as merchant: %s", r.Raw)
		}

		// A restart keeps the operator's choice over the manifest's default.
		ce.startStrait(t)
		if c := ce.connectors()["cardnet"]; c.Enabled || c.Health != "UP" || len(c.Limits) != 2 {
			t.Fatalf("after restart cardnet = %+v", c)
		}
		r = ce.do("OPERATOR", `mutation { setConnectorEnabled(name: "cardnet", enabled: true) { enabled } }`, nil)
		if !strings.Contains(r.Raw, `"enabled":true`) {
			t.Fatalf("enable: %s", r.Raw)
		}
		if r := ce.do("OPERATOR", `mutation { setConnectorEnabled(name: "nosuch", enabled: true) { enabled } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("enable unknown: %s", r.Raw)
		}
	})
}

func TestFXQuotesUseTheFXConnectorsRates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ce := newConnectorEnv(t, db, "fx")
		q := `mutation { createFxQuote(input: {baseCurrency: "EUR", quoteCurrency: "JPY"}) { baseRate rate rateSource } }`
		var r gqlResponse
		deadline := time.Now().Add(15 * time.Second)
		for r = ce.do("MERCHANT_ADMIN", q, nil); len(r.Errors) > 0; r = ce.do("MERCHANT_ADMIN", q, nil) {
			if time.Now().After(deadline) {
				t.Fatalf("no quote: %s\n%s", r.Raw, grep(ce.logs.String(), "FX"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		// 164.319… ± 0.4 % drift, from the sandbox's table: 151.42 JPY and 0.9215 EUR per USD.
		if !strings.Contains(r.Raw, `"rateSource":"fx"`) || !strings.Contains(r.Raw, `"baseRate":"16`) {
			t.Fatalf("quote: %s\n%s", r.Raw, ce.logs.String())
		}
	})
}

func TestBadManifestsAndBinariesDoNotStopStrait(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	ce := newConnectorEnv(t, db, "cardnet", "fx")

	// A tampered binary: refused, down with the reason; the others serve.
	ce.app.Close()
	f, err := os.OpenFile(filepath.Join(ce.dir, "cardnet"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("tampered"))
	f.Close()
	ce.startStrait(t)
	got := ce.connectors()
	if c := got["cardnet"]; c.Health != "DOWN" || c.LastError == nil || !strings.Contains(*c.LastError, "checksum") {
		t.Fatalf("tampered cardnet = %+v", c)
	}
	if got["fx"].Health != "UP" {
		t.Fatalf("fx = %+v", got["fx"])
	}

	// An invalid manifest: logged loudly, Strait serves without connectors.
	ce.writeManifest(t, `[{"name": "cardnet", "binary": "cardnet", "sha256": "nothex", "surprise": 1}]`)
	ce.startStrait(t)
	if len(ce.connectors()) != 0 || !strings.Contains(ce.logs.String(), "connector manifest refused") {
		t.Fatalf("invalid manifest: %v\n%s", ce.connectors(), ce.logs.String())
	}

	// No manifest: a warning.
	os.Remove(filepath.Join(ce.dir, host.ManifestFile))
	ce.startStrait(t)
	if len(ce.connectors()) != 0 || !strings.Contains(ce.logs.String(), "no connector manifest") {
		t.Fatalf("no manifest:\n%s", ce.logs.String())
	}
	if code, _ := ce.post(t, "/connectors/cardnet/webhook", nil, "{}"); code != http.StatusNotFound {
		t.Fatalf("webhook without connectors: %d", code)
	}
	if r := ce.do("OPERATOR", `{ viewer { principal } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("GraphQL without connectors: %s", r.Raw)
	}
}

func mustData(t *testing.T, r gqlResponse, into any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %s", r.Raw)
	}
	b, _ := json.Marshal(r.Data)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
