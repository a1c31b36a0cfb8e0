package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// APIKey lets a merchant's server call Strait. The secret is shown once at
// creation; only its SHA-256 digest is stored, with a short visible prefix so
// people can tell keys apart.
type APIKey struct{ ent.Schema }

// Mixin implements ent.Schema.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("key"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.String("prefix").NotEmpty().MaxLen(32).Immutable().Unique().
			Comment("the visible start of the secret, used to find the key"),
		field.Bytes("secret_hash").Sensitive().Immutable().MaxLen(64).
			Annotations(entgql.Skip()),
		field.String("created_by").Default("").MaxLen(64).Immutable(),
		field.Time("last_used_at").Optional().Nillable().SchemaType(datetime6),
		field.Time("expires_at").Optional().Nillable().SchemaType(datetime6),
		field.Time("revoked_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Edges implements ent.Schema.
func (APIKey) Edges() []ent.Edge { return []ent.Edge{merchantEdge()} }

// Indexes implements ent.Schema.
func (APIKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "created_at")}
}

// Annotations implements ent.Schema.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Type("APIKey")}
}
