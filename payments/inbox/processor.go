package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/channelevent"
	"github.com/straitpay/strait/payments/viewer"
)

// Handler acts on a stored channel event. It may be called more than once for
// the same event (after a failure, or when a replica died mid-way), so it must
// be idempotent; returning an error schedules a retry.
type Handler interface {
	HandleChannelEvent(ctx context.Context, ev *ent.ChannelEvent) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev *ent.ChannelEvent) error

// HandleChannelEvent calls f.
func (f HandlerFunc) HandleChannelEvent(ctx context.Context, ev *ent.ChannelEvent) error {
	return f(ctx, ev)
}

// Defaults for ProcessorConfig.
const (
	// DefaultPoll is how often the processor looks for due events when
	// nothing wakes it; Store wakes it at once in a single replica.
	DefaultPoll = time.Second
	// DefaultBatch bounds the events one pass claims.
	DefaultBatch = 50
	// DefaultLease is how long a claimed event is reserved for the replica
	// that claimed it; past the lease the claimer is presumed dead and any
	// replica, a restarted one included, takes over. A handler's work is
	// bounded by a connector call (the host's 15 s deadline) and a record
	// batch (STRAIT_DB_BATCH_TIMEOUT, 30 s), so a live claimer is done well
	// within a minute; a longer lease only delays the events a crashed
	// replica held (the fault harness saw one wait two minutes). A handler
	// that does outlive it is run again elsewhere: handlers are idempotent.
	DefaultLease = time.Minute
	// DefaultMinBackoff is the first retry delay after a failure; it doubles
	// per attempt.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff caps the retry delay. Events are never dropped: a
	// notification that cannot be applied today may be tomorrow, after a fix.
	DefaultMaxBackoff = time.Hour
)

// ProcessorConfig configures a Processor. Zero values take the defaults.
type ProcessorConfig struct {
	Log        *slog.Logger
	Now        func() time.Time
	Poll       time.Duration
	Batch      int
	Lease      time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// Processor delivers stored channel events to the registered handlers and
// marks them processed. Several processors (one per Strait replica) may run
// against one database: each event is claimed with a conditional UPDATE, so
// only one of them handles it at a time.
type Processor struct {
	client   *ent.Client
	cfg      ProcessorConfig
	log      *slog.Logger
	handlers []registration
	wake     chan struct{}
}

type registration struct {
	h     Handler
	types []connectors.EventType
}

// NewProcessor returns a Processor over the channel events in client.
// Register handlers before Run.
func NewProcessor(client *ent.Client, cfg ProcessorConfig) *Processor {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&cfg.Poll, DefaultPoll)
	set(&cfg.Lease, DefaultLease)
	set(&cfg.MinBackoff, DefaultMinBackoff)
	set(&cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	return &Processor{client: client, cfg: cfg, log: cfg.Log.With("component", "inbox"), wake: make(chan struct{}, 1)}
}

// Decoded adapts a handler of connector events, such as the payment core's
// HandleEvent, to the inbox: each stored row is decoded back into the event
// the connector delivered.
func Decoded(handle func(context.Context, connectors.Event) error) Handler {
	return HandlerFunc(func(ctx context.Context, row *ent.ChannelEvent) error {
		ev, err := Event(row)
		if err != nil {
			return err
		}
		return handle(ctx, ev)
	})
}

// Register adds a handler for events of the given types, or of every type
// when none is given. An event is processed once every handler registered
// for its type has succeeded; handlers run in registration order.
func (p *Processor) Register(h Handler, types ...connectors.EventType) {
	p.handlers = append(p.handlers, registration{h: h, types: types})
}

// Wake makes a running processor look for due events now.
func (p *Processor) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run processes due events until ctx ends.
func (p *Processor) Run(ctx context.Context) {
	for {
		n, err := p.ProcessDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.log.Error("inbox pass failed", "err", err)
		}
		if n == p.cfg.Batch {
			continue // there may be more due already
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-time.After(p.cfg.Poll):
		}
	}
}

// ProcessDue claims up to a batch of due events and hands each to its
// handlers, returning how many it claimed.
func (p *Processor) ProcessDue(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx)
	now := p.now()
	due, err := p.client.ChannelEvent.Query().
		Where(channelevent.ProcessedAtIsNil(), channelevent.NextAttemptAtLTE(now)).
		Order(ent.Asc(channelevent.FieldNextAttemptAt), ent.Asc(channelevent.FieldID)).
		Limit(p.cfg.Batch).All(sys)
	if err != nil {
		return 0, fmt.Errorf("inbox: due events: %w", err)
	}
	claimed := 0
	for _, row := range due {
		ok, err := p.claim(sys, row, now)
		if err != nil {
			return claimed, err
		}
		if !ok {
			continue // another replica has it
		}
		claimed++
		row.Attempts++
		p.handle(sys, row)
	}
	return claimed, nil
}

// claim reserves row for this processor until now+Lease. The UPDATE only
// matches while the row is still due: a replica that claimed it first has
// moved next_attempt_at past now, so exactly one claim succeeds.
func (p *Processor) claim(ctx context.Context, row *ent.ChannelEvent, now time.Time) (bool, error) {
	n, err := p.client.ChannelEvent.Update().
		Where(channelevent.ID(row.ID), channelevent.ProcessedAtIsNil(), channelevent.NextAttemptAtLTE(now)).
		SetNextAttemptAt(now.Add(p.cfg.Lease)).AddAttempts(1).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("inbox: claim %s: %w", row.ID, err)
	}
	return n == 1, nil
}

func (p *Processor) handle(ctx context.Context, row *ent.ChannelEvent) {
	log := p.log.With("event", row.ID, "connector", row.Connector, "event_id", row.EventID, "type", row.Type, "attempt", row.Attempts)
	if err := p.dispatch(ctx, row); err != nil {
		delay := p.backoff(row.Attempts)
		log.Warn("channel event failed; will retry", "err", err, "retry_in", delay)
		msg := err.Error()
		if len(msg) > 1024 {
			msg = msg[:1024]
		}
		err = p.client.ChannelEvent.UpdateOneID(row.ID).
			SetNextAttemptAt(p.now().Add(delay)).SetLastError(msg).Exec(ctx)
		if err != nil {
			log.Error("inbox: record failure", "err", err) // the lease expires and it is retried anyway
		}
		return
	}
	if err := p.client.ChannelEvent.UpdateOneID(row.ID).SetProcessedAt(p.now()).SetLastError("").Exec(ctx); err != nil {
		log.Error("inbox: mark processed", "err", err) // handled again after the lease: handlers are idempotent
	}
}

// dispatch runs every handler registered for the event's type, stopping at
// the first failure. A panicking handler counts as a failure.
func (p *Processor) dispatch(ctx context.Context, row *ent.ChannelEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	for _, reg := range p.handlers {
		if len(reg.types) > 0 && !slices.Contains(reg.types, connectors.EventType(row.Type)) {
			continue
		}
		if err := reg.h.HandleChannelEvent(ctx, row); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the delay before retrying after the given attempt: MinBackoff
// doubled per earlier attempt, capped at MaxBackoff.
func (p *Processor) backoff(attempt int) time.Duration {
	d := p.cfg.MinBackoff
	for i := 1; i < attempt && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.cfg.MaxBackoff)
}

func (p *Processor) now() time.Time { return p.cfg.Now().UTC().Truncate(time.Microsecond) }

// LogHandler logs every channel event; Strait registers it until the payment
// core's handlers take over.
func LogHandler(log *slog.Logger) Handler {
	return HandlerFunc(func(ctx context.Context, ev *ent.ChannelEvent) error {
		log.InfoContext(ctx, "channel event", "connector", ev.Connector, "event_id", ev.EventID, "type", ev.Type,
			"payment_id", ev.PaymentID, "reference", ev.Reference, "object_id", ev.ObjectID)
		return nil
	})
}
