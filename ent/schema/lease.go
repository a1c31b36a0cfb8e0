package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/straitpay/strait/ent/schema/rule"
)

// Lease names a job that one replica at a time may run (the outbox relay);
// the holder renews it before it expires, and another replica takes it over
// once it has. payments/events owns it.
type Lease struct{ ent.Schema }

// Fields implements ent.Schema. The ID is the job's name.
func (Lease) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(64).Immutable(),
		field.String("holder").NotEmpty().MaxLen(64),
		field.Time("expires_at").SchemaType(datetime6),
		// counter is the job's own sequence (the relay's last event seq),
		// advanced only by the holder, in the transaction that uses it.
		field.Int64("counter").Default(0),
	}
}

// Policy implements ent.Schema: only Strait itself reads or writes leases.
func (Lease) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (Lease) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
