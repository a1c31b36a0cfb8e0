package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/event"
	"github.com/straitpay/strait/ent/predicate"
	"github.com/straitpay/strait/payments/viewer"
)

// ErrSlowConsumer ends a subscription whose reader fell LiveBuffer messages
// behind: it is cut off rather than allowed to grow memory without bound.
// It may resume from its last cursor.
var ErrSlowConsumer = errors.New("subscriber too slow: cut off")

// Filter selects the messages a subscriber sees. The caller sets
// MerchantID from the viewer (empty only for operators): the hub does not
// check who asks.
type Filter struct {
	MerchantID string
	ObjectID   string
	// CheckoutSessionID keeps the events of one checkout session: its
	// own, its payments', their attempts' and refunds' (the writers name
	// the session on each, Event.checkout_session_id). Events written
	// before that column existed name none, and a replay skips them.
	CheckoutSessionID string
	// Types are exact types or prefixes ending in "." ("payment."); empty
	// matches every type.
	Types []string
}

func (f Filter) match(m Message) bool {
	if f.MerchantID != "" && m.MerchantID != f.MerchantID {
		return false
	}
	if f.ObjectID != "" && m.ObjectID != f.ObjectID {
		return false
	}
	if f.CheckoutSessionID != "" && m.CheckoutSessionID != f.CheckoutSessionID {
		return false
	}
	return len(f.Types) == 0 || slices.ContainsFunc(f.Types, func(t string) bool {
		return t == m.Type || strings.HasSuffix(t, ".") && strings.HasPrefix(m.Type, t)
	})
}

func (f Filter) where() []predicate.Event {
	ps := []predicate.Event{}
	if f.MerchantID != "" {
		ps = append(ps, event.MerchantID(f.MerchantID))
	}
	if f.ObjectID != "" {
		ps = append(ps, event.ObjectID(f.ObjectID))
	}
	if f.CheckoutSessionID != "" {
		ps = append(ps, event.CheckoutSessionID(f.CheckoutSessionID))
	}
	if len(f.Types) > 0 {
		var or []predicate.Event
		for _, t := range f.Types {
			if strings.HasSuffix(t, ".") {
				or = append(or, event.TypeHasPrefix(t))
			} else {
				or = append(or, event.Type(t))
			}
		}
		ps = append(ps, event.Or(or...))
	}
	return ps
}

// LiveBuffer is how many messages a subscriber may fall behind before it is
// cut off: a burst of a busy merchant's events fits, a reader that stopped
// reading does not. The queue holds pointers (2 KiB per subscriber when
// empty), the messages themselves are shared by every subscriber.
const LiveBuffer = 256

// replayPage is how many stored events a resuming subscriber reads at once.
const replayPage = 500

// Hub fans the bus out to this replica's subscribers.
type Hub struct {
	client *ent.Client
	log    *slog.Logger
	mu     sync.Mutex
	// subs holds the subscriptions not filtered by a checkout session.
	subs map[*Subscription]struct{}
	// sessions holds the subscriptions filtered by a checkout session, by
	// session: a message is offered to its own session's only, so an
	// event costs the hub the subscribers it may reach, not every
	// cashier's open checkout.
	sessions map[string]map[*Subscription]struct{}
	// last is the highest seq dispatched; a message after a gap (a bus
	// that lost some) first has the gap filled from the event table.
	last int64
}

// NewHub returns a hub; Start connects it to a bus.
func NewHub(client *ent.Client, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{client: client, log: log, subs: map[*Subscription]struct{}{}, sessions: map[string]map[*Subscription]struct{}{}}
}

// Start subscribes the hub to bus until ctx ends.
func (h *Hub) Start(ctx context.Context, bus Bus) error {
	return bus.Subscribe(ctx, func(m Message) { h.dispatch(ctx, m) })
}

func (h *Hub) dispatch(ctx context.Context, m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.Seq <= h.last {
		return // a duplicate
	}
	if h.last > 0 && m.Seq > h.last+1 {
		h.fillGap(ctx, h.last, m.Seq)
	}
	h.last = m.Seq
	h.offer(&m)
}

// offer offers m to the subscriptions it may match. Called with the lock
// held.
func (h *Hub) offer(m *Message) {
	for s := range h.subs {
		s.offer(m)
	}
	if m.CheckoutSessionID != "" {
		for s := range h.sessions[m.CheckoutSessionID] {
			s.offer(m)
		}
	}
}

// add registers s for live messages.
func (h *Hub) add(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := s.filter.CheckoutSessionID
	if id == "" {
		h.subs[s] = struct{}{}
		return
	}
	if h.sessions[id] == nil {
		h.sessions[id] = map[*Subscription]struct{}{}
	}
	h.sessions[id][s] = struct{}{}
}

// remove unregisters s.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := s.filter.CheckoutSessionID
	if id == "" {
		delete(h.subs, s)
		return
	}
	delete(h.sessions[id], s)
	if len(h.sessions[id]) == 0 {
		delete(h.sessions, id)
	}
}

// gapFillTimeout bounds the query that fills a gap: every subscriber of
// the replica waits on it.
const gapFillTimeout = 5 * time.Second

// fillGap dispatches the stored events numbered in (from, to).
func (h *Hub) fillGap(ctx context.Context, from, to int64) {
	ctx, cancel := context.WithTimeout(ctx, gapFillTimeout)
	defer cancel()
	evs, err := h.client.Event.Query().Where(event.SeqGT(from), event.SeqLT(to)).
		Order(ent.Asc(event.FieldSeq)).All(viewer.SystemContext(ctx))
	if err != nil {
		h.log.Warn("event hub could not fill a gap; resuming subscribers may see it", "from", from, "to", to, "err", err)
		return
	}
	for _, e := range evs {
		if m, err := messageOf(e); err == nil {
			h.offer(&m)
		}
	}
}

// Subscription is one subscriber's stream.
type Subscription struct {
	hub    *Hub
	filter Filter
	live   chan *Message
	out    chan Message
	cancel context.CancelCauseFunc
	ctx    context.Context
	// send hands a message on, blocking as long as it needs (until its
	// ctx, the subscription's, ends); false ends the stream. done is
	// called once, last.
	send func(context.Context, Message) bool
	done func()
}

// offer queues m for s without blocking; a full queue cuts s off. Called
// with the hub's lock held.
func (s *Subscription) offer(m *Message) {
	if !s.filter.match(*m) || s.ctx.Err() != nil {
		return
	}
	select {
	case s.live <- m:
	default:
		s.cancel(ErrSlowConsumer)
	}
}

// C is the subscription's messages in seq order, closed when it ends.
func (s *Subscription) C() <-chan Message { return s.out }

// Err says why the subscription ended: ErrSlowConsumer, or the context's
// cause.
func (s *Subscription) Err() error { return context.Cause(s.ctx) }

// FromStart, as a subscription's after, replays every stored message the
// filter matches before going live (a seq of 0 is live only).
const FromStart int64 = -1

// Before is the after that replays from seq on: seq − 1, or FromStart.
func Before(seq int64) int64 {
	if seq > 1 {
		return seq - 1
	}
	return FromStart
}

// Subscribe streams the messages matching f. With after > 0 it first
// replays the stored events numbered after it, then continues live with no
// gap and no duplicate: it registers for live messages before reading the
// table, and drops live messages the replay already gave. The stream ends
// when ctx does, or when the reader falls LiveBuffer messages behind.
func (h *Hub) Subscribe(ctx context.Context, f Filter, after int64) (*Subscription, error) {
	out := make(chan Message)
	s := h.stream(ctx, f, after, func(ctx context.Context, m Message) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	s.out = out
	return s, nil
}

// Stream is Subscribe without the channel in between: the subscription's
// own goroutine calls send with its context (ended when the subscription
// is) and each message, in order, replay first (send blocks as long as it
// needs, and returns false to end the stream), then done, once, last; Err
// says why it ended. A subscriber that turns
// each message into something else (a GraphQL update) saves a goroutine
// and its stack per subscriber this way.
func (h *Hub) Stream(ctx context.Context, f Filter, after int64, send func(context.Context, Message) bool, done func()) *Subscription {
	return h.stream(ctx, f, after, send, done)
}

func (h *Hub) stream(ctx context.Context, f Filter, after int64, send func(context.Context, Message) bool, done func()) *Subscription {
	sctx, cancel := context.WithCancelCause(ctx)
	s := &Subscription{hub: h, filter: f, live: make(chan *Message, LiveBuffer), cancel: cancel, ctx: sctx, send: send, done: done}
	h.add(s)
	go s.run(after)
	return s
}

func (s *Subscription) run(after int64) {
	defer func() {
		s.hub.remove(s)
		s.cancel(context.Canceled) // a stream its sender ended stops being offered messages
		s.done()
	}()
	last := after
	if after > 0 || after == FromStart {
		var err error
		if last, err = s.replay(after); err != nil {
			s.cancel(err)
			return
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case m := <-s.live:
			if m.Seq <= last {
				continue
			}
			if !s.send(s.ctx, *m) {
				return
			}
			last = m.Seq
		}
	}
}

// replay sends the stored events after seq and returns the last seq sent.
func (s *Subscription) replay(after int64) (int64, error) {
	sys := viewer.SystemContext(s.ctx)
	for {
		evs, err := s.hub.client.Event.Query().Where(append(s.filter.where(), event.SeqGT(after))...).
			Order(ent.Asc(event.FieldSeq)).Limit(replayPage).All(sys)
		if err != nil {
			return after, fmt.Errorf("replay events: %w", err)
		}
		for _, e := range evs {
			m, err := messageOf(e)
			if err != nil {
				return after, err
			}
			if !s.send(s.ctx, m) {
				s.cancel(context.Canceled)
				return after, context.Cause(s.ctx)
			}
			after = m.Seq
		}
		if len(evs) < replayPage {
			return after, nil
		}
	}
}
