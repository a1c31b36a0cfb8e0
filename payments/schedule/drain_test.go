package schedule

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestWakerNeverBlocksAndCoalesces: wakes sent while nobody listens never
// block and count as one.
func TestWakerNeverBlocksAndCoalesces(t *testing.T) {
	w := NewWaker()
	for range 5 {
		w.Wake()
	}
	<-w
	select {
	case <-w:
		t.Fatal("five wakes left two")
	default:
	}
}

// TestDrainRunsOnWhileMoreWaitsThenWaitsForAWakeOrThePoll: a step that
// says more is waiting is followed at once by another; an idle loop waits
// for the poll (here an hour) unless woken; a step's error is logged with
// the job's name and does not stop the loop; the loop returns when its
// context ends.
func TestDrainRunsOnWhileMoreWaitsThenWaitsForAWakeOrThePoll(t *testing.T) {
	var logs bytes.Buffer // read once the loop has returned
	wake := NewWaker()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := make(chan int, 100)
	done := make(chan struct{})
	n := 0
	go func() {
		defer close(done)
		Drain(ctx, Polls{Job: "testjob", Poll: time.Hour, Wake: wake, Log: slog.New(slog.NewTextHandler(&logs, nil))},
			func(context.Context) (bool, error) {
				n++
				steps <- n
				if n == 2 {
					return true, errors.New("step broke") // an error with more waiting: on at once all the same
				}
				return n < 3, nil // steps 1 to 2 leave more; 3 drains it
			})
	}()
	for want := 1; want <= 3; want++ {
		select {
		case got := <-steps:
			if got != want {
				t.Fatalf("step %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("step %d did not follow at once", want)
		}
	}
	select {
	case got := <-steps:
		t.Fatalf("step %d ran while idle, before the poll or a wake", got)
	case <-time.After(100 * time.Millisecond):
	}
	wake.Wake()
	select {
	case got := <-steps:
		if got != 4 {
			t.Fatalf("step %d after the wake, want 4", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wake did not run a step")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not return after its context ended")
	}
	if out := logs.String(); !strings.Contains(out, "job=testjob") || !strings.Contains(out, "step broke") {
		t.Fatalf("log %q, want the failed step logged with its job", out)
	}
}

// TestDrainPollsWhenNobodyWakes: without a wake an idle loop looks again
// after the poll.
func TestDrainPollsWhenNobodyWakes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := make(chan time.Time, 100)
	go Drain(ctx, Polls{Job: "testjob", Poll: 20 * time.Millisecond, Log: slog.Default()}, func(context.Context) (bool, error) {
		steps <- time.Now()
		return false, nil
	})
	first := <-steps
	select {
	case second := <-steps:
		if d := second.Sub(first); d < 10*time.Millisecond {
			t.Fatalf("idle loop looked again after %s, want the poll (20ms)", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the poll did not run a step")
	}
}
