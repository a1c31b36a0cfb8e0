package cashier

import (
	"fmt"
	"testing"

	"github.com/straitpay/strait/payments"
)

var (
	allStates = []State{RequiresPaymentMethod, RequiresAction, Processing, RequiresCapture, Succeeded, Canceled, Failed}
	allEvents = []Event{Confirm, NeedAction, ActionDone, Authorize, Capture, Decline, Fail, Cancel}

	allAttemptStates = []AttemptState{AttemptPending, AttemptActionRequired, AttemptAuthorized, AttemptCaptured, AttemptDeclined, AttemptErrored, AttemptUnknown, AttemptVoided, AttemptExpired}
	allOutcomes      = []Outcome{OutcomeApproved, OutcomeCaptured, OutcomeActionRequired, OutcomeDeclined, OutcomeError, OutcomeUnknown, OutcomeVoid, OutcomeExpire}
)

// TestPaymentTransitions lists every allowed transition and checks every other
// (state, event) pair is a conflict.
func TestPaymentTransitions(t *testing.T) {
	allowed := map[[2]string]State{
		{"requires_payment_method", "confirm"}: Processing,
		{"requires_payment_method", "fail"}:    Failed,
		{"requires_payment_method", "cancel"}:  Canceled,
		{"processing", "need_action"}:          RequiresAction,
		{"processing", "authorize"}:            RequiresCapture,
		{"processing", "capture"}:              Succeeded,
		{"processing", "decline"}:              RequiresPaymentMethod,
		{"processing", "fail"}:                 Failed,
		{"requires_action", "action_done"}:     Processing,
		{"requires_action", "authorize"}:       RequiresCapture,
		{"requires_action", "capture"}:         Succeeded,
		{"requires_action", "decline"}:         RequiresPaymentMethod,
		{"requires_action", "fail"}:            Failed,
		{"requires_action", "cancel"}:          Canceled,
		{"requires_capture", "capture"}:        Succeeded,
		{"requires_capture", "cancel"}:         Canceled,
	}
	for _, s := range allStates {
		for _, e := range allEvents {
			got, err := Next(s, e)
			want, ok := allowed[[2]string{string(s), string(e)}]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s + %s = %s, %v; want %s", s, e, got, err, want)
			case !ok && payments.ErrorCode(err) != payments.ECONFLICT:
				t.Errorf("%s + %s = %s, %v; want ECONFLICT", s, e, got, err)
			}
		}
	}
	if _, err := Next("paid", Confirm); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("unknown state: %v", err)
	}
}

func TestConfirmingTwiceAndCapturingCanceledConflict(t *testing.T) {
	s, err := Next(RequiresPaymentMethod, Confirm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Next(s, Confirm); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("second confirm: %v", err)
	}
	if _, err := Next(Canceled, Capture); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatalf("capture after cancel: %v", err)
	}
	if _, err := Next(Processing, Cancel); payments.ErrorCode(err) != payments.ECONFLICT {
		t.Fatal("a payment in flight was canceled")
	}
}

func TestTerminalStatesAndReachability(t *testing.T) {
	for _, s := range allStates {
		want := s == Succeeded || s == Canceled || s == Failed
		if s.Terminal() != want || (len(s.Events()) == 0) != want {
			t.Errorf("%s: Terminal %v, events %v", s, s.Terminal(), s.Events())
		}
	}
	checkGraph(t, "payment", RequiresPaymentMethod, allStates, func(s State) []State {
		var out []State
		for _, to := range transitions[s] {
			out = append(out, to)
		}
		return out
	}, State.Terminal)
	checkGraph(t, "attempt", AttemptPending, allAttemptStates, func(s AttemptState) []AttemptState {
		var out []AttemptState
		for _, to := range attemptTransitions[s] {
			out = append(out, to)
		}
		return out
	}, AttemptState.Terminal)
}

// checkGraph proves every state is reachable from start, every state can reach
// a terminal state, and the table has no state outside all.
func checkGraph[S comparable](t *testing.T, name string, start S, all []S, next func(S) []S, terminal func(S) bool) {
	t.Helper()
	known := map[S]bool{}
	for _, s := range all {
		known[s] = true
	}
	reach := map[S]bool{start: true}
	queue := []S{start}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, to := range next(s) {
			if !known[to] {
				t.Errorf("%s: transition to unlisted state %v", name, to)
			}
			if !reach[to] {
				reach[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, s := range all {
		if !reach[s] {
			t.Errorf("%s: %v is unreachable", name, s)
		}
		if !reachesTerminal(s, next, terminal, map[S]bool{}) {
			t.Errorf("%s: %v can never finish", name, s)
		}
	}
}

func reachesTerminal[S comparable](s S, next func(S) []S, terminal func(S) bool, seen map[S]bool) bool {
	if terminal(s) {
		return true
	}
	seen[s] = true
	for _, to := range next(s) {
		if !seen[to] && reachesTerminal(to, next, terminal, seen) {
			return true
		}
	}
	return false
}

func TestAttemptTransitions(t *testing.T) {
	allowed := map[AttemptState]map[Outcome]AttemptState{
		AttemptPending:        {"approved": AttemptAuthorized, "captured": AttemptCaptured, "action_required": AttemptActionRequired, "declined": AttemptDeclined, "error": AttemptErrored, "unknown": AttemptUnknown},
		AttemptActionRequired: {"approved": AttemptAuthorized, "captured": AttemptCaptured, "declined": AttemptDeclined, "unknown": AttemptUnknown, "expire": AttemptExpired, "void": AttemptVoided},
		AttemptUnknown:        {"approved": AttemptAuthorized, "captured": AttemptCaptured, "action_required": AttemptActionRequired, "declined": AttemptDeclined, "error": AttemptErrored, "unknown": AttemptUnknown, "void": AttemptVoided},
		AttemptAuthorized:     {"captured": AttemptCaptured, "void": AttemptVoided},
	}
	for _, s := range allAttemptStates {
		for _, o := range allOutcomes {
			got, err := NextAttempt(s, o)
			want, ok := allowed[s][o]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s + %s = %s, %v; want %s", s, o, got, err, want)
			case !ok && payments.ErrorCode(err) != payments.ECONFLICT:
				t.Errorf("%s + %s = %s, %v; want ECONFLICT", s, o, got, err)
			}
		}
	}
	if _, err := NextAttempt("lost", OutcomeApproved); payments.ErrorCode(err) != payments.EINVALID {
		t.Errorf("unknown attempt state: %v", err)
	}
}

// TestJourneys drives both machines through the flows the pipeline runs: each
// step applies an attempt outcome, then the payment event it maps to (if any),
// or a payment event directly.
func TestJourneys(t *testing.T) {
	type step struct {
		outcome Outcome // applied to the current attempt; "" for a direct payment event
		event   Event   // a direct payment event
		newAtt  bool    // start a new attempt (confirm or cascade) before this step
	}
	journeys := []struct {
		name  string
		steps []step
		want  State
	}{
		{"automatic capture", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeCaptured}}, Succeeded},
		{"3-D Secure challenge", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {event: ActionDone}, {outcome: OutcomeCaptured}}, Succeeded},
		{"manual capture", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeApproved}, {outcome: OutcomeCaptured}}, Succeeded},
		{"authorization voided", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeApproved}, {outcome: OutcomeVoid}}, Canceled},
		{"decline then another card", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeDeclined}, {event: Confirm, newAtt: true}, {outcome: OutcomeCaptured}}, Succeeded},
		{"unknown resolved by the janitor", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeUnknown}, {outcome: OutcomeUnknown}, {outcome: OutcomeCaptured}}, Succeeded},
		{"canceled during 3-D Secure", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeVoid}}, Canceled},
		{"cancel's answer lost, then found voided", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeUnknown}, {outcome: OutcomeVoid}}, Canceled},
		{"abandoned QR", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeActionRequired}, {outcome: OutcomeExpire}, {event: Cancel}}, Canceled},
		{"attempts exhausted", []step{{event: Confirm, newAtt: true}, {outcome: OutcomeDeclined}, {event: Fail}}, Failed},
	}
	for _, j := range journeys {
		t.Run(j.name, func(t *testing.T) {
			p, a := RequiresPaymentMethod, AttemptState("")
			for i, s := range j.steps {
				if s.newAtt {
					a = AttemptPending
				}
				var err error
				ev, move := s.event, s.event != ""
				if s.outcome != "" {
					if a, err = NextAttempt(a, s.outcome); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					ev, move = PaymentEvent(a)
				}
				if move {
					if p, err = Next(p, ev); err != nil {
						t.Fatalf("step %d (%s): %v", i, ev, err)
					}
				}
			}
			if p != j.want {
				t.Fatalf("ended %s, want %s", p, j.want)
			}
		})
	}
}

func ExampleNext() {
	s, _ := Next(RequiresPaymentMethod, Confirm)
	_, err := Next(s, Confirm)
	fmt.Println(s, payments.ErrorCode(err))
	// Output: processing conflict
}
