package app_test

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/channelevent"
	"github.com/straitpay/strait/ent/dispute"
	"github.com/straitpay/strait/payments/inbox"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/payments/viewer"
	"github.com/straitpay/strait/sandbox"
)

// disputeBalances are the ledger balances a dispute moves, in minor units;
// merchant is the merchant's pending and available together.
type disputeBalances struct{ merchant, pending, available, hold, receivable, suspense int64 }

func (x *e2e) disputeBalances(t *testing.T, merchantID, currency string) disputeBalances {
	t.Helper()
	n := func(ownerType, ownerID, kind string) int64 {
		s := x.accountBalance(t, ownerType, ownerID, kind, currency)
		if s == "" {
			return 0
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("balance %q: %v", s, err)
		}
		return v
	}
	b := disputeBalances{
		pending: n("MERCHANT", merchantID, "PENDING"), available: n("MERCHANT", merchantID, "AVAILABLE"),
		hold: n("MERCHANT", merchantID, "DISPUTE_HOLD"), receivable: n("CHANNEL", "cardnet", "RECEIVABLE"),
		suspense: n("PLATFORM", "platform", "SUSPENSE"),
	}
	b.merchant = b.pending + b.available
	return b
}

// TestDisputesEndToEnd opens each kind of dispute on the sandbox's card
// network against a payment made over GraphQL with the real cardnet plugin,
// lets the notifications reach Strait through the signed webhooks and the
// inbox, answers through the dispute service (evidence or acceptance, which
// call the plugin), and checks the states the dispute went through and the
// ledger by hand-computed amounts: amount A = 40.00 SGD, fee F = 15.00 SGD.
func TestDisputesEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet"}, sandbox: func(c *sandbox.Config) {
			c.ChargebackDelay = time.Hour // the test opens disputes itself
			c.DisputeResolveDelay = 200 * time.Millisecond
		}})
		const amount, fee = 4000, 1500
		// A large payment first, so the merchant's pending balance covers
		// every hold: nothing is advanced from suspense.
		x.payCard(t, x.open(t, map[string]any{"amount": amountOf(1_000_000, "SGD")}), "4242424242424242", cvc3)
		merchant := x.a.ID
		sys := viewer.SystemContext(context.Background())
		cases := []struct {
			name, kind string
			answers    []string // evidence text per stage; "accept" accepts
			states     []dispute.State
			// the net change of each balance once the dispute ends
			want disputeBalances
		}{
			{"inquiry closed", sandbox.DisputeKindInquiry, []string{"receipt: " + sandbox.WinningEvidence},
				[]dispute.State{"WARNING_NEEDS_RESPONSE", "WARNING_UNDER_REVIEW", "WARNING_CLOSED"}, disputeBalances{}},
			{"fraud won", sandbox.DisputeKindFraud, []string{"signed delivery " + sandbox.WinningEvidence},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "WON"},
				disputeBalances{merchant: -fee, receivable: fee}},
			{"not received lost", sandbox.DisputeKindNotReceived, []string{"we think it arrived"},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "LOST"},
				disputeBalances{merchant: -(amount + fee), receivable: amount + fee}},
			{"accepted", sandbox.DisputeKindFraud, []string{"accept"},
				[]dispute.State{"NEEDS_RESPONSE", "ACCEPTED"},
				disputeBalances{merchant: -(amount + fee), receivable: amount + fee}},
			{"pre-arbitration won", sandbox.DisputeKindPreArbitration, []string{"first answer", "second answer " + sandbox.WinningEvidence},
				[]dispute.State{"NEEDS_RESPONSE", "UNDER_REVIEW", "NEEDS_RESPONSE", "UNDER_REVIEW", "WON"},
				disputeBalances{merchant: -fee, receivable: fee}},
		}
		networkIDs := map[string]string{}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD")}), "4242424242424242", cvc3)
				att := x.payment(t, p.ID).attempts()[0]
				before := x.disputeBalances(t, merchant, "SGD")
				networkID, err := x.sb.TriggerDispute(att.ConnectorReference, tc.kind)
				if err != nil {
					t.Fatal(err)
				}
				networkIDs[tc.name] = networkID
				var d *ent.Dispute
				wait := func(state dispute.State) {
					t.Helper()
					waitFor(t, "dispute "+string(state), func() bool {
						d, err = db.Client.Dispute.Query().Where(dispute.NetworkDisputeID(networkID)).Only(sys)
						return err == nil && d.State == state
					})
				}
				wait(tc.states[0])
				if d.PaymentID != p.ID || d.Amount != amount || d.Currency != "SGD" || d.DueBy == nil || d.MerchantID != merchant {
					t.Fatalf("dispute %+v", d)
				}
				if tc.kind != sandbox.DisputeKindInquiry {
					// Available first, then pending.
					held := x.disputeBalances(t, merchant, "SGD")
					fromAvailable := min(before.available, amount+fee)
					if held.hold-before.hold != amount+fee || held.available-before.available != -fromAvailable ||
						held.pending-before.pending != -(amount+fee-fromAvailable) {
						t.Fatalf("on opening: hold %+d, available %+d, pending %+d; want %d held, %d of it from available",
							held.hold-before.hold, held.available-before.available, held.pending-before.pending, amount+fee, fromAvailable)
					}
				}
				step := 1
				for _, answer := range tc.answers {
					key := strings.ReplaceAll(tc.name, " ", "_") + "-" + strconv.Itoa(step)
					if answer == "accept" {
						x.ok(t, x.gql("API_KEY", acceptDispute, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key}}), "acceptDispute", &struct{}{})
					} else {
						x.ok(t, x.gql("API_KEY", updateDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID,
							"evidence": map[string]any{"uncategorizedText": answer, "customerName": "Ada Buyer"}}}), "updateDisputeEvidence", &struct{}{})
						var sub struct{ State string }
						x.ok(t, x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key}}), "submitDisputeEvidence", &sub)
						if sub.State != "UNDER_REVIEW" && sub.State != "WARNING_UNDER_REVIEW" {
							t.Fatalf("after submission: %s", sub.State)
						}
						// A second submission at the same stage, with another key.
						if r := x.gql("API_KEY", submitDisputeEvidence, map[string]any{"in": map[string]any{"id": d.ID, "idempotencyKey": key + "-again"}}); r.code() != "CONFLICT" {
							t.Fatalf("second submission: %s", r.Raw)
						}
					}
					for ; step < len(tc.states); step++ {
						wait(tc.states[step])
						if tc.states[step] == "NEEDS_RESPONSE" {
							step++
							break
						}
					}
				}
				after := x.disputeBalances(t, merchant, "SGD")
				got := disputeBalances{merchant: after.merchant - before.merchant,
					hold: after.hold - before.hold, receivable: after.receivable - before.receivable, suspense: after.suspense - before.suspense}
				if got != tc.want {
					t.Fatalf("ledger moved %+v, want %+v", got, tc.want)
				}
				// Refunding a disputed payment is refused unless the merchant won.
				r := x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{"id": p.ID, "idempotencyKey": "refund-" + strings.ReplaceAll(tc.name, " ", "_")}})
				if won := d.State == "WON" || d.State == "WARNING_CLOSED"; won != (r.code() == "") || (!won && r.code() != "CONFLICT") {
					t.Fatalf("refund of a %s dispute's payment: %s", d.State, r.Raw)
				}
			})
		}
		t.Run("out-of-order delivery", func(t *testing.T) {
			// The pre-arbitration dispute's five notifications, as the inbox
			// stored them, replayed for another payment: each 1 to 3 times,
			// shuffled, by several seeds. Each replay must end WON with the
			// ledger moved as by the in-order delivery.
			rows, err := db.Client.ChannelEvent.Query().Where(channelevent.Type("dispute"),
				channelevent.ObjectID(networkIDs["pre-arbitration won"])).All(sys)
			if err != nil || len(rows) != 5 {
				t.Fatalf("stored events: %d, %v", len(rows), err)
			}
			for seed := int64(1); seed <= 4; seed++ {
				p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD")}), "4242424242424242", cvc3)
				att := x.payment(t, p.ID).attempts()[0]
				rng := rand.New(rand.NewSource(seed))
				var deliveries []connectors.Event
				for _, row := range rows {
					ev, err := inbox.Event(row)
					if err != nil {
						t.Fatal(err)
					}
					suffix := fmt.Sprintf("-replay%d", seed)
					ev.ID += suffix
					dd := *ev.Dispute
					dd.ID += suffix
					dd.Reference, dd.PaymentID = att.ID, att.ConnectorReference
					ev.Dispute, ev.Reference, ev.PaymentID, ev.ObjectID = &dd, att.ID, att.ConnectorReference, dd.ID
					for range 1 + rng.Intn(3) {
						deliveries = append(deliveries, ev)
					}
				}
				rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
				before := x.disputeBalances(t, merchant, "SGD")
				for _, ev := range deliveries {
					if err := x.app.Disputes.HandleEvent(sys, ev); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
				d, err := db.Client.Dispute.Query().Where(dispute.PaymentID(p.ID)).Only(sys)
				if err != nil || d.State != "WON" || d.Stage != "PRE_ARBITRATION" || d.Fee != fee || d.Amount != amount {
					t.Fatalf("seed %d: dispute %+v, %v", seed, d, err)
				}
				after := x.disputeBalances(t, merchant, "SGD")
				got := disputeBalances{merchant: after.merchant - before.merchant,
					hold: after.hold - before.hold, receivable: after.receivable - before.receivable, suspense: after.suspense - before.suspense}
				if want := (disputeBalances{merchant: -fee, receivable: fee}); got != want {
					t.Fatalf("seed %d: ledger moved %+v, want %+v", seed, got, want)
				}
			}
		})
		t.Run("merchant views and bad input", func(t *testing.T) {
			var page struct {
				Edges []struct {
					Node struct{ ID, State, Reason string }
				}
			}
			x.ok(t, x.gql("API_KEY", `query($f: DisputeListFilter) { disputes(first: 20, filter: $f) { edges { node { id state reason } } } }`,
				map[string]any{"f": map[string]any{"state": "LOST"}}), "disputes", &page)
			if len(page.Edges) != 1 || page.Edges[0].Node.Reason != "NOT_RECEIVED" {
				t.Fatalf("lost disputes: %+v", page)
			}
			id := page.Edges[0].Node.ID
			// Another merchant's dispute is not there at all.
			_, _, body := x.rawGQL(x.merchantB(), `query($id: ID!) { dispute(id: $id) { id } }`, map[string]any{"id": id})
			if !strings.Contains(body, `"NOT_FOUND"`) {
				t.Fatalf("merchant B reads A's dispute: %s", body)
			}
			// A closed dispute takes no evidence.
			if r := x.gql("API_KEY", updateDisputeEvidence, map[string]any{"in": map[string]any{"id": id, "evidence": map[string]any{"receipt": "r"}}}); r.code() != "CONFLICT" {
				t.Fatalf("evidence on a lost dispute: %s", r.Raw)
			}
			var all struct {
				Edges []struct{ Node struct{ ID string } }
			}
			x.ok(t, x.gql("OPERATOR", `{ disputes(first: 50) { edges { node { id } } } }`, nil), "disputes", &all)
			if len(all.Edges) != len(cases)+4 {
				t.Fatalf("the operator sees %d disputes, want %d", len(all.Edges), len(cases)+4)
			}
			var one struct {
				Amount   struct{ Amount, Currency string }
				Fee      struct{ Amount string }
				Timeline []struct{ Kind, ToState string }
				Evidence struct{ UncategorizedText, CustomerName *string }
				Payment  struct{ ID string }
			}
			x.ok(t, x.gql("API_KEY", `query($id: ID!) { dispute(id: $id) { amount { amount currency } fee { amount }
				timeline { kind toState } evidence { uncategorizedText customerName } payment { id } } }`, map[string]any{"id": id}), "dispute", &one)
			if one.Amount.Amount != itoa(amount) || one.Amount.Currency != "SGD" || one.Fee.Amount != itoa(fee) ||
				one.Evidence.CustomerName == nil || *one.Evidence.CustomerName != "Ada Buyer" || len(one.Timeline) < 4 {
				t.Fatalf("dispute %+v", one)
			}
		})
		x.balanced(t)
	})
}

const updateDisputeEvidence = `mutation($in: UpdateDisputeEvidenceInput!) { updateDisputeEvidence(input: $in) { id state } }`
const submitDisputeEvidence = `mutation($in: SubmitDisputeEvidenceInput!) { submitDisputeEvidence(input: $in) { id state } }`
const acceptDispute = `mutation($in: AcceptDisputeInput!) { acceptDispute(input: $in) { id state } }`
