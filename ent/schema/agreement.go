package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/straitpay/strait/vocab/agreementstatus"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// Agreement is a direct-debit mandate ("protocol payment"): the buyer signs it
// once at their bank, then the merchant charges it without a cashier, up to
// max_amount per charge.
type Agreement struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Agreement) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("agr"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Agreement) Fields() []ent.Field {
	return []ent.Field{
		field.String("customer_id").Optional().MaxLen(40),
		field.String("connector").MaxLen(64),
		field.Enum("status").GoType(agreementstatus.Status("")).Default(string(agreementstatus.Pending)),
		field.String("currency").MaxLen(3).Annotations(entgql.Skip()),
		field.Int64("max_amount").Default(0).Annotations(entgql.Skip(), inCurrency).Comment("0: no limit per charge"),
		field.String("connector_reference").Default("").MaxLen(128).Comment("the channel's agreement id"),
		field.String("buyer_url").Default("").MaxLen(2048).Comment("where the buyer approves the mandate"),
		field.String("return_url").Default("").MaxLen(2048),
		field.String("idempotency_key").MaxLen(128).Immutable().Annotations(entgql.Skip()),
		field.String("failure_code").Default("").MaxLen(64),
		field.String("last_event_id").Default("").MaxLen(191).Annotations(entgql.Skip()),
		field.Time("terminated_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Edges implements ent.Schema.
func (Agreement) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
	}
}

// Indexes implements ent.Schema.
func (Agreement) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "id"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("connector", "connector_reference"),
	}
}

// Annotations implements ent.Schema.
func (Agreement) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
