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

// MerchantUser is a person who works for a merchant, with one role.
type MerchantUser struct{ ent.Schema }

// Mixin implements ent.Schema.
func (MerchantUser) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("usr"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (MerchantUser) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").NotEmpty().MaxLen(254),
		field.String("name").Default("").MaxLen(200),
		field.Enum("role").Values("ADMIN", "DEVELOPER", "ANALYST"),
		field.Enum("status").Values("ACTIVE", "DISABLED").Default("ACTIVE"),
	}
}

// Edges implements ent.Schema.
func (MerchantUser) Edges() []ent.Edge {
	return []ent.Edge{merchantEdge()}
}

// Indexes implements ent.Schema.
func (MerchantUser) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "email").Unique()}
}

// Annotations implements ent.Schema.
func (MerchantUser) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// merchantEdge is the owning-merchant edge of a tenant entity, bound to the
// TenantMixin's merchant_id column.
func merchantEdge() ent.Edge {
	return edge.To("merchant", Merchant.Type).Field("merchant_id").Unique().Required().Immutable()
}
