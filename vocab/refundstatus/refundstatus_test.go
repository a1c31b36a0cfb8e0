package refundstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: only a pending refund
// moves; every other pair is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Event]Status{
		Pending: {"succeed": Succeeded, "fail": Failed, "cancel": Canceled},
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
	if _, ok := Next("lost", Succeed); ok || Status("lost").Valid() {
		t.Error("an unknown state moved")
	}
	if got := fmt.Sprint(Status("").Values()); got != "[PENDING SUCCEEDED FAILED CANCELED]" {
		t.Errorf("stored values %s", got)
	}
}
