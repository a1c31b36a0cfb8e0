package attemptstatus

import (
	"fmt"
	"testing"

	"github.com/straitpay/strait/vocab/paymentstatus"
)

// TestTransitions walks every (state, outcome) pair: the listed ones are
// allowed and land where listed, every other one is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Outcome]Status{
		Pending:        {"approved": Authorized, "captured": Captured, "action_required": ActionRequired, "declined": Declined, "error": Errored, "unknown": Unknown},
		ActionRequired: {"approved": Authorized, "captured": Captured, "declined": Declined, "unknown": Unknown, "expire": Expired, "void": Voided},
		Unknown:        {"approved": Authorized, "captured": Captured, "action_required": ActionRequired, "declined": Declined, "error": Errored, "unknown": Unknown, "void": Voided},
		Authorized:     {"captured": Captured, "void": Voided},
	}
	for _, s := range All {
		for _, o := range Outcomes {
			got, ok := Next(s, o)
			want, allow := allowed[s][o]
			switch {
			case allow && (!ok || got != want):
				t.Errorf("%s + %s = %s, %v; want %s", s, o, got, ok, want)
			case !allow && ok:
				t.Errorf("%s + %s = %s; want refused", s, o, got)
			}
		}
	}
	if _, ok := Next("lost", OutcomeApproved); ok || Status("lost").Valid() {
		t.Error("an unknown attempt state moved")
	}
	for _, s := range All {
		if want := allowed[s] == nil; s.Terminal() != want {
			t.Errorf("%s: Terminal %v", s, s.Terminal())
		}
	}
}

// TestPaymentEvents walks every attempt state's payment event.
func TestPaymentEvents(t *testing.T) {
	want := map[Status]paymentstatus.Event{
		ActionRequired: paymentstatus.NeedAction, Authorized: paymentstatus.Authorize,
		Captured: paymentstatus.Capture, Declined: paymentstatus.Decline, Errored: paymentstatus.Decline,
		Voided: paymentstatus.Cancel, Expired: paymentstatus.Decline,
	}
	for _, s := range All {
		e, ok := s.PaymentEvent()
		if w, moves := want[s]; ok != moves || e != w {
			t.Errorf("%s: payment event %q, %v; want %q, %v", s, e, ok, w, moves)
		}
	}
}

// TestJourneys drives both machines through the flows the core runs: each
// step applies an attempt outcome, then the payment event it maps to (if any),
// or a payment event directly.
func TestJourneys(t *testing.T) {
	type step struct {
		outcome Outcome             // applied to the current attempt; "" for a direct payment event
		event   paymentstatus.Event // a direct payment event
		newAtt  bool                // start a new attempt (confirm or cascade) before this step
	}
	const (
		confirm    = paymentstatus.Confirm
		actionDone = paymentstatus.ActionDone
		cancel     = paymentstatus.Cancel
		fail       = paymentstatus.Fail
	)
	journeys := []struct {
		name  string
		steps []step
		want  paymentstatus.Status
	}{
		{"automatic capture", []step{{event: confirm, newAtt: true}, {outcome: OutcomeCaptured}}, paymentstatus.Succeeded},
		{"3-D Secure challenge", []step{{event: confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {event: actionDone}, {outcome: OutcomeCaptured}}, paymentstatus.Succeeded},
		{"manual capture", []step{{event: confirm, newAtt: true}, {outcome: OutcomeApproved}, {outcome: OutcomeCaptured}}, paymentstatus.Succeeded},
		{"authorization voided", []step{{event: confirm, newAtt: true}, {outcome: OutcomeApproved}, {outcome: OutcomeVoid}}, paymentstatus.Canceled},
		{"decline then another card", []step{{event: confirm, newAtt: true}, {outcome: OutcomeDeclined}, {event: confirm, newAtt: true}, {outcome: OutcomeCaptured}}, paymentstatus.Succeeded},
		{"unknown resolved by the janitor", []step{{event: confirm, newAtt: true}, {outcome: OutcomeUnknown}, {outcome: OutcomeUnknown}, {outcome: OutcomeCaptured}}, paymentstatus.Succeeded},
		{"canceled during 3-D Secure", []step{{event: confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeVoid}}, paymentstatus.Canceled},
		{"cancel's answer lost, then found voided", []step{{event: confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeUnknown}, {outcome: OutcomeVoid}}, paymentstatus.Canceled},
		{"abandoned QR", []step{{event: confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeExpire}, {event: cancel}}, paymentstatus.Canceled},
		{"attempts exhausted", []step{{event: confirm, newAtt: true}, {outcome: OutcomeDeclined}, {event: fail}}, paymentstatus.Failed},
	}
	for _, j := range journeys {
		t.Run(j.name, func(t *testing.T) {
			p, a := paymentstatus.RequiresPaymentMethod, Status("")
			for i, s := range j.steps {
				if s.newAtt {
					a = Pending
				}
				ev, move := s.event, s.event != ""
				if s.outcome != "" {
					var ok bool
					if a, ok = Next(a, s.outcome); !ok {
						t.Fatalf("step %d: attempt refused %s", i, s.outcome)
					}
					ev, move = a.PaymentEvent()
				}
				if move {
					var ok bool
					if p, ok = paymentstatus.Next(p, ev); !ok {
						t.Fatalf("step %d: payment refused %s", i, ev)
					}
				}
			}
			if p != j.want {
				t.Fatalf("ended %s, want %s", p, j.want)
			}
		})
	}
}

// TestReachability proves every attempt state is reachable from Pending and
// can reach a terminal state.
func TestReachability(t *testing.T) {
	reach := map[Status]bool{Pending: true}
	for queue := []Status{Pending}; len(queue) > 0; queue = queue[1:] {
		for _, to := range transitions[queue[0]] {
			if !reach[to] {
				reach[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, s := range All {
		if !reach[s] {
			t.Errorf("%s is unreachable", s)
		}
		if !finishes(s, map[Status]bool{}) {
			t.Errorf("%s can never finish", s)
		}
	}
}

func finishes(s Status, seen map[Status]bool) bool {
	if s.Terminal() {
		return true
	}
	seen[s] = true
	for _, to := range transitions[s] {
		if !seen[to] && finishes(to, seen) {
			return true
		}
	}
	return false
}

// TestStoredValues pins the stored enum, and Errored's two spellings.
func TestStoredValues(t *testing.T) {
	got := fmt.Sprint(Status("").Values())
	want := "[PENDING ACTION_REQUIRED AUTHORIZED CAPTURED DECLINED FAILED UNKNOWN VOIDED EXPIRED]"
	if got != want {
		t.Fatalf("values %s, want %s", got, want)
	}
	if Errored.Name() != "errored" || ActionRequired.Name() != "action_required" {
		t.Fatalf("names %s, %s", Errored.Name(), ActionRequired.Name())
	}
}
