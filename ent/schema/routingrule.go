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

// RoutingRule is one operator routing rule (payments/routing.Rule): a
// priority override or a volume split for the payments it matches. Only
// operators and Strait read or write them; every change is audit-logged.
type RoutingRule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RoutingRule) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rtr"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (RoutingRule) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(64).Unique().Immutable().Comment("the operator's rule id"),
		field.Int("priority").Default(0),
		field.Bool("enabled").Default(true),
		field.JSON("match", map[string]any{}).Optional().Annotations(entgql.Skip()),
		field.Strings("prefer").Optional().Annotations(entgql.Skip()),
		field.JSON("split", []map[string]any{}).Optional().Annotations(entgql.Skip()),
	}
}

// Policy implements ent.Schema.
func (RoutingRule) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessPrivileged()},
	}
}

// Annotations implements ent.Schema.
func (RoutingRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
