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
	"github.com/straitpay/strait/vocab/payoutstatus"
)

// BankAccount is a merchant's account that payouts go to
// (payments/payouts). It keeps only what a bank needs to pay it: the holder,
// the country and currency, and the IBAN or the account number with its
// routing code; the API shows the last four characters. It is verified by
// two micro-deposits before any payout may use it.
type BankAccount struct{ ent.Schema }

// Mixin implements ent.Schema.
func (BankAccount) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("bac"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (BankAccount) Fields() []ent.Field {
	return []ent.Field{
		field.String("country").MinLen(2).MaxLen(2).Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.String("holder_name").NotEmpty().MaxLen(140).Immutable(),
		field.String("number").NotEmpty().MaxLen(34).Immutable().Sensitive().
			Comment("the IBAN (no spaces, upper case) or the account number"),
		field.String("routing").Default("").MaxLen(32).Immutable().
			Comment("the routing or bank code; empty for an IBAN"),
		field.String("last4").MinLen(4).MaxLen(4).Immutable(),
		field.String("fingerprint").MinLen(64).MaxLen(64).Immutable().
			Comment("SHA-256 of country, routing and number: one merchant adds an account once"),
		field.Enum("status").Values("PENDING_VERIFICATION", "VERIFIED", "VERIFICATION_FAILED").Default("PENDING_VERIFICATION"),
		field.String("connector").NotEmpty().MaxLen(64).Immutable().Comment("the bank connector that sent the micro-deposits"),
		field.JSON("deposits", []int64{}).Optional().Sensitive().
			Comment("the two micro-deposits, in minor units of currency; never shown"),
		field.Int("verify_attempts").Default(0).NonNegative(),
		field.String("failure_reason").Default("").MaxLen(200),
	}
}

// Indexes implements ent.Schema.
func (BankAccount) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "fingerprint").Unique()}
}

// Policy implements ent.Schema.
func (BankAccount) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (BankAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Payout sends a merchant's available funds to one of its verified bank
// accounts through the bank connector (payments/payouts). amount is what
// the account receives, in its currency; source_amount what left the
// merchant's available balance, in source_currency (the two differ when a
// locked FX quote converted it).
type Payout struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Payout) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("po"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Payout) Fields() []ent.Field {
	return []ent.Field{
		field.String("bank_account_id").Immutable().MaxLen(40),
		field.Int64("amount").Immutable(),
		field.String("currency").MinLen(3).MaxLen(3).Immutable(),
		field.Int64("source_amount").Immutable(),
		field.String("source_currency").MinLen(3).MaxLen(3).Immutable(),
		field.String("fx_quote_id").Default("").MaxLen(40).Immutable(),
		field.Enum("status").GoType(payoutstatus.Status("")).Default(string(payoutstatus.Pending)),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(128).
			Comment("the merchant's key, or schedule:<day> for a scheduled payout: a request made again finds this payout"),
		field.String("description").Default("").MaxLen(200).Immutable(),
		field.String("connector").NotEmpty().MaxLen(64).Immutable(),
		field.String("connector_reference").Default("").MaxLen(128),
		field.String("failure_code").Default("").MaxLen(64),
		field.Time("send_at").SchemaType(datetime6).Immutable().Comment("not sent to the bank before this; cancelable until sent"),
		field.Time("submitted_at").Optional().Nillable().SchemaType(datetime6).
			Comment("when the bank call was first made: from then on it is never canceled, and an unknown answer is asked again with the same key"),
		field.Time("next_check_at").Optional().Nillable().SchemaType(datetime6).
			Comment("when a pending payout is next sent or asked about; nil once the bank accepted or answered"),
	}
}

// Indexes implements ent.Schema.
func (Payout) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "idempotency_key").Unique(),
		index.Fields("merchant_id", "id"),
		index.Fields("next_check_at"),
		index.Fields("connector", "connector_reference"),
	}
}

// Policy implements ent.Schema.
func (Payout) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (Payout) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// PayoutSchedule pays a merchant's whole available balance in currency to
// a bank account every day or every week (on weekday), when it is at least
// minimum; next_run_at is claimed by the leased scheduler like settlement's.
type PayoutSchedule struct{ ent.Schema }

// Mixin implements ent.Schema.
func (PayoutSchedule) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("psc"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (PayoutSchedule) Fields() []ent.Field {
	return []ent.Field{
		field.String("bank_account_id").MaxLen(40),
		field.String("currency").MinLen(3).MaxLen(3),
		field.Enum("interval").Values("DAILY", "WEEKLY"),
		field.Int("weekday").Default(1).Min(0).Max(6).Comment("0 Sunday … 6 Saturday, for WEEKLY"),
		field.Int64("minimum").Default(0).NonNegative(),
		field.Bool("enabled").Default(true),
		field.Time("next_run_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (PayoutSchedule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id").Unique(), index.Fields("next_run_at")}
}

// Policy implements ent.Schema.
func (PayoutSchedule) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (PayoutSchedule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
