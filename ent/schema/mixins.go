package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/ent/schema/rule"
)

// datetime6 stores timestamps with microseconds on MySQL/MariaDB, where ent's
// default `timestamp` has second precision and ends in 2038.
var datetime6 = map[string]string{dialect.MySQL: "datetime(6)"}

// TimeMixin adds created_at and updated_at.
type TimeMixin struct{ mixin.Schema }

// Fields implements ent.Mixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(now).Immutable().SchemaType(datetime6).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(now).UpdateDefault(now).SchemaType(datetime6),
	}
}

// now is the ent default for timestamps, truncated to the microsecond so what
// is written equals what is read back on every database.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// TenantMixin makes an entity belong to one merchant. Its policy lets operators
// and the system see every row, confines merchant principals (users, API keys,
// cashiers) to their own merchant's rows on every query, update and delete, and
// stamps creates with the viewer's merchant. Optional tenancy (audit logs,
// events) allows platform rows with no merchant, which only privileged viewers see.
type TenantMixin struct {
	mixin.Schema
	Optional bool
	// CashierColumn is the column a cashier token's checkout session must match
	// for the cashier to read a row; "" keeps cashiers out entirely.
	CashierColumn string
}

// Fields implements ent.Mixin.
func (m TenantMixin) Fields() []ent.Field {
	f := field.String("merchant_id").Immutable().MaxLen(40).
		Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput, entgql.SkipWhereInput))
	if m.Optional {
		f = f.Optional()
	} else {
		f = f.NotEmpty()
	}
	return []ent.Field{f}
}

// Indexes implements ent.Mixin.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("merchant_id")}
}

// Policy implements ent.Mixin.
func (m TenantMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyAnonymous(),
						rule.FilterByColumn("merchant_id", m.CashierColumn),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyAnonymous(),
						rule.FilterByColumn("merchant_id", m.CashierColumn),
		},
	}
}
