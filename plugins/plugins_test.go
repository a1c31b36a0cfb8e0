// Package plugins_test runs the conformance kit and end-to-end webhook
// checks for the four reference connectors against an in-process sandbox.
package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/conformance"
	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/connectors/hosttest"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }

const webhookSecret = "whsec_plugins_test"

func startSandbox(t *testing.T) *sandbox.Server {
	t.Helper()
	sb, err := sandbox.Start(sandboxConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func sandboxConfig(t *testing.T) sandbox.Config {
	return sandbox.Config{DataDir: t.TempDir(), TimeoutHold: 5 * time.Second, PayoutDelay: 100 * time.Millisecond}
}

func pluginConfig(sb *sandbox.Server) map[string]string {
	return map[string]string{"base_url": sb.URL(), "api_key": sandbox.DefaultAPIKey, "webhook_secret": webhookSecret}
}

// approve plays the buyer: it posts the approval form of a 3-D Secure,
// wallet or agreement page, or pays a virtual account in full.
func approve(t *testing.T, a *connectors.NextAction) {
	t.Helper()
	form := url.Values{"action": {"approve"}}
	if a.Type == connectors.ActionBankTransfer {
		form = url.Values{"amount": {fmt.Sprint(a.Transfer.Amount.Minor)}, "payer_name": {"Grace"}}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(a.URL, form)
	if err != nil {
		t.Fatalf("buyer page %s: %v", a.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("buyer page %s: status %d", a.URL, resp.StatusCode)
	}
}

// signedWebhook builds the sandbox's notification of type typ about the
// kit's payment, signed as the sandbox signs (sandbox.Sign) with the
// plugins' webhook secret.
func signedWebhook(typ string) func(*testing.T, conformance.Payment) connectors.HTTPRequest {
	return func(t *testing.T, p conformance.Payment) connectors.HTTPRequest {
		id := "evt_kit_" + strings.ReplaceAll(p.Reference, "-", "_")
		data := map[string]any{"id": p.ID, "merchant_reference": p.Reference, "reference": p.Reference,
			"amount": p.Amount.Minor, "currency": p.Amount.Currency, "status": "approved", "state": "captured"}
		body, err := json.Marshal(map[string]any{"id": id, "type": typ, "channel": strings.Split(typ, ".")[0],
			"created_at": time.Now().UTC().Format(time.RFC3339), "data": data})
		if err != nil {
			t.Fatal(err)
		}
		ts := fmt.Sprint(time.Now().Unix())
		return connectors.HTTPRequest{Method: http.MethodPost, Path: "/webhook", Body: body, Headers: http.Header{
			"Content-Type":          {"application/json"},
			sandbox.HeaderEventID:   {id},
			sandbox.HeaderTimestamp: {ts},
			sandbox.HeaderSignature: {sandbox.Sign(webhookSecret, id, ts, body)},
		}}
	}
}

func TestConformance(t *testing.T) {
	sb := startSandbox(t)
	cases := []struct {
		name string
		cfg  conformance.Config
	}{
		{"cardnet", conformance.Config{CompleteAction: approve, SignedWebhook: signedWebhook("card.payment.authorized"),
			OpenDispute: func(t *testing.T, p conformance.Payment) string {
				id, err := sb.TriggerDispute(p.ID, sandbox.DisputeKindFraud)
				if err != nil {
					t.Fatal(err)
				}
				return id
			},
			// The 3-D Secure test card waits for the buyer.
			WaitingAuthorize: connectors.AuthorizeRequest{Card: &connectors.Card{Number: "4000000000000069", ExpMonth: 12, ExpYear: 2031, CVC: "123"}}}},
		{"bank", conformance.Config{CompleteAction: approve, SignedWebhook: signedWebhook("bank.payout.completed")}},
		{"wallet", conformance.Config{CompleteAction: approve, SignedWebhook: signedWebhook("wallet.payment.succeeded")}},
		{"fx", conformance.Config{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Binary = hosttest.Binary(t, tc.name)
			tc.cfg.Config = pluginConfig(sb)
			conformance.Run(t, tc.cfg)
		})
	}
}

// startStrait starts a sandbox and the slice of Strait these tests need: the
// connector host running the named plugins, and the /connectors/{name}/…
// route that forwards channel webhooks to it. The plugins' API key is an
// environment reference, so the host's ${NAME} resolution is exercised too.
func startStrait(t *testing.T, callTimeout time.Duration, names ...string) *sandboxtest.Network {
	t.Helper()
	t.Setenv("PLUGINS_TEST_SANDBOX_KEY", sandbox.DefaultAPIKey)
	return sandboxtest.StartNetwork(t, sandboxtest.NetworkConfig{
		Sandbox:       sandboxConfig(t),
		Connectors:    names,
		CallTimeout:   callTimeout,
		APIKey:        "${PLUGINS_TEST_SANDBOX_KEY}",
		WebhookSecret: webhookSecret,
	})
}

func nextEvent(t *testing.T, m *host.Manager) connectors.Event {
	t.Helper()
	select {
	case ev := <-m.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return connectors.Event{}
}

func TestThreeDSChallengeResultArrivesAsAnEventOnce(t *testing.T) {
	s := startStrait(t, 10*time.Second, "cardnet")
	c, _ := s.Host.Get("cardnet")
	resp, err := c.Authorize(context.Background(), connectors.AuthorizeRequest{
		IdempotencyKey: "att-3ds", Reference: "pay-3ds", Amount: connectors.Money{Minor: 1050, Currency: "USD"},
		Capture: true, PaymentMethod: "card",
		Card: &connectors.Card{Number: "4000000000000069", ExpMonth: 12, ExpYear: 2031, CVC: "123"},
	})
	if err != nil || resp.Result.Outcome != connectors.OutcomeActionRequired || resp.NextAction.Type != connectors.ActionThreeDSChallenge {
		t.Fatalf("authorize: %+v, %v", resp, err)
	}
	approve(t, resp.NextAction)
	ev := nextEvent(t, s.Host)
	if ev.Connector != "cardnet" || ev.Type != connectors.EventPaymentResult || ev.PaymentID != resp.PaymentID ||
		ev.Result.Outcome != connectors.OutcomeApproved || ev.Reference != "pay-3ds" {
		t.Fatalf("event = %+v", ev)
	}
	// The channel sends the same notification again: Strait sees it once.
	req, _ := http.NewRequest(http.MethodPost, s.Sandbox.URL()+"/webhooks/events/"+ev.ID+"/redeliver", nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusAccepted {
		t.Fatalf("redeliver: %v %v", r, err)
	}
	select {
	case dup := <-s.Host.Events():
		t.Fatalf("duplicate webhook delivered twice: %+v", dup)
	case <-time.After(time.Second):
	}
}

func TestForgedWebhookIsRefused(t *testing.T) {
	s := startStrait(t, 10*time.Second, "cardnet")
	body := `{"id":"evt_forged","type":"card.payment.authorized","channel":"card","created_at":"2025-01-02T00:00:00Z","data":{}}`
	req, _ := http.NewRequest(http.MethodPost, s.Listener.URL+"/connectors/cardnet/webhook", strings.NewReader(body))
	req.Header.Set("X-Sandbox-Event-Id", "evt_forged")
	req.Header.Set("X-Sandbox-Timestamp", fmt.Sprint(time.Now().Unix()))
	req.Header.Set("X-Sandbox-Signature", "v1="+strings.Repeat("0", 64))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %v %v", resp, err)
	}
	select {
	case ev := <-s.Host.Events():
		t.Fatalf("forged webhook became an event: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// The timeout card holds the network's answer past Strait's deadline: the
// attempt is unknown, never retried, and QueryPayment resolves it.
func TestTimeoutIsUnknownAndResolvedThroughQueryPayment(t *testing.T) {
	s := startStrait(t, time.Second, "cardnet")
	c, _ := s.Host.Get("cardnet")
	resp, err := c.Authorize(context.Background(), connectors.AuthorizeRequest{
		IdempotencyKey: "att-timeout", Reference: "pay-timeout", Amount: connectors.Money{Minor: 700, Currency: "EUR"},
		Capture: true, PaymentMethod: "card",
		Card: &connectors.Card{Number: "4000000000000085", ExpMonth: 12, ExpYear: 2031, CVC: "123"},
	})
	if resp.Result.Outcome != connectors.OutcomeUnknown || connectors.ErrorCode(err) != connectors.EUNKNOWN {
		t.Fatalf("authorize: %+v, %v", resp.Result, err)
	}
	st, err := c.QueryPayment(context.Background(), connectors.QueryPaymentRequest{Reference: "pay-timeout"})
	if err != nil || st.Result.Outcome != connectors.OutcomeApproved || st.Captured.Minor != 700 {
		t.Fatalf("query: %+v, %v", st, err)
	}
}

func TestPayoutResultArrivesAsAnEvent(t *testing.T) {
	s := startStrait(t, 10*time.Second, "bank")
	c, _ := s.Host.Get("bank")
	resp, err := c.Payout(context.Background(), connectors.PayoutRequest{
		IdempotencyKey: "po-1", Reference: "settle-1", Amount: connectors.Money{Minor: 100000, Currency: "USD"},
		Beneficiary: &connectors.BankAccount{Holder: "Acme Ltd", Number: "GB33BUKB20201550000", BankCode: "BUKBGB22", Country: "GB"},
	})
	if err != nil || resp.Result.Outcome != connectors.OutcomePending {
		t.Fatalf("payout: %+v, %v", resp, err)
	}
	ev := nextEvent(t, s.Host)
	if ev.Type != connectors.EventPayoutResult || ev.ObjectID != resp.ID || ev.Result.Outcome != connectors.OutcomeDeclined ||
		ev.Result.Code != "account_closed" {
		t.Fatalf("event = %+v", ev)
	}
}

// Killing the plugin mid-authorize leaves the attempt unknown; the plugin
// is back within 2 s, QueryPayment resolves the attempt, and repeating it
// with the same idempotency key charges nothing twice.
func TestKillMidAuthorizeIsResolvedWithoutDoubleCharge(t *testing.T) {
	s := startStrait(t, 10*time.Second, "cardnet")
	c, _ := s.Host.Get("cardnet")
	req := connectors.AuthorizeRequest{
		IdempotencyKey: "att-kill", Reference: "pay-kill", Amount: connectors.Money{Minor: 4200, Currency: "USD"},
		Capture: true, PaymentMethod: "card",
		// The timeout card: the network records the approval, then holds its answer.
		Card: &connectors.Card{Number: "4000000000000085", ExpMonth: 12, ExpYear: 2031, CVC: "123"},
	}
	before, _ := s.Host.Status("cardnet")
	go func() {
		time.Sleep(300 * time.Millisecond)
		syscall.Kill(before.PID, syscall.SIGKILL)
	}()
	resp, err := c.Authorize(context.Background(), req)
	killed := time.Now()
	if resp.Result.Outcome != connectors.OutcomeUnknown || connectors.ErrorCode(err) != connectors.EUNKNOWN {
		t.Fatalf("authorize during kill: %+v, %v", resp.Result, err)
	}
	for {
		st, _ := s.Host.Status("cardnet")
		if st.Health == host.HealthUp && st.PID != 0 && st.PID != before.PID {
			break
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("cardnet not back within 2 s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := c.QueryPayment(context.Background(), connectors.QueryPaymentRequest{Reference: "pay-kill"})
	if err != nil || st.Result.Outcome != connectors.OutcomeApproved || st.Captured.Minor != 4200 {
		t.Fatalf("resolve through QueryPayment: %+v, %v", st, err)
	}
	again, err := c.Authorize(context.Background(), req)
	if err != nil || again.PaymentID != st.PaymentID {
		t.Fatalf("repeat with the same key: %+v, %v; want payment %s", again, err, st.PaymentID)
	}
	var list struct{ Data []json.RawMessage }
	r, _ := http.NewRequest(http.MethodGet, s.Sandbox.URL()+"/card/payments?merchant_reference=pay-kill", nil)
	r.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	hr, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	if err := json.NewDecoder(hr.Body).Decode(&list); err != nil || len(list.Data) != 1 {
		t.Fatalf("payments at the network for pay-kill: %d, %v; want exactly 1", len(list.Data), err)
	}
}
