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

// FxQuote is a rate locked for one merchant until expires_at: the mid rate it
// was priced from (with its source and time), the platform margin in basis
// points and the resulting all-in rate. Quotes are immutable; conversions
// reference the quote they used.
type FxQuote struct{ ent.Schema }

// Mixin implements ent.Schema.
func (FxQuote) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fxq"), TenantMixin{}}
}

// Fields implements ent.Schema.
func (FxQuote) Fields() []ent.Field {
	return []ent.Field{
		field.String("base_currency").MinLen(3).MaxLen(3).Immutable(),
		field.String("quote_currency").MinLen(3).MaxLen(3).Immutable(),
		field.String("base_rate").NotEmpty().MaxLen(40).Immutable(),
		field.Int64("margin_bps").Immutable(),
		field.String("rate").NotEmpty().MaxLen(40).Immutable(),
		field.String("rate_source").NotEmpty().MaxLen(64).Immutable(),
		field.Time("rate_fetched_at").Immutable().SchemaType(datetime6),
		field.Time("expires_at").Immutable().SchemaType(datetime6),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (FxQuote) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "id")}
}

// Policy implements ent.Schema.
func (FxQuote) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (FxQuote) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
