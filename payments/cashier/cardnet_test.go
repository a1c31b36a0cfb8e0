package cashier_test

// The pipeline against real connector processes: the cardnet plugin (twice,
// as two acquirers) under the real plugin host, talking HTTP to the
// in-process sandbox card network.

import (
	"encoding/json"
	"fmt"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/host"
	"github.com/straitpay/strait/connectors/hosttest"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/money"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/routing"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox"
	"github.com/straitpay/strait/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { hosttest.Main(m) }

// startNetwork starts the sandbox and the host with connectors as
// name=plugin pairs; none given is cardnet twice, as "cardnet" and
// "cardnet_b".
func startNetwork(t *testing.T, callTimeout time.Duration, conns ...string) *sandboxtest.Network {
	t.Helper()
	if len(conns) == 0 {
		conns = []string{"cardnet=cardnet", "cardnet_b=cardnet"}
	}
	return sandboxtest.StartNetwork(t, sandboxtest.NetworkConfig{
		Sandbox:     sandbox.Config{TimeoutHold: 3 * time.Second, WebhookRetryBase: 100 * time.Millisecond},
		Connectors:  conns,
		CallTimeout: callTimeout,
	})
}

// paymentsAt counts the card network's payments for a Strait reference.
func paymentsAt(t *testing.T, n *sandboxtest.Network, reference string) int {
	t.Helper()
	return len(cardPayments[json.RawMessage](t, n, reference))
}

// cardPayments lists the card network's payments for a Strait reference
// (sandbox/API.md, GET /card/payments), each decoded into T.
func cardPayments[T any](t *testing.T, n *sandboxtest.Network, reference string) []T {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, n.Sandbox.URL()+"/card/payments?merchant_reference="+url.QueryEscape(reference), nil)
	r.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Data []T }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Data
}

// cardWorld is a world whose connectors are the real plugins.
func cardWorld(t *testing.T, db *store.DB, n *sandboxtest.Network, callTimeout time.Duration) *world {
	t.Helper()
	return cardWorldVia(t, db, n, n.Host, callTimeout)
}

// cardWorldVia is cardWorld reaching the plugins through conns.
func cardWorldVia(t *testing.T, db *store.DB, n *sandboxtest.Network, conns cashier.Connectors, callTimeout time.Duration) *world {
	t.Helper()
	w := newWorld(t, db)
	usdOnly := []money.Currency{usd}
	catalog := routing.NewMemCatalog(
		routing.Connector{Name: "cardnet", Methods: []routing.Method{routing.Card}, Currencies: usdOnly,
			Fees: []routing.Fee{{FixedMinor: 30, BasisPoints: 290}}, Enabled: true, Preauth: true},
		routing.Connector{Name: "cardnet_b", Methods: []routing.Method{routing.Card}, Currencies: usdOnly,
			Fees: []routing.Fee{{FixedMinor: 40, BasisPoints: 300}}, Enabled: true, Preauth: true},
	)
	w.svc = cashier.New(cashier.Config{
		Client: db.Client, Dialect: db.Dialect, Ledger: w.led,
		Risk:   risk.NewEngine(w.rules.RiskRules(), risk.NewMemCounters(nil), nil),
		Router: routing.NewRouter(catalog, routing.NewMemHealth(), w.rules.RoutingRules()), Catalog: catalog,
		Connectors: conns, Now: w.clock.Now, CallTimeout: callTimeout,
		Backoff: []time.Duration{time.Minute, 5 * time.Minute},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return w
}

// deliver hands the host's channel events to the payment core, as the inbox
// will, until the one about reference from connector has been applied.
// Both acquirers receive every card webhook (they share the sandbox), so the
// other one's copy names no attempt of its own: ENOTFOUND, skipped here.
func (w *world) deliver(n *sandboxtest.Network, connector, reference string) connectors.Event {
	w.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-n.Host.Events():
			err := w.svc.HandleEvent(w.sys, ev)
			if err != nil && payments.ErrorCode(err) != payments.ENOTFOUND {
				w.t.Fatalf("HandleEvent(%s): %v", ev.ID, err)
			}
			if ev.Connector == connector && ev.Reference == reference {
				if err != nil {
					w.t.Fatalf("HandleEvent(%s): %v", ev.ID, err)
				}
				return ev
			}
		case <-timeout:
			w.t.Fatalf("no channel event for %s within 10 s", reference)
			return connectors.Event{}
		}
	}
}

func TestCardnetOutcomes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorld(t, db, n, 5*time.Second)

		t.Run("approved sale", func(t *testing.T) {
			p := w.confirm(w.pay(1_050, ""), approveCard, "")
			as := w.attempts(p)
			if p.Status != paymentstatus.Succeeded || p.Connector != "cardnet" || paymentsAt(t, n, as[0].ID) != 1 {
				t.Fatalf("payment %s via %s", p.Status, p.Connector)
			}
		})

		t.Run("soft decline cascades once to the second acquirer", func(t *testing.T) {
			p := w.confirm(w.pay(1_050, ""), softCard, "")
			as := w.attempts(p)
			if p.Status != paymentstatus.RequiresPaymentMethod || len(as) != 2 ||
				as[0].Connector != "cardnet" || as[1].Connector != "cardnet_b" || as[1].DeclineCode != "insufficient_funds" {
				t.Fatalf("payment %s, %d attempts", p.Status, len(as))
			}
			for _, a := range as {
				if got := paymentsAt(t, n, a.ID); got != 1 {
					t.Fatalf("attempt %s: %d payments at the network", a.ID, got)
				}
			}
		})

		t.Run("hard decline never cascades", func(t *testing.T) {
			p := w.confirm(w.pay(1_050, ""), hardCard, "")
			if as := w.attempts(p); len(as) != 1 || p.FailureCode != "do_not_honor" {
				t.Fatalf("%d attempts, failure %q", len(as), p.FailureCode)
			}
		})

		t.Run("pre-auth, partial capture, partial refunds", func(t *testing.T) {
			p := w.confirm(w.pay(10_000, payment.CaptureMethodMANUAL), approveCard, "")
			p, err := w.svc.Capture(w.ctx, p.ID, ptr(7_500))
			if err != nil || p.AmountCaptured != 7_500 {
				t.Fatalf("capture: %v %v", p, err)
			}
			for i, amt := range []int64{2_500, 5_000} {
				if r, err := w.svc.Refund(w.ctx, p.ID, ptr(amt), "", fmt.Sprint("r", i)); err != nil || r.Status != "SUCCEEDED" {
					t.Fatalf("refund %d: %v %v", i, r, err)
				}
			}
			if _, err := w.svc.Refund(w.ctx, p.ID, ptr(1), "", "r9"); err == nil {
				t.Fatal("refunded more than captured")
			}
			w.balanced()
		})

		t.Run("3-D Secure challenge completed on the sandbox page", func(t *testing.T) {
			p := w.confirm(w.pay(2_000, ""), actionCard, "")
			na := cashier.NextActionOf(p)
			if p.Status != paymentstatus.RequiresAction || na == nil || na.Type != "THREE_DS_CHALLENGE" || na.URL == nil {
				t.Fatalf("payment %s, next action %+v", p.Status, na)
			}
			resp, err := http.PostForm(*na.URL, url.Values{"action": {"approve"}})
			if err != nil || resp.StatusCode >= 400 {
				t.Fatalf("challenge page: %v %v", resp, err)
			}
			resp.Body.Close()
			ev := w.deliver(n, "cardnet", w.attempts(p)[0].ID)
			p, _ = w.svc.Payment(w.ctx, p.ID)
			if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 2_000 || cashier.NextActionOf(p) != nil {
				t.Fatalf("after the challenge: %s", p.Status)
			}
			// The same event again changes nothing.
			if err := w.svc.HandleEvent(w.sys, ev); err != nil {
				t.Fatal(err)
			}
			if evs := w.events(p); strings.Join(evs, ",") != "payment.requires_action,payment.succeeded,payment.captured" {
				t.Fatalf("events %v", evs)
			}
			w.balanced()
		})
	})
}

// The timeout card answers after the deadline: the attempt is unknown, the
// payment processing; the janitor resolves it through QueryPayment, and the
// network holds exactly one payment for it.
func TestTimeoutIsUnknownThenResolvedByTheJanitor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorld(t, db, n, time.Second)
		p := w.confirm(w.pay(4_200, ""), unknownCard, "")
		as := w.attempts(p)
		if p.Status != paymentstatus.Processing || len(as) != 1 || as[0].Status != attemptstatus.Unknown {
			t.Fatalf("payment %s, attempt %s", p.Status, as[0].Status)
		}
		resolve(t, w, p, as[0])
		if got := paymentsAt(t, n, as[0].ID); got != 1 {
			t.Fatalf("%d payments at the network, want 1", got)
		}
	})
}

// Killing the plugin mid-authorize is an unknown outcome too; once the host
// has restarted it, the janitor resolves the attempt without charging again.
func TestPluginKilledMidAuthorizeIsResolvedWithoutDoubleCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorld(t, db, n, 5*time.Second)
		before, _ := n.Host.Status("cardnet")
		go func() {
			time.Sleep(300 * time.Millisecond)
			syscall.Kill(before.PID, syscall.SIGKILL)
		}()
		p := w.confirm(w.pay(4_200, ""), unknownCard, "")
		as := w.attempts(p)
		if p.Status != paymentstatus.Processing || len(as) != 1 || as[0].Status != attemptstatus.Unknown {
			t.Fatalf("payment %s, %d attempts (%s)", p.Status, len(as), as[0].Status)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, _ := n.Host.Status("cardnet")
			if st.Health == host.HealthUp && st.PID != before.PID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cardnet not restarted: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		resolve(t, w, p, as[0])
		if got := paymentsAt(t, n, as[0].ID); got != 1 {
			t.Fatalf("%d payments at the network, want 1", got)
		}
	})
}

// resolve runs the janitor until the unknown attempt is resolved, and
// checks the payment succeeded and posted once.
func resolve(t *testing.T, w *world, p *ent.Payment, a *ent.PaymentAttempt) {
	t.Helper()
	// Not due yet: the janitor leaves it alone.
	if n, err := w.svc.Sweep(w.sys); err != nil || n != 0 {
		t.Fatalf("early sweep checked %d: %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.clock.Add(2 * time.Minute)
		if _, err := w.svc.Sweep(w.sys); err != nil {
			t.Fatal(err)
		}
		p, _ = w.svc.Payment(w.ctx, p.ID)
		if p.Status != paymentstatus.Processing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still processing after sweeps")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 4_200 {
		t.Fatalf("resolved to %s (%d captured)", p.Status, p.AmountCaptured)
	}
	att, _ := w.db.Client.PaymentAttempt.Get(w.sys, a.ID)
	if att.Status != attemptstatus.Captured || att.CheckCount < 1 || att.ConnectorReference == "" {
		t.Fatalf("attempt %s, %d checks", att.Status, att.CheckCount)
	}
	if got := w.balance(ledger.ChannelAccount("cardnet", usd)); got != -4_200 {
		t.Fatalf("channel receivable %d", got)
	}
	w.balanced()
}
