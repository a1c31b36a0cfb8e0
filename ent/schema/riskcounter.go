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

// RiskCounter is one event counted by risk velocity and daily limits: an
// attempt (value 1) or an authorized amount, under an opaque key built by the
// risk engine (dimension, value, currency). Rows older than the longest window
// are deleted by the janitor.
type RiskCounter struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RiskCounter) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rkc")}
}

// Fields implements ent.Schema.
func (RiskCounter) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(191).Immutable(),
		field.Time("at").Immutable().SchemaType(datetime6),
		field.Int64("value").Immutable(),
	}
}

// Indexes implements ent.Schema.
func (RiskCounter) Indexes() []ent.Index {
	return []ent.Index{index.Fields("key", "at"), index.Fields("at")}
}

// Policy implements ent.Schema: counters are Strait's own bookkeeping.
func (RiskCounter) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (RiskCounter) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
