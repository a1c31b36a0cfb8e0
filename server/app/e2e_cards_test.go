package app_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors/sdk"
	"github.com/straitpay/strait/ent/channelevent"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
)

// TestEveryTestCardOutcomeEndToEnd pays a checkout session with each of the
// sandbox's test cards (sandbox/API.md), over GraphQL against the real
// cardnet plugin: approvals in every brand, each hard and soft decline (the
// session stays open, the failure code is the network's), frictionless 3-D
// Secure, the challenge approved and failed on the sandbox's page (the
// result arriving by webhook through the inbox), the timeout card (unknown,
// then resolved by the payment janitor through QueryPayment, charged once),
// and the chargeback card (its event stored by the inbox). Every journal
// entry balances, and no card data is left anywhere.
func TestEveryTestCardOutcomeEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, authorizeWithin: 1500 * time.Millisecond})
		network := x.sb.URL()

		cards := []struct {
			name, number, cvc string
			status            string // the payment's
			attempt           string // the attempt's
			failure, decline  string // failure code, decline type
			threeDS           string // the network's 3-D Secure flow
		}{
			{"visa approved", "4242424242424242", cvc3, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"mastercard approved", "5555555555554444", cvc3, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"mastercard 2-series approved", "2223003122003222", cvc3, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"unionpay approved", "6200000000000005", cvc3, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"jcb approved", "3566002020360505", cvc3, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"amex approved", "378282246310005", cvc4, "SUCCEEDED", "CAPTURED", "", "", "none"},
			{"frictionless 3-D Secure approved", "4000000000000077", cvc3, "SUCCEEDED", "CAPTURED", "", "", "frictionless"},
			{"hard decline do_not_honor", "4000000000000002", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "do_not_honor", "HARD", "none"},
			{"hard decline stolen_card", "4000000000000010", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "stolen_card", "HARD", "none"},
			{"hard decline invalid_card", "4000000000000028", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "invalid_card", "HARD", "none"},
			{"hard decline expired_card", "4000000000000036", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "expired_card", "HARD", "none"},
			{"soft decline insufficient_funds", "4000000000000044", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "insufficient_funds", "SOFT", "none"},
			{"soft decline try_again_later", "4000000000000051", cvc3, "REQUIRES_PAYMENT_METHOD", "DECLINED", "try_again_later", "SOFT", "none"},
		}
		for i, c := range cards {
			t.Run(c.name, func(t *testing.T) {
				minor := int64(1000 + i)
				s := x.open(t, map[string]any{"amount": amountOf(minor, "SGD"), "allowedMethods": []string{"CARD"}})
				p := x.payCard(t, s, c.number, c.cvc)
				if p.Status != c.status || p.FailureCode != c.failure || p.Amount.Amount != itoa(minor) || p.NextAction != nil {
					t.Fatalf("payment %+v, want %s (%q)", p, c.status, c.failure)
				}
				as := x.payment(t, p.ID).attempts()
				if len(as) != 1 || as[0].Status != c.attempt || as[0].Connector != "cardnet" || as[0].DeclineCode != c.failure ||
					(c.decline == "") != (as[0].DeclineType == nil) || (c.decline != "" && *as[0].DeclineType != c.decline) {
					t.Fatalf("attempts %+v", as)
				}
				at := cardPaymentsAt(t, network, as[0].ID)
				if len(at) != 1 || at[0].Amount != minor || at[0].ThreeDS.Flow != c.threeDS || at[0].DeclineCode != c.failure {
					t.Fatalf("the network holds %+v", at)
				}
				want := map[string]string{"SUCCEEDED": "COMPLETE", "REQUIRES_PAYMENT_METHOD": "OPEN"}[c.status]
				if got := x.sessionStatus(t, s); got != want {
					t.Fatalf("session %s, want %s", got, want)
				}
			})
		}

		t.Run("3-D Secure challenge approved on the sandbox page", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(3100, "SGD")})
			p := x.payCard(t, s, "4000000000000069", cvc3)
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil || p.NextAction.Type != "THREE_DS_CHALLENGE" || p.NextAction.URL == "" {
				t.Fatalf("payment %+v", p)
			}
			buyer(t, p.NextAction.URL, url.Values{"action": {"approve"}})
			p = x.waitStatus(t, p.ID, "SUCCEEDED")
			if p.AmountCaptured.Amount != "3100" || p.NextAction != nil || p.attempts()[0].Status != "CAPTURED" {
				t.Fatalf("after the challenge: %+v", p)
			}
			if at := cardPaymentsAt(t, network, p.attempts()[0].ID); len(at) != 1 || at[0].ThreeDS.Result != "authenticated" {
				t.Fatalf("the network holds %+v", at)
			}
			if got := x.sessionStatus(t, s); got != "COMPLETE" {
				t.Fatalf("session %s", got)
			}
		})

		t.Run("3-D Secure challenge failed on the sandbox page", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(3200, "SGD")})
			p := x.payCard(t, s, "4000000000000069", cvc3)
			if p.Status != "REQUIRES_ACTION" || p.NextAction == nil {
				t.Fatalf("payment %+v", p)
			}
			buyer(t, p.NextAction.URL, url.Values{"action": {"fail"}})
			p = x.waitStatus(t, p.ID, "REQUIRES_PAYMENT_METHOD")
			if p.FailureCode != "authentication_failed" || p.NextAction != nil || p.AmountCaptured.Amount != "0" {
				t.Fatalf("after the failed challenge: %+v", p)
			}
			if a := p.attempts()[0]; a.Status != "DECLINED" || a.DeclineCode != "authentication_failed" {
				t.Fatalf("attempt %+v", a)
			}
			// The buyer may pay the same session with another card.
			if again := x.payCard(t, s, "4242424242424242", cvc3); again.ID != p.ID || again.Status != "SUCCEEDED" {
				t.Fatalf("second card: %+v", again)
			}
		})

		t.Run("timeout is unknown until the janitor asks the network", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(4200, "SGD")})
			p := x.payCard(t, s, "4000000000000085", cvc3)
			if p.Status != "PROCESSING" {
				t.Fatalf("payment %+v, want PROCESSING", p)
			}
			as := x.payment(t, p.ID).attempts()
			if len(as) != 1 || as[0].Status != "UNKNOWN" {
				t.Fatalf("attempts %+v, want one UNKNOWN", as)
			}
			sys := viewer.SystemContext(context.Background())
			// Not due yet: the janitor leaves it alone.
			if n, err := x.app.Cashier.Sweep(sys); err != nil || n != 0 {
				t.Fatalf("early sweep checked %d: %v", n, err)
			}
			x.clock.Advance(time.Minute) // past the first backoff step (30 s)
			if _, err := x.app.Cashier.Sweep(sys); err != nil {
				t.Fatal(err)
			}
			p = x.payment(t, p.ID)
			a := p.attempts()[0]
			if p.Status != "SUCCEEDED" || p.AmountCaptured.Amount != "4200" || a.Status != "CAPTURED" || a.ConnectorReference == "" {
				t.Fatalf("after the sweep: %+v, attempt %+v", p, a)
			}
			// Exactly one charge at the network for the attempt, under its key.
			if at := cardPaymentsAt(t, network, a.ID); len(at) != 1 || at[0].CapturedAmount != 4200 {
				t.Fatalf("the network holds %+v for %s", at, a.ID)
			}
			var byKey struct{ Data []networkPayment }
			channelGet(t, network, "/card/payments?idempotency_key="+url.QueryEscape(sdk.IdempotencyKey("authorize", a.ChannelIdempotencyKey)), &byKey)
			if len(byKey.Data) != 1 || byKey.Data[0].ID != a.ConnectorReference {
				t.Fatalf("by key %s the network holds %+v", a.ChannelIdempotencyKey, byKey.Data)
			}
			if got := x.sessionStatus(t, s); got != "COMPLETE" {
				t.Fatalf("session %s", got)
			}
		})

		t.Run("chargeback event stored by the inbox", func(t *testing.T) {
			s := x.open(t, map[string]any{"amount": amountOf(5300, "SGD")})
			p := x.payCard(t, s, "4000000000000093", cvc3)
			if p.Status != "SUCCEEDED" {
				t.Fatalf("payment %+v", p)
			}
			att := x.payment(t, p.ID).attempts()[0]
			sys := viewer.SystemContext(context.Background())
			waitFor(t, "the chargeback stored and processed", func() bool {
				ev, err := db.Client.ChannelEvent.Query().Where(channelevent.Type("dispute"), channelevent.Reference(att.ID)).Only(sys)
				return err == nil && ev.Connector == "cardnet" && ev.PaymentID == att.ConnectorReference && ev.ProcessedAt != nil
			})
			if at := cardPaymentsAt(t, network, att.ID); len(at) != 1 || at[0].State != "charged_back" {
				t.Fatalf("the network holds %+v", at)
			}
		})

		x.balanced(t)
		x.noCardData(t)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
