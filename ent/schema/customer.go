package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// Customer is a merchant's buyer, who may save cards and sign agreements.
type Customer struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Customer) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cus"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Customer) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").Default("").MaxLen(254),
		field.String("name").Default("").MaxLen(200),
		field.String("phone").Default("").MaxLen(32),
		field.String("country").Default("").MaxLen(2),
		field.String("merchant_reference").Default("").MaxLen(128),
		field.JSON("metadata", map[string]string{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges implements ent.Schema.
func (Customer) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		// The customer's cards in the vault; GraphQL shows the saved ones as
		// Customer.savedCards (masked), loaded for a whole page at once.
		edge.To("vault_cards", VaultCard.Type).Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (Customer) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "email")}
}

// Annotations implements ent.Schema.
func (Customer) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
