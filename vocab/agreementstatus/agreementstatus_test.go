package agreementstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: the listed ones are
// allowed, every other one is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Event]Status{
		Pending: {"activate": Active, "decline": Failed, "terminate": Terminated},
		Active:  {"decline": Terminated, "terminate": Terminated},
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
	if _, ok := Next("lost", Activate); ok || Status("lost").Valid() {
		t.Error("an unknown state moved")
	}
	if got := fmt.Sprint(Status("").Values()); got != "[PENDING ACTIVE TERMINATED FAILED]" {
		t.Errorf("stored values %s", got)
	}
}
