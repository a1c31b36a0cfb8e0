package sessionstatus

import (
	"fmt"
	"testing"
)

// TestTransitions walks every (state, event) pair: only an open session
// moves; every other pair is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Status]map[Event]Status{
		Open:     {"pay": Complete, "expire": Expired, "cancel": Canceled},
		Expired:  {"pay": Complete},
		Canceled: {"pay": Complete},
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
	for _, e := range Events {
		var want []Status
		for _, s := range All {
			if _, ok := allowed[s][e]; ok {
				want = append(want, s)
			}
		}
		if got := From(e); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("From(%s) = %v, want %v", e, got, want)
		}
	}
	if _, ok := Next("lost", Pay); ok || Status("lost").Valid() {
		t.Error("an unknown state moved")
	}
	if got := fmt.Sprint(Status("").Values()); got != "[OPEN COMPLETE EXPIRED CANCELED]" {
		t.Errorf("stored values %s", got)
	}
}
