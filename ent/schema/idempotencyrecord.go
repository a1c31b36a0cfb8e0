package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// IdempotencyRecord remembers a money-moving request by its idempotency key:
// the request's fingerprint, whether it is still running, and the first answer,
// replayed byte for byte to every retry.
type IdempotencyRecord struct{ ent.Schema }

// Mixin implements ent.Schema.
func (IdempotencyRecord) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("idem"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (IdempotencyRecord) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(255).Immutable(),
		field.String("operation").NotEmpty().MaxLen(64).Immutable(),
		field.String("request_hash").NotEmpty().MaxLen(64).Immutable(),
		field.Enum("state").Values("IN_PROGRESS", "COMPLETED").Default("IN_PROGRESS"),
		field.Bytes("response").Optional().MaxLen(1 << 20),
		field.Time("locked_until").SchemaType(datetime6),
		field.Time("expires_at").SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (IdempotencyRecord) Indexes() []ent.Index {
	return []ent.Index{
		// Keys are scoped per merchant, as Stripe scopes them per account.
		index.Fields("merchant_id", "key").Unique(),
		index.Fields("expires_at"),
	}
}

// Annotations implements ent.Schema.
func (IdempotencyRecord) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
