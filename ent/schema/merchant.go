package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
)

// Merchant is a tenant: a business that takes payments through Strait.
type Merchant struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Merchant) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mer"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Merchant) Fields() []ent.Field {
	return []ent.Field{
		field.String("legal_name").NotEmpty().MaxLen(200),
		field.String("country").NotEmpty().MaxLen(2).Comment("ISO 3166-1 alpha-2"),
		field.String("settlement_currency").NotEmpty().MaxLen(3).Comment("ISO 4217"),
		field.Enum("status").Values("ACTIVE", "SUSPENDED", "CLOSED").Default("ACTIVE"),
		field.Enum("risk_tier").Values("LOW", "STANDARD", "HIGH").Default("STANDARD"),
	}
}

// Edges implements ent.Schema.
func (Merchant) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("users", MerchantUser.Type).Ref("merchant").
			Annotations(entgql.RelayConnection()),
		edge.From("api_keys", APIKey.Type).Ref("merchant").
			Annotations(entgql.Skip()),
	}
}

// Policy lets a merchant principal read and update only its own merchant; only
// operators create merchants.
func (Merchant) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyAnonymous(), rule.FilterByColumn("id", ""),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyAnonymous(), rule.FilterByColumn("id", ""),
		},
	}
}

// Annotations implements ent.Schema.
func (Merchant) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
