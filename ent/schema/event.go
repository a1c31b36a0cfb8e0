package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
)

// Event is the transactional outbox: a state change and its event are written
// in one transaction, and the relay publishes unpublished events to the bus.
// Its payload never holds card numbers or CVCs.
type Event struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Event) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("evt"), TenantMixin{Optional: true}}
}

// Fields implements ent.Schema.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.String("type").NotEmpty().MaxLen(64).Immutable().Comment("e.g. payment.succeeded"),
		field.String("object_id").Default("").MaxLen(40).Immutable(),
		field.JSON("data", map[string]any{}).Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
		field.Time("published_at").Optional().Nillable().SchemaType(datetime6).Annotations(entgql.Skip()),
		// seq is the event's place in the order the relay publishes events
		// (payments/events): assigned once, under the relay's lease, in id
		// order, so it is gapless and the cursor subscriptions resume from.
		// Its index is not unique: on MySQL, inserting the NULL of a new
		// event into a unique index locks the other NULLs, serializing
		// every transaction that writes an event. The lease's counter
		// keeps numbers unique instead.
		field.Int64("seq").Optional().Nillable().Annotations(entgql.Skip()),
		// checkout_session_id names the checkout session the event concerns
		// (its own events, its payments', their attempts' and refunds'),
		// set by the writer, which knows it: a cashier's subscription reads
		// its session's events by it, live and on replay, instead of
		// filtering every event of the merchant (payments/events.Filter).
		// NULL on other events, and on every event written before the
		// column was added.
		field.String("checkout_session_id").Optional().MaxLen(40).Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (Event) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("published_at", "id"), // the relay's scan
		index.Fields("merchant_id", "type", "id"),
		index.Fields("seq"),                        // replays read by it
		index.Fields("checkout_session_id", "seq"), // a session's replay
		index.Fields("object_id", "id"),
		index.Fields("merchant_id", "created_at", "id"), // the events query's time filter
	}
}

// Policy implements ent.Schema: only Strait itself deletes or rewrites events
// (the relay marks them published).
func (Event) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{
			privacy.OnMutationOperation(rule.DenyUnlessSystem(), ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne),
		},
	}
}

// Annotations implements ent.Schema.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
