package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox"
)

// acquirerA is the card network as the first acquirer reaches it: a second
// sandbox behind a proxy. The sandbox decides every outcome by card number,
// the same at any acquirer; while softDecline is set, the proxy presents
// each authorization to the network with the try-again-later test card, so
// that a card declines (softly) at this acquirer only. The network records
// and answers it as for any card.
type acquirerA struct {
	sb          *sandbox.Server
	url         string
	softDecline atomic.Bool
}

func newAcquirerA(t *testing.T) *acquirerA {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	a := &acquirerA{sb: sb}
	target, _ := url.Parse(sb.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.softDecline.Load() && r.Method == http.MethodPost && r.URL.Path == "/card/payments" {
			var body map[string]any
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &body); err == nil {
				if card, ok := body["card"].(map[string]any); ok {
					card["number"] = "4000000000000051"
				}
				b, _ = json.Marshal(body)
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// TestCascadeAfterSoftDeclineEndToEnd runs the cardnet plugin twice, as
// "cardnet" (acquirer A, on its own network) and "cardnet_b" (acquirer B, on
// the environment's sandbox), with an operator's routing rule preferring A.
// A soft decline at A is tried once more at B: the buyer is charged at B
// when B approves, and declined after B when B declines too. A hard decline
// at A never reaches B.
func TestCascadeAfterSoftDeclineEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAcquirerA(t)
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "cardnet_b=cardnet"},
			channelURL: map[string]string{"cardnet": a.url}})
		x.ok(t, x.gql("OPERATOR", `mutation($in: RoutingRuleInput!) { upsertRoutingRule(input: $in) { key } }`,
			map[string]any{"in": map[string]any{"key": "prefer-a", "priority": 1, "enabled": true,
				"match": map[string]any{"methods": []string{"card"}}, "prefer": []string{"cardnet", "cardnet_b"}}}),
			"upsertRoutingRule", &struct{}{})
		atA := func(t *testing.T, att attemptView) networkPayment {
			t.Helper()
			n := cardPaymentsAt(t, a.sb.URL(), att.ID)
			if len(n) != 1 || len(cardPaymentsAt(t, x.sb.URL(), att.ID)) != 0 {
				t.Fatalf("attempt %s at A: %+v; it must be at A only", att.ID, n)
			}
			return n[0]
		}
		atB := func(t *testing.T, att attemptView) networkPayment {
			t.Helper()
			n := cardPaymentsAt(t, x.sb.URL(), att.ID)
			if len(n) != 1 || len(cardPaymentsAt(t, a.sb.URL(), att.ID)) != 0 {
				t.Fatalf("attempt %s at B: %+v; it must be at B only", att.ID, n)
			}
			return n[0]
		}

		t.Run("soft decline at A, approved at B", func(t *testing.T) {
			a.softDecline.Store(true)
			defer a.softDecline.Store(false)
			s := x.open(t, map[string]any{"amount": amountOf(7700, "SGD")})
			p := x.payCard(t, s, "4242424242424242", cvc3)
			as := x.payment(t, p.ID).attempts()
			if p.Status != "SUCCEEDED" || p.Connector != "cardnet_b" || len(as) != 2 {
				t.Fatalf("payment %+v, attempts %+v", p, as)
			}
			if as[0].Connector != "cardnet" || as[0].Status != "DECLINED" || as[0].DeclineCode != "try_again_later" ||
				as[1].Connector != "cardnet_b" || as[1].Status != "CAPTURED" {
				t.Fatalf("attempts %+v", as)
			}
			if n := atA(t, as[0]); n.State != "declined" || n.CapturedAmount != 0 {
				t.Fatalf("A holds %+v", n)
			}
			if n := atB(t, as[1]); n.State != "captured" || n.CapturedAmount != 7700 {
				t.Fatalf("B holds %+v", n)
			}
			if got := x.accountBalance(t, "CHANNEL", "cardnet_b", "RECEIVABLE", "SGD"); got != "-7700" {
				t.Fatalf("B's receivable %s", got)
			}
			if got := x.accountBalance(t, "CHANNEL", "cardnet", "RECEIVABLE", "SGD"); got != "" && got != "0" {
				t.Fatalf("A's receivable %s after its decline", got)
			}
		})

		t.Run("soft decline at A and at B", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(4400, "SGD")})
			p := x.payCard(t, s, "4000000000000044", cvc3)
			as := x.payment(t, p.ID).attempts()
			if p.Status != "REQUIRES_PAYMENT_METHOD" || p.FailureCode != "insufficient_funds" || len(as) != 2 ||
				as[0].Connector != "cardnet" || as[1].Connector != "cardnet_b" || as[0].Status != "DECLINED" || as[1].Status != "DECLINED" {
				t.Fatalf("payment %+v, attempts %+v", p, as)
			}
			atA(t, as[0])
			atB(t, as[1])
		})

		t.Run("hard decline at A never cascades", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(2200, "SGD")})
			p := x.payCard(t, s, "4000000000000002", cvc3)
			as := x.payment(t, p.ID).attempts()
			if p.Status != "REQUIRES_PAYMENT_METHOD" || p.FailureCode != "do_not_honor" || len(as) != 1 || as[0].Connector != "cardnet" {
				t.Fatalf("payment %+v, attempts %+v", p, as)
			}
			atA(t, as[0])
		})

		x.balanced(t)
	})
}
