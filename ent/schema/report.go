package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/rule"
)

// ReportRollup is one hour (UTC) of a merchant's activity in one currency,
// through one connector, by one payment method, or (Total) in one
// currency whatever the connector and method: the counts and sums that
// merchantReport and operatorReport add up (payments/reports). Only the
// rollup consumer writes it, once per event; merchants read their own rows.
//
// Its ID is its natural key, merchant/T|D/hour/currency[/connector/method]
// (payments/reports.RollupID), so that on MySQL, where the primary key is
// the clustered index, a merchant's range of hours is one sequential read
// of the rows themselves, and a report by day reads only the Total rows.
type ReportRollup struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ReportRollup) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields implements ent.Schema. Amounts are minor units of currency.
func (ReportRollup) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(191).Immutable(),
		field.Bool("total").Default(false).Immutable().Comment("every connector and method of the hour and currency"),
		field.Time("hour").Immutable().SchemaType(datetime6).Comment("the hour's start, UTC"),
		field.String("currency").Immutable().MaxLen(3),
		field.String("connector").Default("").Immutable().MaxLen(64),
		field.String("method").Default("").Immutable().MaxLen(32),
		field.Int64("payments").Default(0).Comment("payments first seen (confirmed) in the hour"),
		field.Int64("succeeded").Default(0),
		field.Int64("failed").Default(0).Comment("payments that ended failed"),
		field.Int64("authorized").Default(0).Comment("authorizations approved"),
		field.Int64("declined").Default(0).Comment("attempts declined or failed"),
		field.Int64("refunds").Default(0).Comment("refunds that succeeded"),
		field.Int64("disputes").Default(0).Comment("disputes opened"),
		field.Int64("gross").Default(0).Comment("captured"),
		field.Int64("fees").Default(0).Comment("connector fees taken at capture, less those refunds reversed"),
		field.Int64("refunded").Default(0),
		field.Int64("disputed").Default(0),
	}
}

// Indexes implements ent.Schema.
func (ReportRollup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("total", "hour"), // the operator's report across merchants
	}
}

// Policy implements ent.Schema: only the rollup consumer (Strait itself)
// writes rollups.
func (ReportRollup) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ReportRollup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// ReportMark records what the rollup consumer has counted: an event's ID,
// or a fact counted once per object ("pay_…:seen"), written in the
// transaction that adds it to the rollups, so nothing counts twice.
type ReportMark struct{ ent.Schema }

// Fields implements ent.Schema.
func (ReportMark) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(64).Immutable(),
	}
}

// Policy implements ent.Schema: Strait's own bookkeeping.
func (ReportMark) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ReportMark) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// ReportCursor is how far a consumer of the outbox has read: the seq of
// the last event it applied, moved in the transaction that applies them.
type ReportCursor struct{ ent.Schema }

// Fields implements ent.Schema. The ID is the consumer's name.
func (ReportCursor) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(64).Immutable(),
		field.Int64("seq").Default(0),
	}
}

// Policy implements ent.Schema: Strait's own bookkeeping.
func (ReportCursor) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ReportCursor) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
