package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/straitpay/strait/vocab/paymentstatus"
	"github.com/straitpay/strait/vocab/reviewstatus"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// Payment is the merchant's view of one payment, with the PaymentIntent-style
// states frontends know: REQUIRES_PAYMENT_METHOD → REQUIRES_ACTION → PROCESSING
// → REQUIRES_CAPTURE → SUCCEEDED, or CANCELED / FAILED. Amounts are int64 minor
// units of currency.
type Payment struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Payment) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pay"), TimeMixin{}, TenantMixin{CashierColumn: "checkout_session_id"}}
}

// Fields implements ent.Schema.
func (Payment) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("amount").Annotations(entgql.Skip(), inCurrency),
		field.String("currency").MaxLen(3).Annotations(entgql.Skip()),
		field.Int64("amount_capturable").Default(0).Annotations(entgql.Skip(), inCurrency),
		field.Int64("amount_captured").Default(0).Annotations(entgql.Skip(), inCurrency),
		field.Int64("amount_refunded").Default(0).Annotations(entgql.Skip(), inCurrency),
		field.Enum("status").
			GoType(paymentstatus.Status("")).
			Default(string(paymentstatus.RequiresPaymentMethod)).
			Annotations(entgql.OrderField("STATUS")),
		field.Enum("capture_method").Values("AUTOMATIC", "MANUAL").Default("AUTOMATIC"),
		field.String("payment_method_type").Default("").MaxLen(32),
		field.String("connector").Default("").MaxLen(64),
		field.String("description").Default("").MaxLen(1000),
		field.String("merchant_reference").Default("").MaxLen(128),
		field.String("checkout_session_id").Optional().MaxLen(40),
		field.String("customer_id").Optional().MaxLen(40),
		field.String("failure_code").Default("").MaxLen(64),
		field.String("failure_message").Default("").MaxLen(500),
		field.JSON("metadata", map[string]string{}).Optional().Annotations(entgql.Skip()),
		field.Time("canceled_at").Optional().Nillable().SchemaType(datetime6),
		field.String("agreement_id").Optional().MaxLen(40),
		field.String("idempotency_key").Optional().Nillable().Immutable().MaxLen(128).Annotations(entgql.Skip()).
			Comment("the merchant's key for a charge made without a cashier: a retried request finds this payment"),
		field.Int64("fee_amount").Default(0).Annotations(entgql.Skip(), inCurrency).
			Comment("the connector's fee taken at capture, in minor units; refunds reverse it pro rata"),
		field.Time("capture_before").Optional().Nillable().SchemaType(datetime6).
			Comment("end of the authorization window of a manual-capture payment"),
		field.JSON("next_action", map[string]any{}).Optional().Annotations(entgql.Skip()).
			Comment("what the buyer must do while REQUIRES_ACTION: 3-D Secure, redirect, QR code, bank transfer"),
		// A manual review: risk sent the payment to review, so it was
		// authorized without capture and waits for a person (operator or
		// merchant admin) to approve (capture) or reject (void) it. Shown
		// as Payment.review, hand-shaped in schema.graphql.
		field.Enum("review_status").GoType(reviewstatus.Status("")).Optional().Nillable().
			Annotations(entgql.Skip()).
			Comment("null when the payment was never sent to review"),
		field.String("review_reason").Default("").MaxLen(1000).Annotations(entgql.Skip()).
			Comment("why risk sent the payment to review: its rules' reasons"),
		field.Time("review_opened_at").Optional().Nillable().SchemaType(datetime6).Annotations(entgql.Skip()),
		field.Time("review_closed_at").Optional().Nillable().SchemaType(datetime6).Annotations(entgql.Skip()),
		field.String("review_closed_by").Default("").MaxLen(200).Annotations(entgql.Skip()).
			Comment("who closed the review, as kind:subject (operator:alice, merchant_user:usr_…, system:strait)"),
		field.String("review_close_note").Default("").MaxLen(500).Annotations(entgql.Skip()).
			Comment("why the review closed as it did: the person's words, or what the channel or an operation did"),
		// What the buyer's checkout showed of the buyer, kept as evidence
		// for disputes (Visa's Compelling Evidence 3.0: payments/disputes'
		// compelling.go). Written once, when the payment is first
		// confirmed through a checkout; empty when unknown. Tenant data
		// like the rest of the row: never shown to another merchant, and
		// not in the GraphQL Payment type.
		field.String("card_fingerprint").Default("").MaxLen(80).Annotations(entgql.Skip()).
			Comment("the vault's fingerprint of the card (HMAC of the PAN): the same card across payments"),
		field.String("buyer_ip").Default("").MaxLen(45).Annotations(entgql.Skip()).
			Comment("the client address of the cashier's confirm request, as text"),
		field.String("buyer_email").Default("").MaxLen(254).Annotations(entgql.Skip()).
			Comment("the buyer's email given at confirm, trimmed and lower-cased"),
		field.String("device_id_hash").Default("").MaxLen(64).Annotations(entgql.Skip()).
			Comment("SHA-256 (hex) of the device id the checkout sent"),
		field.String("shipping_address_hash").Default("").MaxLen(64).Annotations(entgql.Skip()).
			Comment("SHA-256 (hex) of the checkout session's shipping address, normalised"),
		// What the merchant's fee plan matches on (payments/settlement's
		// facts.go, docs/settlement.md): set when the payment is
		// confirmed, empty when unknown.
		field.String("card_scheme").Default("").MaxLen(32).Annotations(entgql.Skip()).
			Comment("the vault card's scheme (visa, mastercard, ...); empty for other methods"),
		field.String("region").Default("").MaxLen(16).Annotations(entgql.Skip()).
			Comment("domestic, intra_regional or international, from the card's (or buyer's) and the merchant's countries"),
	}
}

// Edges implements ent.Schema.
func (Payment) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("checkout_session", CheckoutSession.Type).Ref("payments").
			Field("checkout_session_id").Unique(),
		edge.To("customer", Customer.Type).Field("customer_id").Unique(),
		edge.To("attempts", PaymentAttempt.Type).Annotations(entgql.RelayConnection()),
		edge.To("refunds", Refund.Type).Annotations(entgql.RelayConnection()),
		edge.To("disputes", Dispute.Type).Annotations(entgql.RelayConnection()),
	}
}

// Indexes implements ent.Schema.
func (Payment) Indexes() []ent.Index {
	return []ent.Index{
		// Keyset pagination for a merchant's list, newest first, by id (time-ordered).
		index.Fields("merchant_id", "id"),
		index.Fields("merchant_id", "status", "id"),
		index.Fields("merchant_id", "merchant_reference"),
		index.Fields("merchant_id", "idempotency_key").Unique(),
		// The review queues: a merchant's, and every merchant's for operators.
		index.Fields("merchant_id", "review_status", "id"),
		index.Fields("review_status", "id"),
		// Compelling Evidence 3.0: the same card's earlier payments with
		// the merchant, by date.
		index.Fields("merchant_id", "card_fingerprint", "created_at"),
	}
}

// Annotations implements ent.Schema.
func (Payment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
