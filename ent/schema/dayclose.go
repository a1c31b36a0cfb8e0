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

// LedgerCutoff is the ledger's one closed-through mark (id "ledger"): no
// entry may take effect before closed_through. Every posting transaction
// reads it with a shared row lock, and a day-end close moves it under an
// exclusive one, so no entry commits into a day while it closes
// (payments/ledger/close.go).
type LedgerCutoff struct{ ent.Schema }

// Fields implements ent.Schema. The ID is the ledger's name.
func (LedgerCutoff) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(32).Immutable(),
		field.Time("closed_through").SchemaType(datetime6),
	}
}

// Policy implements ent.Schema: only Strait itself reads or moves the mark.
func (LedgerCutoff) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (LedgerCutoff) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// DayClose is one closed business day of the ledger: the day in its
// timezone and the UTC interval it covered, [starts_at, ends_at). Closes
// follow each other day by day; each one's starts_at is the previous one's
// ends_at. Written once, never changed.
type DayClose struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DayClose) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dcl")}
}

// Fields implements ent.Schema.
func (DayClose) Fields() []ent.Field {
	return []ent.Field{
		field.String("day").NotEmpty().MaxLen(10).Immutable().Comment("YYYY-MM-DD in timezone"),
		field.String("timezone").NotEmpty().MaxLen(64).Immutable(),
		field.Time("starts_at").Immutable().SchemaType(datetime6),
		field.Time("ends_at").Immutable().SchemaType(datetime6),
		field.Int("entries").Immutable().Comment("journal entries effective in the interval"),
		field.Int("accounts").Immutable().Comment("statement lines frozen"),
		field.Time("closed_at").Immutable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (DayClose) Indexes() []ent.Index {
	return []ent.Index{index.Fields("day").Unique(), index.Fields("ends_at")}
}

// Policy implements ent.Schema: operators read closes; merchants read their
// own statement lines (DayCloseStatement) through the ledger.
func (DayClose) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()},
	}
}

// Annotations implements ent.Schema.
func (DayClose) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// DayCloseBalance is one currency of a closed day's frozen trial balance:
// the closing balances of every account (debits are the negative ones, as
// a positive amount) and the day's postings.
type DayCloseBalance struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DayCloseBalance) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dcb")}
}

// Fields implements ent.Schema.
func (DayCloseBalance) Fields() []ent.Field {
	return []ent.Field{
		field.String("close_id").NotEmpty().MaxLen(pulid.MaxLen).Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int("accounts").Immutable(),
		field.Int64("debits").Immutable().Annotations(inCurrency),
		field.Int64("credits").Immutable().Annotations(inCurrency),
		field.Int64("day_debits").Immutable().Annotations(inCurrency),
		field.Int64("day_credits").Immutable().Annotations(inCurrency),
	}
}

// Indexes implements ent.Schema.
func (DayCloseBalance) Indexes() []ent.Index {
	return []ent.Index{index.Fields("close_id", "currency").Unique()}
}

// Policy implements ent.Schema.
func (DayCloseBalance) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()},
	}
}

// Annotations implements ent.Schema.
func (DayCloseBalance) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// DayCloseStatement is one account's frozen statement for a closed day:
// its balance when the day opened, the day's debits and credits, and its
// closing balance. merchant_id is the account's merchant, so a merchant
// reads only its own lines.
type DayCloseStatement struct{ ent.Schema }

// Mixin implements ent.Schema.
func (DayCloseStatement) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dcs"), TenantMixin{Optional: true}}
}

// Fields implements ent.Schema.
func (DayCloseStatement) Fields() []ent.Field {
	return []ent.Field{
		field.String("close_id").NotEmpty().MaxLen(pulid.MaxLen).Immutable(),
		field.String("account_id").NotEmpty().MaxLen(pulid.MaxLen).Immutable(),
		field.String("owner_type").NotEmpty().MaxLen(16).Immutable(),
		field.String("owner_id").NotEmpty().MaxLen(64).Immutable(),
		field.String("kind").NotEmpty().MaxLen(16).Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int64("opening").Immutable().Annotations(inCurrency),
		field.Int64("debits").Immutable().Annotations(inCurrency),
		field.Int64("credits").Immutable().Annotations(inCurrency),
		field.Int64("closing").Immutable().Annotations(inCurrency),
		field.Int("postings").Immutable(),
	}
}

// Indexes implements ent.Schema.
func (DayCloseStatement) Indexes() []ent.Index {
	return []ent.Index{index.Fields("close_id", "account_id").Unique(), index.Fields("merchant_id", "close_id")}
}

// Policy implements ent.Schema.
func (DayCloseStatement) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (DayCloseStatement) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
