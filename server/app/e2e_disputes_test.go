package app_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/dispute"
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
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(amount, "SGD")}), "4242424242424242", cvc3)
				att := x.payment(t, p.ID).attempts()[0]
				before := x.disputeBalances(t, merchant, "SGD")
				networkID, err := x.sb.TriggerDispute(att.ConnectorReference, tc.kind)
				if err != nil {
					t.Fatal(err)
				}
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
					if answer == "accept" {
						if _, err := x.app.Disputes.Accept(sys, d.ID); err != nil {
							t.Fatal(err)
						}
					} else {
						if _, err := x.app.Disputes.UpdateEvidence(sys, d.ID, map[string]string{"uncategorized_text": answer}); err != nil {
							t.Fatal(err)
						}
						if _, err := x.app.Disputes.SubmitEvidence(sys, d.ID); err != nil {
							t.Fatal(err)
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
			})
		}
		x.balanced(t)
	})
}
