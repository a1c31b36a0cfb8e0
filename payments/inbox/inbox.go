// Package inbox makes channel notifications durable. A connector's event
// (payment result, refund result, chargeback, …) is stored as a ChannelEvent
// before the connector is told it arrived, so a crash of Strait or of the
// plugin loses nothing; the Processor then hands each stored event to the
// payment core's handlers, at least once, retrying failures with backoff.
//
// Wire Inbox.Store as the plugin host's Config.EventSink.
package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/channelevent"
	"github.com/straitpay/strait/payments/viewer"
)

// Inbox stores channel events.
type Inbox struct {
	client  *ent.Client
	now     func() time.Time
	onStore func()
}

// Config configures an Inbox.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnStore, when set, is called after each successful Store (a
	// Processor's Wake), so processing need not wait for the next poll.
	OnStore func()
}

// New returns an Inbox storing through client.
func New(client *ent.Client, cfg Config) *Inbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Inbox{client: client, now: cfg.Now, onStore: cfg.OnStore}
}

// Store records ev unless an event with the same (connector, id) is already
// stored: a duplicate is success, not an error, because the channel and the
// plugin both deliver at least once. It returns an error only when the event
// may not be durable, so the caller must not acknowledge it.
func (i *Inbox) Store(ctx context.Context, ev connectors.Event) error {
	if ev.Connector == "" || ev.ID == "" || ev.Type == "" {
		return fmt.Errorf("inbox: event without connector, id or type: %q/%q/%q", ev.Connector, ev.ID, ev.Type)
	}
	payload, err := json.Marshal(toPayload(ev))
	if err != nil {
		return fmt.Errorf("inbox: encode event %s/%s: %w", ev.Connector, ev.ID, err)
	}
	now := i.now().UTC().Truncate(time.Microsecond)
	err = i.client.ChannelEvent.Create().
		SetConnector(ev.Connector).SetEventID(ev.ID).SetType(string(ev.Type)).
		SetPaymentID(ev.PaymentID).SetReference(ev.Reference).SetObjectID(ev.ObjectID).
		SetPayload(payload).SetReceivedAt(now).SetNextAttemptAt(now).
		OnConflictColumns(channelevent.FieldConnector, channelevent.FieldEventID).Ignore().
		Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("inbox: store event %s/%s: %w", ev.Connector, ev.ID, err)
	}
	if i.onStore != nil {
		i.onStore()
	}
	return nil
}

// Event decodes the connector event a ChannelEvent row holds.
func Event(row *ent.ChannelEvent) (connectors.Event, error) {
	var p payload
	if err := json.Unmarshal(row.Payload, &p); err != nil {
		return connectors.Event{}, fmt.Errorf("inbox: decode %s: %w", row.ID, err)
	}
	ev, err := p.event()
	if err != nil {
		return connectors.Event{}, fmt.Errorf("inbox: decode %s: %w", row.ID, err)
	}
	ev.Connector = row.Connector
	return ev, nil
}

// payload is the stored form of a connectors.Event: explicit names, and
// outcomes as words rather than numbers, so rows stay readable and stable.
type payload struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	OccurredAt time.Time         `json:"occurred_at,omitzero"`
	PaymentID  string            `json:"payment_id,omitempty"`
	Reference  string            `json:"reference,omitempty"`
	ObjectID   string            `json:"object_id,omitempty"`
	Result     result            `json:"result"`
	Amount     *amount           `json:"amount,omitempty"`
	Status     string            `json:"status,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	Dispute    *dispute          `json:"dispute,omitempty"`
}

// dispute is connectors.Dispute as stored.
type dispute struct {
	ID         string    `json:"id"`
	PaymentID  string    `json:"payment_id,omitempty"`
	Reference  string    `json:"reference,omitempty"`
	Stage      string    `json:"stage"`
	Status     string    `json:"status"`
	ReasonCode string    `json:"reason_code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Amount     *amount   `json:"amount,omitempty"`
	Fee        *amount   `json:"fee,omitempty"`
	DueBy      time.Time `json:"due_by,omitzero"`
}

type result struct {
	Outcome     string `json:"outcome"`
	DeclineType string `json:"decline_type,omitempty"`
	Code        string `json:"code,omitempty"`
	Message     string `json:"message,omitempty"`
	Retryable   bool   `json:"retryable,omitempty"`
}

type amount struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
	// Exponent is the one the connector stated; rows stored before it
	// existed have none, which the contract reads as Strait's table's.
	Exponent *int `json:"exponent,omitempty"`
}

func toPayload(ev connectors.Event) payload {
	p := payload{
		ID: ev.ID, Type: string(ev.Type), OccurredAt: ev.OccurredAt.UTC(),
		PaymentID: ev.PaymentID, Reference: ev.Reference, ObjectID: ev.ObjectID, Status: ev.Status, Data: ev.Data,
		Result: result{Outcome: ev.Result.Outcome.String(), DeclineType: ev.Result.DeclineType.String(),
			Code: ev.Result.Code, Message: ev.Result.Message, Retryable: ev.Result.Retryable},
	}
	p.Amount = toAmount(ev.Amount)
	if d := ev.Dispute; d != nil {
		p.Dispute = &dispute{ID: d.ID, PaymentID: d.PaymentID, Reference: d.Reference, Stage: string(d.Stage),
			Status: string(d.Status), ReasonCode: d.ReasonCode, Reason: d.Reason, Amount: toAmount(d.Amount),
			Fee: toAmount(d.Fee), DueBy: d.DueBy.UTC()}
	}
	return p
}

func toAmount(m connectors.Money) *amount {
	if m == (connectors.Money{}) {
		return nil
	}
	a := &amount{Minor: m.Minor, Currency: m.Currency}
	if e, ok := m.Exponent.Get(); ok {
		a.Exponent = &e
	}
	return a
}

func (a *amount) money() connectors.Money {
	if a == nil {
		return connectors.Money{}
	}
	m := connectors.Money{Minor: a.Minor, Currency: a.Currency}
	if a.Exponent != nil {
		m.Exponent = connectors.Exp(*a.Exponent)
	}
	return m
}

var outcomes = map[string]connectors.Outcome{}

func init() {
	for o := connectors.OutcomeUnknown; o <= connectors.OutcomeError; o++ {
		outcomes[o.String()] = o
	}
}

func (p payload) event() (connectors.Event, error) {
	o, ok := outcomes[p.Result.Outcome]
	if !ok {
		return connectors.Event{}, errors.New("unknown outcome " + p.Result.Outcome)
	}
	ev := connectors.Event{
		ID: p.ID, Type: connectors.EventType(p.Type), OccurredAt: p.OccurredAt,
		PaymentID: p.PaymentID, Reference: p.Reference, ObjectID: p.ObjectID, Status: p.Status, Data: p.Data,
		Result: connectors.Result{Outcome: o, Code: p.Result.Code, Message: p.Result.Message, Retryable: p.Result.Retryable},
	}
	switch p.Result.DeclineType {
	case "hard":
		ev.Result.DeclineType = connectors.DeclineHard
	case "soft":
		ev.Result.DeclineType = connectors.DeclineSoft
	}
	ev.Amount = p.Amount.money()
	if d := p.Dispute; d != nil {
		ev.Dispute = &connectors.Dispute{ID: d.ID, PaymentID: d.PaymentID, Reference: d.Reference,
			Stage: connectors.DisputeStage(d.Stage), Status: connectors.DisputeStatus(d.Status), ReasonCode: d.ReasonCode,
			Reason: d.Reason, Amount: d.Amount.money(), Fee: d.Fee.money(), DueBy: d.DueBy}
	}
	return ev, nil
}
