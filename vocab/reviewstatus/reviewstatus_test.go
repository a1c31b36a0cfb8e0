package reviewstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: only an open review
// closes; every other pair is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Event]Status{
		Open: {"approve": Approved, "reject": Rejected},
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
	if _, ok := Next("lost", Approve); ok || Status("lost").Valid() {
		t.Error("an unknown state moved")
	}
	if got := fmt.Sprint(Status("").Values()); got != "[OPEN APPROVED REJECTED]" {
		t.Errorf("stored values %s", got)
	}
}
