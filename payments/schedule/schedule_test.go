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

// TestLoopTicksBoundsLogsAndStops: the first pass comes one interval after
// the start, passes repeat every interval, each runs on a context bounded
// by the timeout (or not at all without one), a pass's error is logged
// with the job's name and does not stop the loop, and the loop returns
// when its context ends.
func TestLoopTicksBoundsLogsAndStops(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Hour} {
		const interval = 20 * time.Millisecond
		var logs bytes.Buffer // read once the loop has returned
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		type call struct {
			at          time.Time
			hasDeadline bool
			deadline    time.Time
		}
		calls := make(chan call, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			Loop(ctx, Ticks{Job: "testjob", Interval: interval, Timeout: timeout, Log: log}, func(pctx context.Context) error {
				d, ok := pctx.Deadline()
				select {
				case calls <- call{at: time.Now(), hasDeadline: ok, deadline: d}:
				default:
				}
				return errors.New("pass broke")
			})
		}()
		var got []call
		for len(got) < 4 { // the last pass's error may meet the cancelled context
			select {
			case c := <-calls:
				got = append(got, c)
			case <-time.After(5 * time.Second):
				t.Fatalf("timeout %s: %d passes in 5 s, want 4", timeout, len(got))
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("timeout %s: the loop did not return after its context ended", timeout)
		}
		if first := got[0].at.Sub(start); first < interval {
			t.Errorf("timeout %s: first pass %s after the start, want at least %s", timeout, first, interval)
		}
		for _, c := range got {
			if c.hasDeadline != (timeout > 0) {
				t.Errorf("timeout %s: pass has a deadline: %v", timeout, c.hasDeadline)
			}
			if c.hasDeadline && c.deadline.Sub(c.at) > timeout {
				t.Errorf("timeout %s: pass deadline %s away", timeout, c.deadline.Sub(c.at))
			}
		}
		if out := logs.String(); strings.Count(out, "job=testjob") < 3 || !strings.Contains(out, "pass broke") {
			t.Errorf("timeout %s: log %q, want each failed pass logged with its job", timeout, out)
		}
	}
}
