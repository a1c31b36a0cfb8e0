package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
)

// RiskRule is one operator-edited risk rule (payments/risk.Rule) stored as
// data. Rules are platform-wide configuration: only operators and Strait read
// or write them, and every change is audit-logged.
type RiskRule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RiskRule) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rsk"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (RiskRule) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(64).Unique().Immutable().Comment("the operator's rule id, e.g. usd-amount-limit"),
		field.String("kind").NotEmpty().MaxLen(32),
		field.String("tier").Default("").MaxLen(32).Comment(`"" for a global rule`),
		field.String("action").NotEmpty().MaxLen(16),
		field.Bool("enabled").Default(true),
		field.Int("score").Default(0),
		field.String("description").Default("").MaxLen(500),
		field.JSON("params", map[string]any{}).Optional().Annotations(entgql.Skip()),
	}
}

// Policy implements ent.Schema.
func (RiskRule) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessPrivileged()},
	}
}

// Annotations implements ent.Schema.
func (RiskRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
