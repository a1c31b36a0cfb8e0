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
// replayed byte for byte to every retry. payments/idempotency owns it.
type IdempotencyRecord struct{ ent.Schema }

// Mixin implements ent.Schema. The tenant column is the key's scope: the
// merchant the caller acts for, or "platform" for operators acting for none.
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
		// The serialized response, at most 1 MiB: a mutation's answer is a few
		// KiB, and a larger one is released rather than stored.
		field.Bytes("response").Optional().MaxLen(1 << 20),
		// Until then the record is held by the request that claimed it; after
		// it, a retry takes the record over (the holder is presumed dead).
		field.Time("locked_until").SchemaType(datetime6),
		// How many times the request started executing: 1, plus one per take
		// over. Complete and Release compare it, so a holder whose lock was
		// taken over cannot overwrite the new holder's outcome.
		field.Int("attempts").Default(1).Positive(),
	}
}

// Indexes implements ent.Schema.
func (IdempotencyRecord) Indexes() []ent.Index {
	return []ent.Index{
		// Keys are scoped per merchant, as Stripe scopes them per account; the
		// unique index decides which of concurrent duplicates runs.
		index.Fields("merchant_id", "key").Unique(),
		// The janitor deletes by age.
		index.Fields("created_at"),
	}
}

// Annotations implements ent.Schema.
func (IdempotencyRecord) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
