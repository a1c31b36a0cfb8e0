package events

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments/schedule"
	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/viewer"
)

// RelayConfig tunes a Relay; zero values get the defaults.
type RelayConfig struct {
	Client *ent.Client
	Bus    Bus
	Log    *slog.Logger
	Now    func() time.Time
	// Holder names this replica in the lease (default: a fresh ID).
	Holder string
	// Poll is how often an idle relay looks for events (default
	// DefaultRelayPoll: the bound of an event's wait before it is
	// published; one indexed query on the lease holder); Wake makes it
	// look at once.
	Poll time.Duration
	// LeaseTTL is how long the lease lasts without renewal (default 10 s):
	// the longest a dead relay's replica keeps events waiting.
	LeaseTTL time.Duration
	// Batch bounds the events published per step (default 500).
	Batch int
	// StepTimeout bounds one step's database work and publishing (default
	// 10 s): a database that stops answering fails the step, which is
	// retried, instead of holding a connection forever.
	StepTimeout time.Duration
	// Wake, when set, is the waker the relay listens to (WakeOnCommit's
	// hook and other replicas' nudges wake it); nil: its own.
	Wake schedule.Waker
	// OnAssign runs in the transaction that numbers a batch of events
	// (the webhook deliveries are written there), so what it writes exists
	// exactly when the events are numbered.
	OnAssign func(ctx context.Context, tx *ent.Tx, evs []*ent.Event) error
}

// DefaultRelayPoll is the relay's idle poll. Wake covers events committed
// by this process (WakeOnCommit), and with NATS those of every replica
// (NATS.Nudge); one committed by any other process, or whose nudge was
// lost, waits for the poll: 10 ms bounds that wait at one indexed query
// (unpublished events, an empty range when idle) 100 times a second on
// the lease holder only.
const DefaultRelayPoll = 10 * time.Millisecond

// relayLease is the lease's name: one relay publishes at a time.
const relayLease = "outbox_relay"

// Relay publishes committed outbox events to the bus. Every replica runs
// one; the one that holds the lease publishes. Each step numbers the
// unpublished events in ID order (their seq, in the transaction that also
// runs OnAssign), publishes them in that order, then marks them published.
// A relay that dies between numbering and marking leaves events numbered
// and unpublished: the next step, on whichever replica holds the lease,
// publishes them again first, and the bus drops the duplicates by event ID.
type Relay struct {
	cfg  RelayConfig
	wake schedule.Waker
	mu   sync.Mutex // one step at a time in this process; guards what follows
	// held says whether this relay held the lease when it last asked, at
	// asked: it asks again a third of LeaseTTL later, not on every step.
	held  bool
	asked time.Time
}

// NewRelay returns a relay; Run starts it.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Holder == "" {
		cfg.Holder = pulid.New("relay")
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultRelayPoll
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 500
	}
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 10 * time.Second
	}
	if cfg.Wake == nil {
		cfg.Wake = schedule.NewWaker()
	}
	return &Relay{cfg: cfg, wake: cfg.Wake}
}

// Wake asks the relay to look for events now (after a commit that wrote
// some); it never blocks.
func (r *Relay) Wake() { r.wake.Wake() }

// Run publishes events until ctx ends, then releases the lease.
func (r *Relay) Run(ctx context.Context) {
	defer releaseLease(ctx, r.cfg.Client, relayLease, r.cfg.Holder)
	schedule.Drain(ctx, schedule.Polls{Job: "outbox relay", Poll: r.cfg.Poll, Wake: r.wake, Log: r.cfg.Log},
		func(ctx context.Context) (bool, error) {
			n, err := r.Step(ctx)
			return n == r.cfg.Batch, err // a full batch: more are waiting
		})
}

// Step publishes one batch if this replica holds the lease, and returns how
// many events it published.
func (r *Relay) Step(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	started := r.cfg.Now()
	if started.Sub(r.asked) >= r.cfg.LeaseTTL/3 {
		held, err := acquireLease(ctx, r.cfg.Client, relayLease, r.cfg.Holder, started, r.cfg.LeaseTTL, r.lastSeq(ctx))
		if err != nil {
			r.held = false
			return 0, err
		}
		r.held, r.asked = held, started
	}
	if !r.held {
		return 0, nil
	}
	sys := viewer.SystemContext(ctx)
	pending, err := r.cfg.Client.Event.Query().Where(event.PublishedAtIsNil()).
		Order(ent.Asc(event.FieldID)).Limit(r.cfg.Batch).All(sys)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	var numbered, fresh []*ent.Event
	for _, e := range pending {
		if e.Seq != nil {
			numbered = append(numbered, e)
		} else {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) > 0 {
		if err := r.number(sys, fresh); err != nil {
			return 0, err
		}
	}
	// A lease that ran out mid-step may be someone else's now; publishing
	// is still safe (duplicates collapse), numbering was fenced by the
	// unique seq.
	all := append(numbered, fresh...)
	slices.SortFunc(all, func(a, b *ent.Event) int { return int(*a.Seq - *b.Seq) })
	msgs := make([]Message, len(all))
	ids := make([]string, len(all))
	for i, e := range all {
		if msgs[i], err = messageOf(e); err != nil {
			return 0, fmt.Errorf("event %s: %w", e.ID, err)
		}
		ids[i] = e.ID
	}
	if err := r.cfg.Bus.Publish(ctx, msgs); err != nil {
		return 0, err
	}
	if err := r.cfg.Client.Event.Update().Where(event.IDIn(ids...)).SetPublishedAt(r.cfg.Now()).Exec(sys); err != nil {
		return 0, fmt.Errorf("mark published: %w", err)
	}
	return len(all), nil
}

// number gives evs, in ID order, the next sequence numbers, taken from the
// lease's counter, in one transaction with OnAssign. A relay whose lease
// passed to another while it stalled finds it no longer holds it, and rolls
// back.
func (r *Relay) number(ctx context.Context, evs []*ent.Event) error {
	_, err := store.WithTx(ctx, r.cfg.Client, func(tx *ent.Tx) (struct{}, error) {
		last, err := advanceCounter(ctx, tx, relayLease, r.cfg.Holder, int64(len(evs)))
		if err != nil {
			r.held = false
			return struct{}{}, err
		}
		next := last - int64(len(evs)) + 1
		// One UPDATE for the batch: seq = CASE id WHEN … THEN … END, only
		// where still unnumbered; a short count means another relay
		// numbered some, and the transaction rolls back.
		var q strings.Builder
		args := make([]any, 0, 3*len(evs))
		fmt.Fprintf(&q, "UPDATE %s SET %s = CASE %s", event.Table, event.FieldSeq, event.FieldID)
		for i, e := range evs {
			q.WriteString(" WHEN ? THEN ?")
			args = append(args, e.ID, next+int64(i))
		}
		fmt.Fprintf(&q, " END WHERE %s IS NULL AND %s IN (?%s)", event.FieldSeq, event.FieldID, strings.Repeat(", ?", len(evs)-1))
		for _, e := range evs {
			args = append(args, e.ID)
		}
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return struct{}{}, fmt.Errorf("number events: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(len(evs)) {
			return struct{}{}, fmt.Errorf("number events: %d of %d numbered (another relay numbered the rest): %v", n, len(evs), err)
		}
		for i, e := range evs {
			seq := next + int64(i)
			e.Seq = &seq
		}
		if r.cfg.OnAssign != nil {
			if err := r.cfg.OnAssign(ctx, tx, evs); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		for _, e := range evs {
			e.Seq = nil
		}
	}
	return err
}

// lastSeq is the highest seq given, for a lease row created afresh (a new
// database starts at 0).
func (r *Relay) lastSeq(ctx context.Context) int64 {
	e, err := r.cfg.Client.Event.Query().Where(event.SeqNotNil()).Order(ent.Desc(event.FieldSeq)).
		Select(event.FieldSeq).First(viewer.SystemContext(ctx))
	if err != nil || e.Seq == nil {
		return 0
	}
	return *e.Seq
}
