package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/rule"
)

// VaultCard is one card in the vault (payments/vault.Record): the details that
// are safe in clear (scheme, funding, country, BIN, last four, expiry,
// fingerprint) and the PAN sealed in an AES-GCM envelope (kek_id, wrapped_dek,
// nonce, ciphertext). The CVC is never stored. The id is the card token
// ("tok_…" or "card_…"). Only Strait itself writes these rows; merchants read
// their own (GraphQL shows them masked, through payments/vault types), cashier
// tokens none.
type VaultCard struct{ ent.Schema }

// Mixin implements ent.Schema.
func (VaultCard) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields implements ent.Schema.
func (VaultCard) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(40).Immutable(),
		field.String("customer_id").Optional().Nillable().MaxLen(40).Immutable(),
		field.Bool("saved").Default(false).Immutable(),
		field.String("scheme").MaxLen(16).Immutable(),
		field.String("funding").Default("").MaxLen(16).Immutable(),
		field.String("country").Default("").MaxLen(2).Immutable(),
		field.String("issuer").Default("").MaxLen(100).Immutable(),
		field.String("bin").Default("").MaxLen(8).Immutable(),
		field.String("last4").MaxLen(4).Immutable(),
		field.Int("pan_length").Immutable(),
		field.Int("exp_month").Immutable(),
		field.Int("exp_year").Immutable(),
		field.String("holder_name").Default("").MaxLen(200).Immutable(),
		field.String("fingerprint").MaxLen(80).Immutable(),
		// A one-time token ("tok_…") pays only the checkout session it was
		// made for, and only once: checkout_session_id is that session,
		// used_by the idempotency key of the confirm that used it (a
		// retry of that confirm may use it again, no other confirm may).
		field.String("checkout_session_id").Optional().Nillable().MaxLen(40).Immutable(),
		field.String("used_by").Optional().Nillable().MaxLen(128),
		// The envelope. Only kek_id and wrapped_dek change, when rotation
		// rewraps the data key.
		field.String("kek_id").MaxLen(32),
		field.Bytes("wrapped_dek").MaxLen(128).Sensitive(),
		field.Bytes("nonce").MaxLen(32).Immutable().Sensitive(),
		field.Bytes("ciphertext").MaxLen(128).Immutable().Sensitive(),
		field.Time("created_at").Immutable().SchemaType(datetime6),
	}
}

// Edges implements ent.Schema.
func (VaultCard) Edges() []ent.Edge {
	return []ent.Edge{
		merchantEdge(),
		edge.From("customer", Customer.Type).Ref("vault_cards").Field("customer_id").Unique().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (VaultCard) Indexes() []ent.Index {
	return []ent.Index{
		// A customer's saved cards, oldest first.
		index.Fields("merchant_id", "customer_id", "saved", "created_at"),
		// Dedupe and velocity by card.
		index.Fields("merchant_id", "fingerprint"),
	}
}

// Policy implements ent.Schema: on top of the tenant rules, only Strait itself
// (the vault, under the system viewer) writes.
func (VaultCard) Policy() ent.Policy {
	return privacy.Policy{Mutation: privacy.MutationPolicy{rule.DenyUnlessSystem()}}
}

// Annotations implements ent.Schema.
func (VaultCard) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
