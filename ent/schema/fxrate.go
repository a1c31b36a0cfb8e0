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

// FxRate is a mid-market rate as a source reported it: how many units of quote
// one unit of base buys, as an exact decimal string. Rates are history: each
// refresh appends rows, the newest per pair is the current one.
type FxRate struct{ ent.Schema }

// Mixin implements ent.Schema.
func (FxRate) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fxr")}
}

// Fields implements ent.Schema.
func (FxRate) Fields() []ent.Field {
	return []ent.Field{
		field.String("base").MinLen(3).MaxLen(3).Immutable(),
		field.String("quote").MinLen(3).MaxLen(3).Immutable(),
		field.String("rate").NotEmpty().MaxLen(40).Immutable(),
		field.String("source").NotEmpty().MaxLen(64).Immutable(),
		field.Time("fetched_at").Immutable().SchemaType(datetime6),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (FxRate) Indexes() []ent.Index {
	return []ent.Index{index.Fields("base", "quote", "fetched_at")}
}

// Policy implements ent.Schema.
func (FxRate) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (FxRate) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
