package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/straitpay/strait/vocab/sessionstatus"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// CheckoutSession is one buyer's checkout: what is being bought, for how much,
// and how the merchant wants it captured. A cashier token is scoped to one.
//
// amount is what the buyer pays now: the merchant's price less amount_discount
// (a coupon), so the original price is amount + amount_discount, exactly.
type CheckoutSession struct{ ent.Schema }

// Mixin implements ent.Schema.
func (CheckoutSession) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cs"), TimeMixin{}, TenantMixin{CashierColumn: "id"}}
}

// Fields implements ent.Schema.
func (CheckoutSession) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("amount").Annotations(entgql.Skip(), inCurrency),
		field.String("currency").MaxLen(3).Annotations(entgql.Skip()),
		field.String("merchant_reference").Default("").MaxLen(128),
		field.String("customer_id").Optional().MaxLen(40),
		field.Enum("capture_method").Values("AUTOMATIC", "MANUAL").Default("AUTOMATIC"),
		// amount_discount is what the applied coupon takes off; 0 without one.
		field.Int64("amount_discount").Default(0).Annotations(entgql.Skip(), inCurrency),
		field.String("coupon_id").Optional().Nillable().MaxLen(40).Annotations(entgql.Skip()),
		field.Strings("allowed_methods").Optional().Annotations(entgql.Skip()),
		field.String("return_url").Default("").MaxLen(2048),
		field.Enum("status").GoType(sessionstatus.Status("")).Default(string(sessionstatus.Open)),
		field.Time("expires_at").SchemaType(datetime6),
		field.JSON("metadata", map[string]string{}).Optional().Annotations(entgql.Skip()),
		// The buyer's country and currency drive the methods preview and the
		// price shown in the buyer's currency.
		field.String("buyer_country").Default("").MaxLen(2),
		field.String("buyer_currency").Default("").MaxLen(3),
		// fx_quote_id is the quote (buyer currency → session currency) locked for
		// the buyer price; replaced when it expires while the session is open.
		field.String("fx_quote_id").Optional().Nillable().MaxLen(40).Annotations(entgql.Skip()),
		// An idempotency key makes creation happen once: a retry with the same key
		// and request returns the first session.
		field.String("idempotency_key").Optional().Nillable().MaxLen(255).Immutable().Annotations(entgql.Skip()),
		field.String("request_hash").Default("").MaxLen(64).Immutable().Annotations(entgql.Skip()),
		// Where the goods go, as the merchant gave it (line1, line2, city,
		// state, postal_code, country): dispute evidence. Its payments
		// keep only a hash (payment.shipping_address_hash).
		field.JSON("shipping_address", map[string]string{}).Optional().Annotations(entgql.Skip()),
	}
}

// Edges implements ent.Schema.
func (CheckoutSession) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
		edge.To("payments", Payment.Type).Annotations(entgql.RelayConnection()),
		edge.To("coupon", Coupon.Type).Field("coupon_id").Unique().Annotations(entgql.Skip()),
	}
}

// Indexes implements ent.Schema.
func (CheckoutSession) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("merchant_id", "created_at"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
		// The expiry janitor's scan: open sessions past their expiry.
		index.Fields("status", "expires_at"),
	}
}

// Annotations implements ent.Schema.
func (CheckoutSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
