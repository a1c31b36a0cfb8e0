package sandbox

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestDisputeLifecycles walks each dispute test card through evidence (or
// acceptance) to the issuer's decision, which follows the WinningEvidence
// convention after DisputeResolveDelay.
func TestDisputeLifecycles(t *testing.T) {
	cases := []struct {
		name, pan, evidence string
		accept              bool
		// stages and statuses seen in the webhooks, in order
		want []string
		fee  int64
	}{
		{"inquiry closed", "4000000000000101", "receipt " + WinningEvidence, false,
			[]string{"inquiry/needs_response", "inquiry/under_review", "inquiry/won"}, 0},
		{"inquiry escalates", "4000000000000101", "nothing useful", false,
			[]string{"inquiry/needs_response", "inquiry/under_review", "chargeback/needs_response"}, 1500},
		{"fraud won", "4000000000000093", WinningEvidence, false,
			[]string{"chargeback/needs_response", "chargeback/under_review", "chargeback/won"}, 1500},
		{"not received lost", "4000000000000119", "tracking unknown", false,
			[]string{"chargeback/needs_response", "chargeback/under_review", "chargeback/lost"}, 1500},
		{"accepted", "4000000000000093", "", true,
			[]string{"chargeback/needs_response", "chargeback/accepted"}, 1500},
		{"pre-arbitration", "4000000000000127", WinningEvidence, false,
			[]string{"chargeback/needs_response", "chargeback/under_review", "pre_arbitration/needs_response"}, 1500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFixedClock(day2)
			sb := start(t, Config{Now: clock.Now, TickInterval: -1, ChargebackDelay: time.Second, DisputeResolveDelay: time.Second})
			ctx := context.Background()
			var p cardPayment
			call(t, sb, "POST", "/card/payments", cardReq("d", tc.pan, 1050, "USD", true), &p)
			clock.Advance(time.Second)
			sb.RunDue(ctx)
			call(t, sb, "GET", "/card/payments/"+p.ID, nil, &p)
			if len(p.Chargebacks) != 1 {
				t.Fatalf("disputes = %+v", p.Chargebacks)
			}
			id := p.Chargebacks[0].ID
			var ans disputeAnswer
			if tc.accept {
				call(t, sb, "POST", "/card/disputes/"+id+"/accept", map[string]any{"idempotency_key": "k1"}, &ans)
			} else {
				call(t, sb, "POST", "/card/disputes/"+id+"/evidence", map[string]any{"idempotency_key": "k1",
					"fields": map[string]string{"uncategorized_text": tc.evidence}}, &ans)
				var again disputeAnswer
				call(t, sb, "POST", "/card/disputes/"+id+"/evidence", map[string]any{"idempotency_key": "k2",
					"fields": map[string]string{"uncategorized_text": "more"}}, &again)
				if again.Status != statusDeclined || again.DeclineCode != "already_submitted" {
					t.Fatalf("second submission = %+v", again)
				}
			}
			if ans.Status != statusApproved {
				t.Fatalf("answer = %+v", ans)
			}
			clock.Advance(time.Second)
			sb.RunDue(ctx)
			var evs list[Event]
			call(t, sb, "GET", "/webhooks/events?channel=card", nil, &evs)
			var got []string
			for i := len(evs.Data) - 1; i >= 0; i-- { // the list is newest first
				e := evs.Data[i]
				if e.Type != "card.dispute.created" && e.Type != "card.dispute.updated" {
					continue
				}
				var d chargeback
				if err := json.Unmarshal(e.Data, &d); err != nil {
					t.Fatal(err)
				}
				got = append(got, d.Stage+"/"+d.Status)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("dispute events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("dispute events %v, want %v", got, tc.want)
				}
			}
			var d chargeback
			call(t, sb, "GET", "/card/disputes/"+id, nil, &d)
			if d.Fee != tc.fee {
				t.Errorf("fee = %d, want %d", d.Fee, tc.fee)
			}
		})
	}
}

// TestDisputeEvidenceAfterDueByIsDeclined checks the deadline.
func TestDisputeEvidenceAfterDueByIsDeclined(t *testing.T) {
	clock := newFixedClock(day2)
	sb := start(t, Config{Now: clock.Now, TickInterval: -1, DisputeResponseWindow: time.Hour})
	var p cardPayment
	call(t, sb, "POST", "/card/payments", cardReq("d", "4242424242424242", 500, "EUR", true), &p)
	id, err := sb.TriggerDispute(p.ID, DisputeKindNotReceived)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour + time.Second)
	var ans disputeAnswer
	call(t, sb, "POST", "/card/disputes/"+id+"/evidence", map[string]any{"idempotency_key": "k",
		"fields": map[string]string{"uncategorized_text": WinningEvidence}}, &ans)
	if ans.Status != statusDeclined || ans.DeclineCode != "past_due" || ans.Dispute.ReasonCode != "13.1" {
		t.Fatalf("late evidence = %+v", ans)
	}
}

// TestCompellingEvidence3 checks the issuer's CE3.0 convention: two distinct
// priors 120 to 365 days old, each sharing two elements by value, on a fraud
// dispute; anything less loses.
func TestCompellingEvidence3(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rec := &cardRecord{cardPayment: cardPayment{CreatedAt: now}}
	cur := ce3Transaction{ID: "pay_0", CreatedAt: now, IPAddress: "203.0.113.7", DeviceIDHash: "d1", CustomerEmail: "a@example.com"}
	prior := func(id string, age time.Duration, ip, dev, email string) ce3Transaction {
		return ce3Transaction{ID: id, CreatedAt: now.Add(-age), IPAddress: ip, DeviceIDHash: dev, CustomerEmail: email}
	}
	submit := func(priors ...ce3Transaction) evidenceSubmission {
		a, _ := json.Marshal(cur)
		b, _ := json.Marshal(priors)
		return evidenceSubmission{Fields: map[string]string{ce3Disputed: string(a), ce3Priors: string(b)}}
	}
	good1 := prior("pay_1", 150*day, "203.0.113.7", "d1", "")
	good2 := prior("pay_2", 300*day, "203.0.113.7", "", "a@example.com")
	fraud := &chargeback{ReasonCode: "10.4"}
	for _, tc := range []struct {
		name string
		cb   *chargeback
		e    evidenceSubmission
		want bool
	}{
		{"two qualifying priors", fraud, submit(good1, good2), true},
		{"not a fraud dispute", &chargeback{ReasonCode: "13.1"}, submit(good1, good2), false},
		{"one prior twice", fraud, submit(good1, good1), false},
		{"one element only", fraud, submit(good1, prior("pay_2", 300*day, "203.0.113.7", "d2", "b@example.com")), false},
		{"too recent", fraud, submit(good1, prior("pay_2", 100*day, "203.0.113.7", "d1", "")), false},
		{"too old", fraud, submit(good1, prior("pay_2", 400*day, "203.0.113.7", "d1", "")), false},
		{"no bundle", fraud, evidenceSubmission{Fields: map[string]string{"receipt": "r"}}, false},
	} {
		if got := compellingEvidence3(rec, tc.cb, tc.e); got != tc.want {
			t.Errorf("%s: won %v, want %v", tc.name, got, tc.want)
		}
	}
}
