package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// Dispute is a cardholder's dispute of a payment as the channel reported it:
// an inquiry, a chargeback or a pre-arbitration, one row through its stages
// (payments/disputes has the state machine). (connector, network_dispute_id)
// is unique: every event of one dispute lands on the same row.
type Dispute struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Dispute) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dsp"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Dispute) Fields() []ent.Field {
	return []ent.Field{
		field.String("payment_id").Immutable().MaxLen(40),
		field.String("connector").Immutable().MaxLen(64).Annotations(entgql.Skip()),
		field.String("network_dispute_id").Immutable().MaxLen(255).Comment("the channel's id of the dispute, the same through its stages"),
		field.Enum("state").Values("WARNING_NEEDS_RESPONSE", "WARNING_UNDER_REVIEW", "WARNING_CLOSED",
			"NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST", "ACCEPTED"),
		field.Enum("stage").Values("INQUIRY", "CHARGEBACK", "PRE_ARBITRATION"),
		field.Enum("reason").Values("FRAUD", "NOT_RECEIVED", "NOT_AS_DESCRIBED", "DUPLICATE",
			"CREDIT_NOT_PROCESSED", "SUBSCRIPTION_CANCELED", "OTHER"),
		field.String("reason_code").Default("").MaxLen(32).Comment("the scheme's own reason code"),
		field.Int64("amount").Annotations(entgql.Skip(), inCurrency),
		field.String("currency").Immutable().MaxLen(3).Annotations(entgql.Skip()),
		field.Int64("fee").Default(0).Annotations(entgql.Skip(), inCurrency).
			Comment("the dispute fee charged to the merchant, 0 until a chargeback"),
		field.Time("due_by").Optional().Nillable().SchemaType(datetime6),
		field.JSON("evidence", map[string]string{}).Optional().Annotations(entgql.Skip()).
			Comment("the staged evidence fields, by name"),
		field.Time("evidence_submitted_at").Optional().Nillable().SchemaType(datetime6).
			Comment("when evidence went to the channel at the current stage; cleared when a new stage asks again"),
		field.String("operator_flag").Default("").MaxLen(255).
			Comment("why an operator should look (a dispute on a fully refunded payment, a short merchant balance)"),
	}
}

// Edges implements ent.Schema.
func (Dispute) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("payment", Payment.Type).Ref("disputes").Field("payment_id").Unique().Required().Immutable(),
		edge.To("timeline", DisputeEvent.Type),
		edge.To("files", DisputeFile.Type),
	}
}

// Indexes implements ent.Schema.
func (Dispute) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("connector", "network_dispute_id").Unique(),
		index.Fields("merchant_id", "state"),
		index.Fields("payment_id"),
	}
}

// Annotations implements ent.Schema.
func (Dispute) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// DisputeEvent is one line of a dispute's timeline: a channel event, staged
// or submitted evidence, an acceptance, a state change. Append-only.
// (dispute_id, channel_event_id) is unique, so a channel event redelivered
// adds nothing.
type DisputeEvent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DisputeEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dse"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (DisputeEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("dispute_id").Immutable().MaxLen(40),
		field.String("kind").Immutable().MaxLen(32).Comment("channel_event, evidence_staged, evidence_submitted, accepted"),
		field.String("from_state").Immutable().Default("").MaxLen(32),
		field.String("to_state").Immutable().Default("").MaxLen(32),
		field.String("channel_event_id").Optional().Nillable().Immutable().MaxLen(255).Annotations(entgql.Skip()).
			Comment("connector:event id of the channel event, when the line records one"),
		field.String("note").Immutable().Default("").MaxLen(512),
	}
}

// Edges implements ent.Schema.
func (DisputeEvent) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("dispute", Dispute.Type).Ref("timeline").Field("dispute_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (DisputeEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("dispute_id", "channel_event_id").Unique()}
}

// DisputeFile is an evidence document the merchant uploaded for a dispute;
// its content sits in file storage under storage_key, never in the database.
type DisputeFile struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DisputeFile) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dsf"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (DisputeFile) Fields() []ent.Field {
	return []ent.Field{
		field.String("dispute_id").Immutable().MaxLen(40),
		field.String("name").Immutable().MaxLen(255),
		field.String("content_type").Immutable().MaxLen(32),
		field.String("purpose").Immutable().Default("uncategorized").MaxLen(64),
		field.Int64("size").Immutable().NonNegative(),
		field.String("sha256").Immutable().MaxLen(64),
		field.String("storage_key").Immutable().MaxLen(255).Annotations(entgql.Skip()),
	}
}

// Edges implements ent.Schema.
func (DisputeFile) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("dispute", Dispute.Type).Ref("files").Field("dispute_id").Unique().Required().Immutable(),
	}
}
