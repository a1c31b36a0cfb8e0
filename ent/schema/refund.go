package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/straitpay/strait/vocab/refundstatus"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// Refund returns part or all of a captured payment to the buyer. The refunds of
// a payment never add up to more than its captured amount.
type Refund struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Refund) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ref"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Refund) Fields() []ent.Field {
	return []ent.Field{
		field.String("payment_id").Immutable().MaxLen(40),
		field.Int64("amount").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.String("currency").Immutable().MaxLen(3).Annotations(entgql.Skip()),
		field.Enum("status").GoType(refundstatus.Status("")).Default(string(refundstatus.Pending)),
		field.String("reason").Default("").MaxLen(200),
		field.String("connector_reference").Default("").MaxLen(128),
		field.String("failure_code").Default("").MaxLen(64),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(128).Annotations(entgql.Skip()).
			Comment("the merchant's key: a retried refund request finds this refund instead of making another"),
		field.Int64("fee_reversed").Default(0).Immutable().Annotations(entgql.Skip(), inCurrency).
			Comment("the share of the payment's fee this refund returned from the platform"),
	}
}

// Edges implements ent.Schema.
func (Refund) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("payment", Payment.Type).Ref("refunds").Field("payment_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (Refund) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "payment_id"),
		index.Fields("payment_id", "idempotency_key").Unique(),
	}
}

// Annotations implements ent.Schema.
func (Refund) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
