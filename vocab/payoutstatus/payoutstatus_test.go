package payoutstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: a pending payout is
// accepted, paid, failed or canceled; one in transit is only paid or
// failed; every other pair is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Event]Status{
		Pending:   {"accept": InTransit, "pay": Paid, "fail": Failed, "cancel": Canceled},
		InTransit: {"pay": Paid, "fail": Failed},
	}
	for _, s := range All {
		for _, e := range Events {
			got, ok := Next(s, e)
			want, allow := allowed[s][e]
			if ok != allow || got != want {
				t.Errorf("%s + %s = %s, %v; want %s, %v", s, e, got, ok, want, allow)
			}
		}
		if want := allowed[s] == nil; s.Terminal() != want {
			t.Errorf("%s: Terminal %v", s, s.Terminal())
		}
	}
	if _, ok := Next("lost", Pay); ok || Status("lost").Valid() {
		t.Error("an unknown state moved")
	}
	if got := fmt.Sprint(Status("").Values()); got != "[PENDING IN_TRANSIT PAID FAILED CANCELED]" {
		t.Errorf("stored values %s", got)
	}
	if InTransit.Name() != "in_transit" {
		t.Error(InTransit.Name())
	}
}
