package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSConfig names the JetStream stream events go to.
type NATSConfig struct {
	URL string
	// Stream is the stream's name (default STRAIT_EVENTS) and Subject the
	// subjects' root (default strait.events): a message's subject is
	// Subject + "." + its type. Tests give each run its own.
	Stream  string
	Subject string
	// MaxAge is how long the stream keeps a message (default 7 days):
	// longer than a subscriber would resume from the bus; the event table
	// is the record.
	MaxAge time.Duration
}

// duplicateWindow is how long JetStream remembers message IDs: a relay that
// crashed between publishing and marking the events published republishes
// them within seconds, well inside it.
const duplicateWindow = 10 * time.Minute

// NATS is the Bus for several replicas: NATS JetStream. The event ID is the
// message ID (Nats-Msg-Id), so a republished event is stored once.
type NATS struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string
}

// wakeSubject is the core NATS subject (outside the stream: nothing is
// stored) on which a replica that committed events tells every relay to
// look now: the lease holder is often another replica, which would
// otherwise find them at its next poll.
func (b *NATS) wakeSubject() string { return b.subject + "-relay-wake" }

// Nudge tells every replica's relay that events were committed. It never
// blocks (nats.go buffers it) and may be lost: the relay's poll is the
// guarantee, the nudge only makes it sooner.
func (b *NATS) Nudge() { _ = b.nc.Publish(b.wakeSubject(), nil) }

// OnNudge calls wake for every replica's Nudge (this one's included) until
// ctx ends.
func (b *NATS) OnNudge(ctx context.Context, wake func()) error {
	sub, err := b.nc.Subscribe(b.wakeSubject(), func(*nats.Msg) { wake() })
	if err != nil {
		return fmt.Errorf("nats subscribe %s: %w", b.wakeSubject(), err)
	}
	if err := b.nc.Flush(); err != nil { // the server has the subscription before this returns
		return fmt.Errorf("nats subscribe %s: %w", b.wakeSubject(), err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}

// DialNATS connects to cfg.URL and creates or updates the stream. Returns
// an error when NATS cannot be reached or refuses the stream.
func DialNATS(ctx context.Context, cfg NATSConfig) (*NATS, error) {
	if cfg.Stream == "" {
		cfg.Stream = "STRAIT_EVENTS"
	}
	if cfg.Subject == "" {
		cfg.Subject = "strait.events"
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	nc, err := nats.Connect(cfg.URL, nats.Name("strait"), nats.MaxReconnects(-1), nats.Timeout(3*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.Stream, Subjects: []string{cfg.Subject + ".>"},
		Storage: jetstream.FileStorage, MaxAge: cfg.MaxAge, Duplicates: duplicateWindow,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream stream %s: %w", cfg.Stream, err)
	}
	return &NATS{nc: nc, js: js, stream: st, subject: cfg.Subject}, nil
}

// Publish implements Bus: one message at a time, each acknowledged by
// JetStream before the next, so the stream keeps publish order.
func (b *NATS) Publish(ctx context.Context, msgs []Message) error {
	for _, m := range msgs {
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(b.subject + "." + m.Type)
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, m.ID)
		if _, err := b.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("publish %s: %w", m.ID, err)
		}
	}
	return nil
}

// Subscribe implements Bus with an ordered, ephemeral consumer from the
// next message on: a replica's live fan-out. Resuming is the event table's
// job (Hub.Subscribe with a cursor).
func (b *NATS) Subscribe(ctx context.Context, fn func(Message)) error {
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("jetstream consumer: %w", err)
	}
	cc, err := cons.Consume(func(jm jetstream.Msg) {
		var m Message
		if json.Unmarshal(jm.Data(), &m) == nil {
			fn(m)
		}
	})
	if err != nil {
		return fmt.Errorf("jetstream consume: %w", err)
	}
	context.AfterFunc(ctx, cc.Stop)
	return nil
}

// ConsumeDurable calls fn with every message the durable consumer name has
// not yet acknowledged, from the stream's start for a new name; it resumes
// where it stopped after a restart of this process or another's with the
// same name (replicas sharing a name share the work). A message fn fails is
// redelivered. It runs until ctx ends.
// It returns a channel closed once consuming has stopped after ctx ended:
// the messages already fetched have been through fn's stopping path
// (handed back with a Nak, for the next consumer at once, rather than left
// to their 30 s ack wait), so a restart can wait for it.
func (b *NATS) ConsumeDurable(ctx context.Context, name string, fn func(Message) error) (<-chan struct{}, error) {
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream durable %s: %w", name, err)
	}
	cc, err := cons.Consume(func(jm jetstream.Msg) {
		if ctx.Err() != nil {
			_ = jm.Nak() // stopping: leave it to the next consumer
			return
		}
		var m Message
		if err := json.Unmarshal(jm.Data(), &m); err != nil {
			_ = jm.Term() // never decodable: redelivering it would loop
			return
		}
		if fn(m) != nil {
			_ = jm.Nak()
			return
		}
		_ = jm.Ack()
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream consume %s: %w", name, err)
	}
	context.AfterFunc(ctx, cc.Drain)
	return cc.Closed(), nil
}

// Close implements Bus.
func (b *NATS) Close() error {
	b.nc.Close()
	return nil
}
