package schedule

import (
	"context"
	"log/slog"
	"time"
)

// Waker wakes an idle Drain loop. Wake never blocks, and the wakes that
// come while the loop is busy count as one: the loop's next look sees
// everything they announced.
type Waker chan struct{}

// NewWaker returns a Waker for one loop.
func NewWaker() Waker { return make(Waker, 1) }

// Wake asks the loop to look now.
func (w Waker) Wake() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// Polls says when Drain runs a consumer's steps.
type Polls struct {
	// Job names the work in the log.
	Job string
	// Poll is the longest an idle consumer waits before it looks again:
	// the bound of an item's wait when nobody wakes the consumer.
	Poll time.Duration
	// Wake makes an idle consumer look at once (nil: only Poll does).
	Wake Waker
	// Log receives each step's error.
	Log *slog.Logger
}

// Drain calls step until ctx ends: again at once while step says more is
// waiting (a full batch), otherwise after Poll or on a Wake, whichever
// comes first. A step's error is logged as p.Job's (unless ctx has
// ended) and the loop goes on: the next step takes up what it left. The
// outbox relay, the webhook sender and the report rollup consume so.
func Drain(ctx context.Context, p Polls, step func(context.Context) (more bool, err error)) {
	t := time.NewTicker(p.Poll)
	defer t.Stop()
	for {
		more, err := step(ctx)
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("step failed", "job", p.Job, "err", err)
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.Wake:
		}
	}
}
