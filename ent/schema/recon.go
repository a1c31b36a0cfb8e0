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

// ReconciliationRun is the reconciliation of one connector's settlement
// report for one business day (UTC) against Strait's records
// (payments/recon). There is one per connector and day: a re-run walks the
// report again into the same run. Operators only.
type ReconciliationRun struct{ ent.Schema }

// Mixin implements ent.Schema.
func (ReconciliationRun) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rcn"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (ReconciliationRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("connector").NotEmpty().MaxLen(64).Immutable(),
		field.String("business_date").MinLen(10).MaxLen(10).Immutable(),
		field.Enum("status").Values("RUNNING", "SUCCEEDED", "FAILED").Default("RUNNING"),
		field.Int64("lines_read").Default(0).Comment("progress: report lines reconciled so far"),
		field.JSON("counts", map[string]int64{}).Optional().Comment("lines (and missing records) per class"),
		field.String("error").Default("").MaxLen(500),
		field.Time("lease_until").Optional().Nillable().SchemaType(datetime6).
			Comment("the replica running it holds it until then; another may take it over after"),
		field.Time("finished_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (ReconciliationRun) Indexes() []ent.Index {
	return []ent.Index{index.Fields("connector", "business_date").Unique()}
}

// Policy implements ent.Schema.
func (ReconciliationRun) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (ReconciliationRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// ReconciliationLine is one line of a settlement report as a run classified
// it, numbered from 0 in report order. A line is written once, with its
// page; it names the record it matched (our_type, our_id: a ledger source
// such as capture pay_…), which is how records the report lacks are found.
type ReconciliationLine struct{ ent.Schema }

// Fields implements ent.Schema. The id is an auto-increment integer: a
// day's report may hold a million lines, and they are never addressed alone.
func (ReconciliationLine) Fields() []ent.Field {
	return []ent.Field{
		field.String("run_id").MaxLen(40).Immutable(),
		field.Int64("line_no").Immutable(),
		field.String("line_key").MaxLen(191).Immutable().Comment("type and the channel's id of the movement: what a duplicate repeats"),
		field.String("class").MaxLen(24).Immutable(),
		field.String("our_type").Default("").MaxLen(32).Immutable(),
		field.String("our_id").Default("").MaxLen(64).Immutable(),
		field.String("currency").Default("").MaxLen(3).Immutable(),
		field.Int64("gross").Default(0).Immutable(),
		field.Int64("fee").Default(0).Immutable(),
		field.Int64("net").Default(0).Immutable(),
	}
}

// Indexes implements ent.Schema.
func (ReconciliationLine) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("run_id", "line_no").Unique(),
		index.Fields("run_id", "line_key"),
		index.Fields("run_id", "our_type", "our_id"),
	}
}

// Policy implements ent.Schema.
func (ReconciliationLine) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()},
	}
}

// Annotations implements ent.Schema.
func (ReconciliationLine) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Discrepancy is a difference a reconciliation run found between a
// channel's report and Strait's records, open until an operator resolves
// it with a reason and, optionally, an adjusting ledger entry.
type Discrepancy struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Discrepancy) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dsc"), TimeMixin{}}
}

// Fields implements ent.Schema.
func (Discrepancy) Fields() []ent.Field {
	return []ent.Field{
		field.String("run_id").MaxLen(40).Immutable(),
		field.String("connector").MaxLen(64).Immutable(),
		field.String("business_date").MinLen(10).MaxLen(10).Immutable(),
		field.String("key").MaxLen(191).Immutable().Comment("line:<n> for a report line, ours:<type>:<id> for a record the report lacks"),
		field.String("kind").MaxLen(24).Immutable(),
		field.Int64("line_no").Optional().Nillable().Immutable(),
		field.String("line_key").Default("").MaxLen(191).Immutable(),
		field.String("our_type").Default("").MaxLen(32).Immutable(),
		field.String("our_id").Default("").MaxLen(64).Immutable(),
		field.String("expected_currency").Default("").MaxLen(3).Immutable(),
		field.Int64("expected_gross").Default(0).Immutable(),
		field.Int64("expected_fee").Default(0).Immutable(),
		field.String("reported_currency").Default("").MaxLen(3).Immutable(),
		field.Int64("reported_gross").Default(0).Immutable(),
		field.Int64("reported_fee").Default(0).Immutable(),
		field.Int64("reported_net").Default(0).Immutable(),
		field.String("detail").Default("").MaxLen(500).Immutable(),
		field.Enum("status").Values("OPEN", "RESOLVED").Default("OPEN"),
		field.String("resolution").Default("").MaxLen(500),
		field.String("resolved_by").Default("").MaxLen(200),
		field.Time("resolved_at").Optional().Nillable().SchemaType(datetime6),
		field.String("adjustment_entry_id").Default("").MaxLen(40),
	}
}

// Indexes implements ent.Schema.
func (Discrepancy) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("run_id", "key").Unique(),
		index.Fields("status", "id"),
		index.Fields("connector", "business_date"),
	}
}

// Policy implements ent.Schema.
func (Discrepancy) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyUnlessPrivileged()},
		Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()},
	}
}

// Annotations implements ent.Schema.
func (Discrepancy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
