package cashier_test

// 3-D Secure asked by risk, and canceling a payment that waits for its
// challenge, against the real cardnet plugin and the sandbox card network.

import (
	"context"
	"github.com/straitpay/strait/vocab/attemptstatus"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/payment"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/cashier"
	"github.com/straitpay/strait/payments/ledger"
	"github.com/straitpay/strait/payments/risk"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox/sandboxtest"
)

const frictionlessCard = "4000000000000077"

// cardAt is the card network's view of the payment of a Strait attempt.
type cardAt struct {
	State, Status  string
	DeclineCode    string                                   `json:"decline_code"`
	CapturedAmount int64                                    `json:"captured_amount"`
	ThreeDS        struct{ Requested, Flow, Result string } `json:"three_ds"`
}

func networkCard(t *testing.T, n *sandboxtest.Network, reference string) cardAt {
	t.Helper()
	list := cardPayments[cardAt](t, n, reference)
	if len(list) != 1 {
		t.Fatalf("the network holds %d payments for %s", len(list), reference)
	}
	return list[0]
}

// answer plays the buyer on the challenge page and returns the HTTP status.
func answer(t *testing.T, p *ent.Payment, action string) int {
	t.Helper()
	na := cashier.NextActionOf(p)
	if na == nil || na.URL == nil {
		t.Fatalf("payment %s has no challenge page", p.ID)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(*na.URL, url.Values{"action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lostVoids reaches the plugins through the host, but the answer of the
// first void is lost on the way back: that void reached the channel (reach)
// or not. Later voids go through.
type lostVoids struct {
	conns cashier.Connectors
	reach bool
	lost  *atomic.Bool
}

func loseFirstVoid(conns cashier.Connectors, reach bool) lostVoids {
	return lostVoids{conns: conns, reach: reach, lost: new(atomic.Bool)}
}

func (l lostVoids) Get(name string) (connectors.Connector, bool) {
	c, ok := l.conns.Get(name)
	return lostVoid{Connector: c, lostVoids: l}, ok
}

type lostVoid struct {
	connectors.Connector
	lostVoids
}

func (l lostVoid) Void(ctx context.Context, r connectors.VoidRequest) (connectors.OperationResponse, error) {
	if l.lost.Swap(true) {
		return l.Connector.Void(ctx, r)
	}
	if l.reach {
		if _, err := l.Connector.Void(ctx, r); err != nil {
			return connectors.OperationResponse{}, err
		}
	}
	return connectors.OperationResponse{Result: connectors.Unknown("connection reset")}, connectors.Errorf(connectors.EUNKNOWN, "connection reset")
}

// challengeAbove makes risk challenge every USD payment above max.
func (w *world) challengeAbove(max int64) {
	w.t.Helper()
	if err := w.rules.UpsertRiskRule(risk.Rule{ID: "challenge-large", Kind: risk.AmountLimit, Action: risk.Challenge, Enabled: true,
		Score: 40, Params: risk.Params{Currency: usd, MaxMinor: max}}); err != nil {
		w.t.Fatal(err)
	}
}

// TestRiskChallengeAsksTheNetworkFor3DSChallenge: a risk rule that
// challenges sends a card the issuer would pass frictionless to the 3-D
// Secure challenge page; the buyer approves and the payment succeeds. Below
// the rule's threshold the same card stays frictionless.
func TestRiskChallengeAsksTheNetworkFor3DSChallenge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "cardnet=cardnet")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorld(t, db, n, 5*time.Second)
		w.challengeAbove(1_000)

		small := w.confirm(w.pay(1_000, ""), frictionlessCard, "")
		if at := networkCard(t, n, w.attempts(small)[0].ID); small.Status != paymentstatus.Succeeded ||
			at.ThreeDS.Requested != "automatic" || at.ThreeDS.Flow != "frictionless" {
			t.Fatalf("below the rule: payment %s, network %+v", small.Status, at)
		}

		p := w.confirm(w.pay(2_500, ""), frictionlessCard, "")
		a := w.attempts(p)[0]
		if p.Status != paymentstatus.RequiresAction || cashier.NextActionOf(p).Type != "THREE_DS_CHALLENGE" {
			t.Fatalf("challenged payment is %s", p.Status)
		}
		if at := networkCard(t, n, a.ID); at.ThreeDS.Requested != "challenge" || at.ThreeDS.Flow != "challenge" || at.State != "requires_action" {
			t.Fatalf("the network holds %+v", at)
		}
		if a.RiskDecision["action"] != "challenge" {
			t.Fatalf("attempt risk decision %v", a.RiskDecision)
		}
		if code := answer(t, p, "approve"); code >= 400 {
			t.Fatalf("challenge page: HTTP %d", code)
		}
		w.deliver(n, "cardnet", a.ID)
		if p, _ = w.svc.Payment(w.ctx, p.ID); p.Status != paymentstatus.Succeeded || p.AmountCaptured != 2_500 {
			t.Fatalf("after the challenge: %s", p.Status)
		}
		if at := networkCard(t, n, a.ID); at.ThreeDS.Result != "authenticated" || at.CapturedAmount != 2_500 {
			t.Fatalf("the network holds %+v", at)
		}
		w.balanced()
	})
}

// TestCancelDuringChallengeVoidsAtTheNetwork proves the cancel of a payment
// waiting for 3-D Secure through the real cardnet plugin, including the
// race with the buyer and answers that get lost.
func TestCancelDuringChallengeVoidsAtTheNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "cardnet=cardnet")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorld(t, db, n, 5*time.Second)

		t.Run("the void reaches the network and the buyer is refused", func(t *testing.T) {
			waiting := w.confirm(w.pay(3_000, ""), actionCard, "")
			a := w.attempts(waiting)[0]
			p, err := w.svc.Cancel(w.ctx, waiting.ID)
			if err != nil || p.Status != paymentstatus.Canceled || p.CanceledAt == nil || cashier.NextActionOf(p) != nil {
				t.Fatalf("cancel: %v, %v", p, err)
			}
			if a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID); a.Status != attemptstatus.Voided {
				t.Fatalf("attempt %s", a.Status)
			}
			if at := networkCard(t, n, a.ID); at.State != "voided" || at.DeclineCode != "canceled" || at.CapturedAmount != 0 {
				t.Fatalf("the network holds %+v", at)
			}
			// The buyer finishes 3-D Secure after the cancel: refused.
			if code := answer(t, waiting, "approve"); code != http.StatusConflict {
				t.Fatalf("late approval: HTTP %d", code)
			}
			if at := networkCard(t, n, a.ID); at.State != "voided" || at.CapturedAmount != 0 {
				t.Fatalf("after the late approval the network holds %+v", at)
			}
			if again, err := w.svc.Cancel(w.ctx, p.ID); err != nil || again.Status != paymentstatus.Canceled {
				t.Fatalf("second cancel: %v, %v", again, err)
			}
			if evs := strings.Join(w.events(p), ","); evs != "payment.requires_action,payment.canceled" {
				t.Fatalf("events %s", evs)
			}
			if got := w.balance(ledger.ChannelAccount("cardnet", usd)); got != 0 {
				t.Fatalf("channel receivable %d", got)
			}
		})

		t.Run("the buyer finished first: the sale is recorded, not canceled", func(t *testing.T) {
			p := w.confirm(w.pay(3_100, ""), actionCard, "")
			a := w.attempts(p)[0]
			if code := answer(t, p, "approve"); code >= 400 {
				t.Fatalf("challenge page: HTTP %d", code)
			}
			// The cancel arrives before the network's webhook is handled.
			if _, err := w.svc.Cancel(w.ctx, p.ID); payments.ErrorCode(err) != payments.ECONFLICT {
				t.Fatalf("cancel of a payment the buyer completed: %v", err)
			}
			p, _ = w.svc.Payment(w.ctx, p.ID)
			if p.Status != paymentstatus.Succeeded || p.AmountCaptured != 3_100 || p.CanceledAt != nil {
				t.Fatalf("payment %s, %d captured", p.Status, p.AmountCaptured)
			}
			w.deliver(n, "cardnet", a.ID) // the webhook, late: changes nothing
			if evs := strings.Join(w.events(p), ","); evs != "payment.requires_action,payment.succeeded,payment.captured" {
				t.Fatalf("events %s", evs)
			}
			if at := networkCard(t, n, a.ID); at.State != "captured" {
				t.Fatalf("the network holds %+v", at)
			}
			w.balanced()
		})

		t.Run("a pre-auth the buyer finished first is voided", func(t *testing.T) {
			p := w.confirm(w.pay(3_200, payment.CaptureMethodMANUAL), actionCard, "")
			a := w.attempts(p)[0]
			if code := answer(t, p, "approve"); code >= 400 {
				t.Fatalf("challenge page: HTTP %d", code)
			}
			p, err := w.svc.Cancel(w.ctx, p.ID)
			if err != nil || p.Status != paymentstatus.Canceled {
				t.Fatalf("cancel: %v, %v", p, err)
			}
			if at := networkCard(t, n, a.ID); at.State != "voided" || at.Status != "approved" {
				t.Fatalf("the network holds %+v", at)
			}
			w.deliver(n, "cardnet", a.ID)
			if p, _ = w.svc.Payment(w.ctx, p.ID); p.Status != paymentstatus.Canceled {
				t.Fatalf("after the late webhook: %s", p.Status)
			}
		})

		t.Run("the buyer failed first: canceled here", func(t *testing.T) {
			p := w.confirm(w.pay(3_300, ""), actionCard, "")
			if code := answer(t, p, "fail"); code >= 400 {
				t.Fatalf("challenge page: HTTP %d", code)
			}
			p, err := w.svc.Cancel(w.ctx, p.ID)
			if err != nil || p.Status != paymentstatus.Canceled {
				t.Fatalf("cancel: %v, %v", p, err)
			}
			if a := w.attempts(p)[0]; a.Status != attemptstatus.Declined || a.DeclineCode != "authentication_failed" {
				t.Fatalf("attempt %s %s", a.Status, a.DeclineCode)
			}
		})
	})
}

// TestCancelWhoseAnswerIsLost: the void's answer never comes back. The
// attempt is unknown (the payment still requires action); the janitor asks
// the network and records what it finds: voided, so canceled; or, when the
// void never arrived and the buyer then paid, succeeded; or, when the void
// never arrived and the buyer did nothing, it replays the same void and
// the payment is canceled. Strait never calls canceled what the network
// captured.
func TestCancelWhoseAnswerIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "cardnet=cardnet")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, c := range []struct {
			name          string
			reached, pays bool
			want          paymentstatus.Status
			network       string
		}{
			{"the void reached the network", true, true, paymentstatus.Canceled, "voided"},
			{"the void never arrived and the buyer paid", false, true, paymentstatus.Succeeded, "captured"},
			{"the void never arrived and the buyer did nothing", false, false, paymentstatus.Canceled, "voided"},
		} {
			t.Run(c.name, func(t *testing.T) {
				w := cardWorldVia(t, db, n, loseFirstVoid(n.Host, c.reached), 5*time.Second)
				p := w.confirm(w.pay(3_400, ""), actionCard, "")
				a := w.attempts(p)[0]
				if _, err := w.svc.Cancel(w.ctx, p.ID); payments.ErrorCode(err) != payments.EUNAVAILABLE {
					t.Fatalf("cancel with its answer lost: %v", err)
				}
				if a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID); a.Status != attemptstatus.Unknown || a.NextCheckAt == nil {
					t.Fatalf("attempt %s, next check %v", a.Status, a.NextCheckAt)
				}
				if p, _ = w.svc.Payment(w.ctx, p.ID); p.Status != paymentstatus.RequiresAction {
					t.Fatalf("payment %s while the cancel is unknown", p.Status)
				}
				if c.pays {
					code := answer(t, p, "approve")
					if c.reached && code != http.StatusConflict || !c.reached && code >= 400 {
						t.Fatalf("the buyer's approval: HTTP %d", code)
					}
				}
				for i := 0; ; i++ {
					w.clock.Add(2 * time.Minute)
					if _, err := w.svc.Sweep(w.sys); err != nil {
						t.Fatal(err)
					}
					if p, _ = w.svc.Payment(w.ctx, p.ID); p.Status != paymentstatus.RequiresAction || i == 50 {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if p.Status != c.want {
					t.Fatalf("resolved to %s, want %s", p.Status, c.want)
				}
				if at := networkCard(t, n, a.ID); at.State != c.network {
					t.Fatalf("the network holds %+v", at)
				}
				wantCaptured := int64(0)
				if c.want == paymentstatus.Succeeded {
					wantCaptured = 3_400
				}
				if p.AmountCaptured != wantCaptured || paymentsAt(t, n, a.ID) != 1 {
					t.Fatalf("captured %d, %d payments at the network", p.AmountCaptured, paymentsAt(t, n, a.ID))
				}
				w.balanced()
			})
		}
	})
}

// TestAbandonedChallengeIsVoidedBeforeItExpires: a buyer who never answers
// the challenge has ActionTTL; then the janitor voids the payment at the
// network before it expires the attempt, so the buyer coming back later is
// refused instead of charged for a payment Strait gave up on. When that
// void's answer is lost nothing expires yet; the next check replays it.
func TestAbandonedChallengeIsVoidedBeforeItExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	n := startNetwork(t, 10*time.Second, "cardnet=cardnet")
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := cardWorldVia(t, db, n, loseFirstVoid(n.Host, false), 5*time.Second)
		waiting := w.confirm(w.pay(3_500, ""), actionCard, "")
		a := w.attempts(waiting)[0]
		sweep := func() {
			t.Helper()
			if _, err := w.svc.Sweep(w.sys); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Add(time.Hour + time.Minute) // past ActionTTL
		sweep()                              // the void's answer is lost: nothing expires
		if a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID); a.Status != attemptstatus.ActionRequired || a.CheckCount != 1 {
			t.Fatalf("after a lost void the attempt is %s (%d checks)", a.Status, a.CheckCount)
		}
		if at := networkCard(t, n, a.ID); at.State != "requires_action" {
			t.Fatalf("the network holds %+v", at)
		}
		w.clock.Add(10 * time.Minute) // past the next backoff step
		sweep()
		p, _ := w.svc.Payment(w.ctx, waiting.ID)
		if a, _ = w.db.Client.PaymentAttempt.Get(w.sys, a.ID); a.Status != attemptstatus.Expired ||
			p.Status != paymentstatus.RequiresPaymentMethod || p.FailureCode != "action_expired" {
			t.Fatalf("attempt %s, payment %s (%s)", a.Status, p.Status, p.FailureCode)
		}
		if at := networkCard(t, n, a.ID); at.State != "voided" {
			t.Fatalf("the network holds %+v", at)
		}
		if code := answer(t, waiting, "approve"); code != http.StatusConflict {
			t.Fatalf("the buyer came back: HTTP %d", code)
		}
		if at := networkCard(t, n, a.ID); at.CapturedAmount != 0 {
			t.Fatalf("the network captured %d", at.CapturedAmount)
		}
		// The buyer may pay the same payment with another card.
		if again := w.confirm(p, approveCard, ""); again.Status != paymentstatus.Succeeded {
			t.Fatalf("second card: %s", again.Status)
		}
		w.balanced()
	})
}
