package paymentstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: the listed ones are
// allowed and land where listed, every other one is refused.
func TestTransitions(t *testing.T) {
	allowed := map[[2]string]Status{
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
	walked := 0
	for _, s := range All {
		for _, e := range Events {
			got, ok := Next(s, e)
			want, allow := allowed[[2]string{s.Name(), string(e)}]
			switch {
			case allow && (!ok || got != want):
				t.Errorf("%s + %s = %s, %v; want %s", s, e, got, ok, want)
			case !allow && ok:
				t.Errorf("%s + %s = %s; want refused", s, e, got)
			}
			if allow {
				walked++
			}
		}
	}
	if walked != len(allowed) {
		t.Errorf("walked %d allowed transitions, listed %d: a listed pair names no state or event", walked, len(allowed))
	}
	if _, ok := Next("paid", Confirm); ok || Status("paid").Valid() {
		t.Error("an unknown state moved")
	}
}

func TestTerminalStatesAndReachability(t *testing.T) {
	for _, s := range All {
		want := s == Succeeded || s == Canceled || s == Failed
		if s.Terminal() != want || (len(s.Events()) == 0) != want {
			t.Errorf("%s: Terminal %v, events %v", s, s.Terminal(), s.Events())
		}
	}
	reach := map[Status]bool{RequiresPaymentMethod: true}
	for queue := []Status{RequiresPaymentMethod}; len(queue) > 0; queue = queue[1:] {
		for _, to := range transitions[queue[0]] {
			if !to.Valid() {
				t.Errorf("transition to unlisted state %s", to)
			}
			if !reach[to] {
				reach[to] = true
				queue = append(queue, to)
			}
		}
	}
	if len(reach) != len(All) || len(transitions) != len(All) {
		t.Errorf("reachable %v of %v; table has %d states", reach, All, len(transitions))
	}
}

// TestStoredValues pins the stored enum: its values and their order are the
// database column's type and the GraphQL enum's values.
func TestStoredValues(t *testing.T) {
	got := fmt.Sprint(Status("").Values())
	want := "[REQUIRES_PAYMENT_METHOD REQUIRES_ACTION PROCESSING REQUIRES_CAPTURE SUCCEEDED CANCELED FAILED]"
	if got != want {
		t.Fatalf("values %s, want %s", got, want)
	}
	var s Status
	if err := s.UnmarshalGQL("SUCCEEDED"); err != nil || s != Succeeded {
		t.Fatalf("UnmarshalGQL: %s, %v", s, err)
	}
	if err := s.UnmarshalGQL("succeeded"); err == nil {
		t.Fatal("UnmarshalGQL took a lower-case value")
	}
}

func ExampleNext() {
	s, _ := Next(RequiresPaymentMethod, Confirm)
	_, ok := Next(s, Confirm)
	fmt.Println(s.Name(), ok)
	// Output: processing false
}
