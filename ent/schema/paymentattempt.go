package schema

import (
	"encoding/json"
	"github.com/straitpay/strait/vocab/attemptstatus"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// PaymentAttempt is one call to one connector on behalf of a payment. It is
// written before the connector is called, so a crash mid-call leaves an UNKNOWN
// attempt that the janitor resolves through QueryPayment, never a blind retry.
type PaymentAttempt struct{ ent.Schema }

// Mixin implements ent.Schema.
func (PaymentAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("att"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (PaymentAttempt) Fields() []ent.Field {
	return []ent.Field{
		field.String("payment_id").Immutable().MaxLen(40),
		field.String("connector").MaxLen(64),
		field.Int64("amount").Annotations(entgql.Skip(), inCurrency),
		field.String("currency").MaxLen(3).Annotations(entgql.Skip()),
		field.Enum("status").
			GoType(attemptstatus.Status("")).
			Default(string(attemptstatus.Pending)),
		field.String("channel_idempotency_key").MaxLen(80).Immutable().Unique().
			Comment("sent to the connector so a retried call can never charge twice"),
		field.String("connector_reference").Default("").MaxLen(128),
		field.String("decline_code").Default("").MaxLen(64),
		field.Enum("decline_type").Values("HARD", "SOFT").Optional().Nillable(),
		field.String("error_message").Default("").MaxLen(500),
		// The routing decision as JSON, written once (routing.Decision
		// encoded) and read only by people and tests.
		field.JSON("routing_decision", json.RawMessage{}).Optional().Annotations(entgql.Skip()),
		field.JSON("risk_decision", map[string]any{}).Optional().Annotations(entgql.Skip()),
		field.Int("check_count").Default(0).Annotations(entgql.Skip()),
		field.Time("next_check_at").Optional().Nillable().SchemaType(datetime6).Annotations(entgql.Skip()),
		field.Time("resolved_at").Optional().Nillable().SchemaType(datetime6),
		field.Bool("capture").Default(true).Comment("a sale (true) or a pre-authorization (false)"),
		// An operation on the authorization sent to the channel whose answer
		// has not been recorded: set before the call, cleared with its
		// answer. The janitor resolves what stays set (a lost answer, a crash
		// mid-call) through QueryPayment, at next_check_at.
		field.Enum("operation").Values("CAPTURE", "VOID").Optional().Nillable().
			Comment("An operation on this authorization (capture or void) sent to the channel whose answer is not known yet; Strait resolves it by asking the channel, and it clears once recorded. Repeating the capture or cancel meanwhile answers UNAVAILABLE."),
		field.Int64("operation_amount").Default(0).Annotations(entgql.Skip()).
			Comment("the amount of an operation in flight that is a capture"),
		field.String("last_event_id").Default("").MaxLen(191).Annotations(entgql.Skip()).
			Comment("the last channel event applied, so a redelivered one is recognized"),
	}
}

// Edges implements ent.Schema.
func (PaymentAttempt) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("payment", Payment.Type).Ref("attempts").Field("payment_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (PaymentAttempt) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "payment_id"),
		// The janitor's scan: unresolved attempts due for a check.
		index.Fields("status", "next_check_at"),
		// Channel events name the connector's own payment id.
		index.Fields("connector", "connector_reference"),
	}
}

// Annotations implements ent.Schema.
func (PaymentAttempt) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
