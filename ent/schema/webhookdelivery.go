package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// WebhookDelivery is one event owed to one endpoint: written by the outbox
// relay in the transaction that publishes the event (one row per event and
// endpoint, by a unique index), then sent by whichever replica leases it,
// and retried on payments/events' schedule until it succeeds or runs out.
type WebhookDelivery struct{ ent.Schema }

// Mixin implements ent.Schema.
func (WebhookDelivery) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("whd"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.String("endpoint_id").NotEmpty().MaxLen(40).Immutable(),
		field.String("event_id").NotEmpty().MaxLen(40).Immutable(),
		field.String("event_type").NotEmpty().MaxLen(64).Immutable(),
		field.Enum("status").Values("PENDING", "SUCCEEDED", "FAILED").Default("PENDING"),
		// attempts made so far; the next is due at next_attempt_at.
		field.Int("attempts").Default(0).NonNegative(),
		field.Time("next_attempt_at").SchemaType(datetime6),
		// A replica sending it holds it until leased_until; after that
		// another may take it (the holder is presumed dead).
		field.Time("leased_until").Optional().Nillable().SchemaType(datetime6).Annotations(entgql.Skip()),
		field.Int("last_status_code").Optional().Nillable(),
		field.String("last_error").Default("").MaxLen(300),
		field.Time("last_attempt_at").Optional().Nillable().SchemaType(datetime6),
		field.Time("delivered_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("endpoint_id", "event_id").Unique(),
		index.Fields("status", "next_attempt_at"), // the sender's scan
		index.Fields("merchant_id", "endpoint_id", "id"),
	}
}

// Annotations implements ent.Schema.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
