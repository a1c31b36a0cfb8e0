package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/straitpay/strait/ent/schema/pulid"
)

// WebhookEndpoint is a merchant's URL that receives its events, signed with
// Standard Webhooks signatures (payments/events). A rotated secret keeps
// signing beside the new one until previous_secret_expires_at.
type WebhookEndpoint struct{ ent.Schema }

// Mixin implements ent.Schema.
func (WebhookEndpoint) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("we"), TimeMixin{}, TenantMixin{}}
}

// Fields implements ent.Schema.
func (WebhookEndpoint) Fields() []ent.Field {
	return []ent.Field{
		field.String("url").NotEmpty().MaxLen(2048),
		field.String("description").Default("").MaxLen(200),
		// The event types sent; empty sends every type.
		field.Strings("event_types").Optional(),
		field.Enum("status").Values("ENABLED", "DISABLED").Default("ENABLED"),
		field.String("disabled_reason").Default("").MaxLen(200),
		// whsec_… secrets: the receiver needs them in clear to verify, so
		// Strait keeps them to sign, sealed under the vault's key ring
		// ("sealed:v1:…", payments/events secrets.go); never shown after
		// creation or rotation. A row written before sealing holds its
		// secret in clear until the start-up sweep seals it.
		field.String("secret").Sensitive().NotEmpty().MaxLen(400).Annotations(entgql.Skip()),
		field.String("previous_secret").Sensitive().Optional().MaxLen(400).Annotations(entgql.Skip()),
		field.Time("previous_secret_expires_at").Optional().Nillable().SchemaType(datetime6),
	}
}

// Indexes implements ent.Schema.
func (WebhookEndpoint) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id", "status", "id")}
}

// Annotations implements ent.Schema.
func (WebhookEndpoint) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
