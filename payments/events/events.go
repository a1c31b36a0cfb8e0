// Package events carries what happened in Strait to whoever listens: the
// outbox relay reads the events written in the same transaction as each
// state change and publishes them, in order, to a Bus (in-process, or NATS
// JetStream across replicas); a Hub on every replica fans the bus out to
// live subscribers (GraphQL subscriptions), replaying from the event table
// to resume a subscriber from a cursor; and the webhook sender delivers
// them, signed, to merchants' endpoints.
//
// Order: the relay numbers events (Message.Seq) in the order it publishes
// them, one relay at a time (a lease), and publishes in that order. Events
// of one aggregate (a payment, a refund) are written under that
// aggregate's row lock, so their IDs, which are time ordered, follow their
// commit order, and their sequence numbers follow their IDs. Replicas'
// clocks must agree (NTP) more closely than two changes of one payment.
package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/straitpay/strait/ent"
)

// Message is one published event.
type Message struct {
	// ID is the event's ID ("evt_…"), also the bus's message ID, so a
	// message published twice is delivered once.
	ID string `json:"id"`
	// Seq is the event's place in publish order: gapless, from 1.
	Seq        int64  `json:"seq"`
	MerchantID string `json:"merchant_id,omitempty"`
	Type       string `json:"type"`
	ObjectID   string `json:"object_id,omitempty"`
	// CheckoutSessionID is the checkout session the event concerns, if
	// any (Event.checkout_session_id): a cashier's subscription is
	// filtered by it. A message from a relay older than the field has
	// none.
	CheckoutSessionID string          `json:"checkout_session_id,omitempty"`
	Data              json.RawMessage `json:"data"`
	CreatedAt         time.Time       `json:"created_at"`
}

// messageOf is the message of a stored event that has its seq.
func messageOf(e *ent.Event) (Message, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return Message{}, err
	}
	var seq int64
	if e.Seq != nil {
		seq = *e.Seq
	}
	return Message{ID: e.ID, Seq: seq, MerchantID: e.MerchantID, Type: e.Type, ObjectID: e.ObjectID,
		CheckoutSessionID: e.CheckoutSessionID, Data: data, CreatedAt: e.CreatedAt}, nil
}

// Bus carries messages from the relay to every replica.
type Bus interface {
	// Publish publishes msgs in order. A message whose ID was published
	// before (a relay retrying after a crash) is dropped by the bus.
	Publish(ctx context.Context, msgs []Message) error
	// Subscribe calls fn with every message published from now on, in
	// publish order, from one goroutine, until ctx ends. fn must not block:
	// a Hub queues what it hands on.
	Subscribe(ctx context.Context, fn func(Message)) error
	// Close releases the bus's connections.
	Close() error
}
