package schema

import (
	"encoding/json"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
)

// ChannelEvent is a channel notification (payment result, refund result,
// chargeback, payout result, …) as a connector delivered it, stored before
// the connector is told it arrived. (connector, event_id) is unique, so a
// notification the channel or the plugin sends twice is stored once. The
// inbox processor hands each row to the payment core and marks it processed;
// a failure is retried with backoff. Channel events belong to the platform:
// only operators read them and only Strait writes them.
type ChannelEvent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ChannelEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("che")}
}

// Fields implements ent.Schema.
func (ChannelEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("connector").NotEmpty().MaxLen(64).Immutable(),
		field.String("event_id").NotEmpty().MaxLen(255).Immutable().Comment("the connector's event id, stable across redeliveries"),
		field.String("type").NotEmpty().MaxLen(64).Immutable().Comment("payment_result, refund_result, chargeback, …"),
		field.String("payment_id").Default("").MaxLen(255).Immutable().Comment("the channel's payment id"),
		field.String("reference").Default("").MaxLen(255).Immutable().Comment("Strait's reference, when the channel echoes it"),
		field.String("object_id").Default("").MaxLen(255).Immutable().Comment("the refund, chargeback, payout or agreement id"),
		field.JSON("payload", json.RawMessage{}).Immutable().Annotations(entgql.Skip()),
		field.Time("received_at").Immutable().SchemaType(datetime6),
		field.Time("processed_at").Optional().Nillable().SchemaType(datetime6),
		field.Int("attempts").Default(0).NonNegative(),
		field.Time("next_attempt_at").SchemaType(datetime6),
		field.String("last_error").Default("").MaxLen(1024),
	}
}

// Indexes implements ent.Schema.
func (ChannelEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connector", "event_id").Unique(),
		index.Fields("processed_at", "next_attempt_at"), // the processor's scan
	}
}

// Policy implements ent.Schema.
func (ChannelEvent) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ChannelEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
