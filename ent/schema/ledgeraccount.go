package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/ent/schema/rule"
)

// LedgerAccount is one account of the double-entry ledger: an owner (merchant,
// platform, channel or partner), a kind and a currency, unique together. Its
// balance is maintained by the ledger under a row lock as postings are written,
// and always equals the sum of its postings; version counts them. Merchant
// accounts carry the merchant as tenant so merchants see only their own; other
// owners' accounts have no tenant and only operators see them.
type LedgerAccount struct{ ent.Schema }

// Mixin implements ent.Schema.
func (LedgerAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lac"), TimeMixin{}, TenantMixin{Optional: true}}
}

// Fields implements ent.Schema. Enum values are upper case, as GraphQL enums
// are; the ledger package maps its lower-case kinds onto them.
func (LedgerAccount) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("owner_type").Values("MERCHANT", "PLATFORM", "CHANNEL", "PARTNER").Immutable(),
		field.String("owner_id").NotEmpty().MaxLen(64).Immutable(),
		field.Enum("kind").Values("PENDING", "AVAILABLE", "RESERVE", "DISPUTE_HOLD", "RECEIVABLE", "FEES", "FX", "SUSPENSE", "IN_TRANSIT", "CASH").Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Bool("allow_negative").Default(false).Immutable(),
		field.Int64("balance").Default(0).Annotations(entgql.Skip(), inCurrency),
		field.Int64("version").Default(0).Annotations(entgql.Skip()),
	}
}

// Edges implements ent.Schema.
func (LedgerAccount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("postings", Posting.Type).Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (LedgerAccount) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_type", "owner_id", "kind", "currency").Unique(),
		index.Fields("merchant_id", "currency"),
	}
}

// Policy implements ent.Schema.
func (LedgerAccount) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (LedgerAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
