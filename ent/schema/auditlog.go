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

// AuditLog records every privileged action: who did what to which object, from
// where. Rows are append-only; platform actions carry no merchant.
type AuditLog struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AuditLog) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("aud"), TenantMixin{Optional: true}}
}

// Fields implements ent.Schema.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor_kind").NotEmpty().MaxLen(32).Immutable(),
		field.String("actor_id").NotEmpty().MaxLen(64).Immutable(),
		field.String("action").NotEmpty().MaxLen(64).Immutable(),
		field.String("target_type").Default("").MaxLen(32).Immutable(),
		field.String("target_id").Default("").MaxLen(40).Immutable(),
		field.String("request_id").Default("").MaxLen(64).Immutable(),
		field.String("remote_addr").Default("").MaxLen(64).Immutable(),
		field.JSON("details", map[string]string{}).Optional().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "id")}
}

// Policy implements ent.Schema.
func (AuditLog) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
