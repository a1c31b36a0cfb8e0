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

// JournalEntry is one posted movement of money: postings that balance per
// currency, recorded once for their source (source_type, source_id unique
// together). posting_hash fingerprints the postings so a repost of the source
// is told apart from a replay. Entries are append-only. Operators read them
// all; a merchant reads those it has a posting in, and of each only its own
// postings.
type JournalEntry struct{ ent.Schema }

// Mixin implements ent.Schema.
func (JournalEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("jen")}
}

// Fields implements ent.Schema.
func (JournalEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("source_type").NotEmpty().MaxLen(32).Immutable(),
		field.String("source_id").NotEmpty().MaxLen(191).Immutable(),
		field.String("description").Default("").MaxLen(255).Immutable(),
		field.String("reference").Default("").MaxLen(40).Immutable().
			Comment("what priced or authorized the movement: the FX quote of a conversion"),
		field.Time("effective_at").Immutable().SchemaType(datetime6),
		// original_effective_at is the effective time the entry was posted
		// with when that fell in a closed day: effective_at moved to the
		// next open day (payments/ledger/close.go). Null otherwise.
		field.Time("original_effective_at").Optional().Nillable().Immutable().SchemaType(datetime6),
		field.String("posting_hash").MinLen(64).MaxLen(64).Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6),
	}
}

// Edges implements ent.Schema.
func (JournalEntry) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("postings", Posting.Type),
	}
}

// Indexes implements ent.Schema.
func (JournalEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("source_type", "source_id").Unique(),
		index.Fields("effective_at"),
	}
}

// Policy implements ent.Schema.
func (JournalEntry) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.FilterEntriesByPostings()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()},
	}
}

// Annotations implements ent.Schema.
func (JournalEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
