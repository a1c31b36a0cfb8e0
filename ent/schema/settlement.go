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

// FeePlan is one line of a merchant's MDR (merchant discount rate): what the
// platform charges the merchant for a payment of a method, card scheme and
// region ("" matches any). The most specific line wins
// (payments/settlement.FeeSchedule). Operators write fee plans; merchants
// read their own.
type FeePlan struct{ ent.Schema }

// Mixin implements ent.Schema.
func (FeePlan) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fpl"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (FeePlan) Fields() []ent.Field {
	return []ent.Field{
		field.String("payment_method_type").Default("").MaxLen(32),
		field.String("scheme").Default("").MaxLen(32),
		field.String("region").Default("").MaxLen(16),
		field.Int64("percent_bps").Default(0),
		field.Int64("fixed_amount").Default(0),
		field.String("fixed_currency").Default("").MaxLen(3),
		field.Int64("cross_border_bps").Default(0),
	}
}

// Indexes implements ent.Schema.
func (FeePlan) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "payment_method_type", "scheme", "region").Unique()}
}

// Policy implements ent.Schema.
func (FeePlan) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (FeePlan) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// SplitRule sends shares (basis points) of a merchant's fee or gross to
// partner accounts at settlement; rounding residue goes to residue_partner.
type SplitRule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SplitRule) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("spl"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (SplitRule) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(64),
		field.Enum("basis").Values("FEE", "GROSS"),
		field.JSON("shares", map[string]int64{}),
		field.String("residue_partner").NotEmpty().MaxLen(64),
	}
}

// Indexes implements ent.Schema.
func (SplitRule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "name").Unique()}
}

// Policy implements ent.Schema.
func (SplitRule) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (SplitRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// SettlementSchedule is a merchant's settlement terms: funds captured on a
// business day (in timezone) mature delay_days business days later. They
// settle in the merchant's settlement_currency.
type SettlementSchedule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SettlementSchedule) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sts"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (SettlementSchedule) Fields() []ent.Field {
	return []ent.Field{
		field.Int("delay_days").Default(2).NonNegative(),
		field.String("timezone").Default("UTC").MaxLen(64),
		field.Time("next_run_at").Optional().Nillable().SchemaType(datetime6).
			Comment("when the scheduler next runs this merchant; a replica claims the run by moving it past now"),
		field.Int64("reserve_bps").Default(0).Min(0).Max(10000).
			Comment("rolling reserve: the share of each day's settled net held in the merchant's reserve account"),
		field.Int("reserve_days").Default(0).Min(0).Max(365).Comment("rolling reserve: calendar days a day's reserve is held"),
	}
}

// Indexes implements ent.Schema.
func (SettlementSchedule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique(), index.Fields("next_run_at")}
}

// Policy implements ent.Schema.
func (SettlementSchedule) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (SettlementSchedule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// SettlementBatch is one settlement run of one merchant for one business
// day: the lines it settled (their totals are summed from the lines).
// Immutable once written; a second run of the same day finds it.
type SettlementBatch struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SettlementBatch) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("stb"), TenantMixin{}}
}

// Fields implements ent.Schema.
func (SettlementBatch) Fields() []ent.Field {
	return []ent.Field{
		field.String("business_date").MinLen(10).MaxLen(10).Immutable(),
		field.String("currency").MaxLen(3).Immutable().Comment("the settlement currency"),
		field.Int("line_count").Immutable(),
		field.JSON("conversions", []SettlementConversion{}).Optional().Immutable().Annotations(entgql.Skip()),
		field.JSON("reserve_held", map[string]int64{}).Optional().Immutable().Annotations(entgql.Skip()).
			Comment("rolling reserve held by this run, per capture currency"),
		field.String("reserve_release_on").Default("").MaxLen(10).Immutable().
			Comment("the business day whose run releases reserve_held"),
		field.JSON("reserve_released", map[string]int64{}).Optional().Immutable().Annotations(entgql.Skip()).
			Comment("earlier runs' reserves this run released, per currency"),
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6).Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes implements ent.Schema.
func (SettlementBatch) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "business_date").Unique()}
}

// Policy implements ent.Schema.
func (SettlementBatch) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (SettlementBatch) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}

// SettlementConversion is a batch's conversion of its net in one capture
// currency into the settlement currency, at a locked FX quote.
type SettlementConversion struct {
	QuoteID      string `json:"quote_id"`
	FromCurrency string `json:"from_currency"`
	From         int64  `json:"from"`
	ToCurrency   string `json:"to_currency"`
	To           int64  `json:"to"`
}

// SettlementLine is one capture or refund settled by a batch: its gross,
// the channel's cost taken at capture, the merchant's MDR, the partners'
// splits and the net moved to available, in the capture currency.
// source_key is unique, so a capture or refund settles once.
type SettlementLine struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SettlementLine) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("stl"), TenantMixin{}}
}

// Fields implements ent.Schema.
func (SettlementLine) Fields() []ent.Field {
	return []ent.Field{
		field.String("batch_id").Immutable().MaxLen(40),
		field.String("source_key").Immutable().MaxLen(100).Unique().
			Comment("the settled movement: capture:<payment>, refund:<refund> or refund_reversal:<refund>"),
		field.String("payment_id").Immutable().MaxLen(40),
		field.String("currency").Immutable().MaxLen(3).Annotations(entgql.Skip()),
		field.Int64("gross").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Int64("channel_fee").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Int64("mdr_fee").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Int64("split_amount").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Int64("net").Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Time("captured_at").Immutable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (SettlementLine) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "batch_id", "id")}
}

// Policy implements ent.Schema.
func (SettlementLine) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem(), rule.DenyUpdateDelete()}}
}

// Annotations implements ent.Schema.
func (SettlementLine) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput)}
}
