package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/field"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
	"github.com/straitpay/strait/vocab/connectorterms"
)

// ConnectorSetting is the operator's configuration of one connector: whether
// routing may use it, what it costs per currency, and the amounts it takes per
// currency. The plugin's own configuration (URLs, secrets) stays in the
// manifest; this is what operators change at run time, and it outlives
// restarts. Settings belong to the platform: only operators and Strait read or
// write them.
type ConnectorSetting struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ConnectorSetting) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cns"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (ConnectorSetting) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(64).Unique().Immutable().Comment("the connector's name in the manifest"),
		field.Bool("enabled").Default(true),
		field.JSON("fees", []connectorterms.Fee{}).Optional().Annotations(entgql.Skip()),
		field.JSON("limits", []connectorterms.Limit{}).Optional().Annotations(entgql.Skip()),
	}
}

// Policy implements ent.Schema.
func (ConnectorSetting) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessPrivileged()},
	}
}
