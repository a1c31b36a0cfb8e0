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

// Coupon is a merchant's discount code: a fixed amount or a percentage off,
// with optional limits on currency, minimum amount, validity window and how
// often it may be redeemed. times_redeemed counts redemptions; it only moves
// through a conditional UPDATE, so limits hold under concurrency.
type Coupon struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Coupon) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cpn"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (Coupon) Fields() []ent.Field {
	return []ent.Field{
		// code is stored upper-case; buyers type it in any case.
		field.String("code").NotEmpty().MaxLen(64).Immutable(),
		field.String("name").Default("").MaxLen(200),
		field.Enum("kind").Values("FIXED", "PERCENTAGE").Immutable(),
		field.Int64("amount_off").Optional().Nillable().Immutable().Annotations(entgql.Skip(), inCurrency),
		// percent_off_bps is in basis points: 1000 is 10 %.
		field.Int("percent_off_bps").Optional().Nillable().Immutable(),
		// currency restricts the coupon to sessions in it; "" takes any currency
		// (percentage coupons without a minimum amount only).
		field.String("currency").Default("").MaxLen(3).Immutable().Annotations(entgql.Skip()),
		field.Int64("minimum_amount").Optional().Nillable().Immutable().Annotations(entgql.Skip(), inCurrency),
		field.Int("max_redemptions").Optional().Nillable().Immutable(),
		field.Int("max_redemptions_per_customer").Optional().Nillable().Immutable(),
		field.Int("times_redeemed").Default(0),
		field.Time("valid_from").Optional().Nillable().Immutable().SchemaType(datetime6),
		field.Time("valid_until").Optional().Nillable().Immutable().SchemaType(datetime6),
		field.Bool("active").Default(true),
		// public coupons are offered to buyers in the cashier's list of
		// applicable coupons; the others work only when typed.
		field.Bool("public").Default(false),
	}
}

// Edges implements ent.Schema.
func (Coupon) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.To("redemptions", CouponRedemption.Type).Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (Coupon) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "code").Unique(),
		// The merchant's list, newest first (ids are time-ordered).
		index.Fields("merchant_id", "id"),
	}
}

// Annotations implements ent.Schema.
func (Coupon) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// CouponRedemption is one use of a coupon by a checkout session: counted when
// the pipeline confirms the session (before the channel call), and removed
// again if that payment fails, so a declined buyer may retry. A session
// redeems at most once.
type CouponRedemption struct{ ent.Schema }

// Mixin implements ent.Schema.
func (CouponRedemption) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cpr"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (CouponRedemption) Fields() []ent.Field {
	return []ent.Field{
		field.String("coupon_id").MaxLen(40).Immutable(),
		field.String("checkout_session_id").MaxLen(40).Immutable(),
		field.String("customer_id").Optional().Nillable().MaxLen(40).Immutable(),
		field.String("payment_id").Default("").MaxLen(40),
		field.Int64("amount_discount").Immutable().Annotations(inCurrency),
		field.String("currency").MaxLen(3).Immutable(),
	}
}

// Edges implements ent.Schema.
func (CouponRedemption) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("coupon", Coupon.Type).Ref("redemptions").Field("coupon_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (CouponRedemption) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("checkout_session_id").Unique(),
		// The per-customer limit counts a customer's redemptions of a coupon.
		index.Fields("coupon_id", "customer_id"),
		index.Fields("merchant_id", "id"),
	}
}

// Annotations implements ent.Schema.
func (CouponRedemption) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
