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

// ChannelPosition is one connector's position in one currency: the
// operator's drift alert threshold, and what the last scheduled check saw
// (the channel's reported balance, the ledger's receivable, their drift,
// or the channel's error). alerting is whether the last check found the
// drift beyond the threshold, so an alert is raised once when it crosses,
// not at every check (payments/positions).
type ChannelPosition struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ChannelPosition) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cpo"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (ChannelPosition) Fields() []ent.Field {
	return []ent.Field{
		field.String("connector").NotEmpty().MaxLen(64).Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int64("threshold").Optional().Nillable().Annotations(inCurrency).
			Comment("the absolute drift, in minor units, beyond which an alert is raised; null: no alert"),
		field.Int64("reported").Default(0).Annotations(inCurrency),
		field.Int64("ledger").Default(0).Annotations(inCurrency),
		field.Int64("drift").Default(0).Annotations(inCurrency),
		field.String("error").Default("").MaxLen(255),
		field.Bool("alerting").Default(false),
		field.Time("checked_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (ChannelPosition) Indexes() []ent.Index {
	return []ent.Index{index.Fields("connector", "currency").Unique()}
}

// Policy implements ent.Schema: channel positions are the platform's, for
// operators only.
func (ChannelPosition) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ChannelPosition) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
