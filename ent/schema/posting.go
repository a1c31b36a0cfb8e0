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

// Posting moves a signed amount into (positive) or out of (negative) one ledger
// account as part of one journal entry. Postings are never updated or deleted.
// seq is the account's version after the posting (1, 2, 3, … per account, unique
// together with the account), giving statements a gap-free order;
// balance_after is the account's balance right after it. merchant_id is the
// account's merchant, so merchants read only their own postings.
type Posting struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Posting) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pst"), TenantMixin{Optional: true}}
}

// Fields implements ent.Schema.
func (Posting) Fields() []ent.Field {
	return []ent.Field{
		field.String("entry_id").NotEmpty().MaxLen(pulid.MaxLen).Immutable(),
		field.String("account_id").NotEmpty().MaxLen(pulid.MaxLen).Immutable(),
		field.Int64("amount").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().Annotations(entgql.Skip()),
		field.Int64("seq").Immutable().Annotations(entgql.OrderField("SEQ")),
		field.Int64("balance_after").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Time("effective_at").Immutable().SchemaType(datetime6),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
	}
}

// Edges implements ent.Schema.
func (Posting) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("entry", JournalEntry.Type).Ref("postings").Field("entry_id").Unique().Required().Immutable(),
		edge.From("account", LedgerAccount.Type).Ref("postings").Field("account_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (Posting) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "seq").Unique(),
		index.Fields("account_id", "effective_at"),
	}
}

// Policy implements ent.Schema.
func (Posting) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (Posting) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
