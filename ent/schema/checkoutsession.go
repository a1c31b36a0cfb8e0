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

// CheckoutSession is one buyer's checkout: what is being bought, for how much,
// and how the merchant wants it captured. A cashier token is scoped to one.
type CheckoutSession struct{ ent.Schema }

// Mixin implements ent.Schema.
func (CheckoutSession) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cs"), TimeMixin{}, TenantMixin{CashierColumn: "id"}}
}

// Fields implements ent.Schema.
func (CheckoutSession) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("amount").Annotations(entgql.Skip()),
		field.String("currency").MaxLen(3).Annotations(entgql.Skip()),
		field.String("merchant_reference").Default("").MaxLen(128),
		field.String("customer_id").Optional().MaxLen(40),
		field.Enum("capture_method").Values("AUTOMATIC", "MANUAL").Default("AUTOMATIC"),
		field.Strings("allowed_methods").Optional(),
		field.String("return_url").Default("").MaxLen(2048),
		field.Enum("status").Values("OPEN", "COMPLETE", "EXPIRED", "CANCELED").Default("OPEN"),
		field.Time("expires_at").SchemaType(datetime6),
		field.JSON("metadata", map[string]string{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges implements ent.Schema.
func (CheckoutSession) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
		edge.To("payments", Payment.Type).Annotations(entgql.RelayConnection()),
	}
}

// Indexes implements ent.Schema.
func (CheckoutSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "created_at")}
}

// Annotations implements ent.Schema.
func (CheckoutSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
