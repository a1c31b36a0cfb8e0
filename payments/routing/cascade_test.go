package routing

import (
	"context"
	"testing"
)

// TestCascadePolicy is the cascade policy as a table: for each outcome of the
// first attempt, and for a payment that already cascaded once, does NextAfter
// move on, and to which connector?
func TestCascadePolicy(t *testing.T) {
	w := newWorld(t, cardConn("a", 0, 100), cardConn("b", 0, 200), cardConn("c", 0, 300), cardConn("down", 0, 0))
	w.health.Set("down", Stats{Circuit: Open})
	first := w.route(t, cardRequest())
	if first.Chosen != "a" {
		t.Fatalf("first choice %s", first.Chosen)
	}

	cases := []struct {
		outcome  Outcome
		cascades bool
	}{
		{SoftDecline, true},
		{RetryableError, true},
		{HardDecline, false},
		{Unknown, false},
		{Approved, false},
		{Pending, false},
		{ActionRequired, false},
		{"something_new", false},
	}
	for _, c := range cases {
		t.Run(string(c.outcome), func(t *testing.T) {
			next, ok := NextAfter(first, Failure{Outcome: c.outcome, Code: "05"})
			if ok != c.cascades {
				t.Fatalf("NextAfter(%s) = %v, want %v", c.outcome, ok, c.cascades)
			}
			if !ok {
				if next.Chosen != "a" || len(next.Attempted) != 1 {
					t.Fatalf("decision changed without a cascade: %+v", next)
				}
				return
			}
			if next.Chosen != "b" || len(next.Attempted) != 2 || next.Attempted[0] != "a" || next.Attempted[1] != "b" {
				t.Fatalf("cascaded to %s (attempted %v), want b after a", next.Chosen, next.Attempted)
			}
			if first.Chosen != "a" || len(first.Attempted) != 1 {
				t.Fatal("NextAfter changed its input")
			}
			// Only once: a second failure never cascades, whatever the outcome.
			for _, o := range []Outcome{SoftDecline, RetryableError} {
				if again, ok := NextAfter(next, Failure{Outcome: o}); ok || again.Chosen != "b" {
					t.Fatalf("second cascade after %s to %s", o, again.Chosen)
				}
			}
		})
	}
}

func TestCascadeNeedsAnotherEligibleConnector(t *testing.T) {
	w := newWorld(t, cardConn("only", 0, 0), cardConn("down", 0, 0))
	w.health.Set("down", Stats{Circuit: Open})
	d, err := w.router.Route(context.Background(), cardRequest())
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := NextAfter(d, Failure{Outcome: SoftDecline}); ok {
		t.Fatalf("cascaded to %s, which is not eligible", next.Chosen)
	}
}
