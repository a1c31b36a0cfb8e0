// Package rule holds the ent privacy rules that enforce tenant isolation in the
// data layer. They run on every query and mutation of every tenant-owned entity,
// so a resolver that forgets a check still cannot read or write another
// merchant's rows.
//
// The rules use only ent's generic interfaces (WhereP on queries and mutations),
// not generated code, so the schema package compiles before the first codegen.
package rule

import (
	"context"
	"reflect"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/vocab/viewer"
)

// wherer adds a storage-level predicate to a generated query or mutation.
type wherer interface {
	WhereP(...func(*sql.Selector))
}

// whereOf adapts a generated query or mutation to wherer. Every generated
// query and mutation has Where(...predicate.X), where predicate.X is a named
// func(*sql.Selector); reflection converts the predicate to that type, so the
// rules need no generated package (which would not exist before the first
// codegen, and would make the schema import its own output).
func whereOf(v any) (wherer, bool) {
	if w, ok := v.(wherer); ok {
		return w, true
	}
	m := reflect.ValueOf(v).MethodByName("Where")
	if !m.IsValid() || !m.Type().IsVariadic() || m.Type().NumIn() != 1 {
		return nil, false
	}
	predType := m.Type().In(0).Elem()
	if !reflect.TypeOf(func(*sql.Selector) {}).ConvertibleTo(predType) {
		return nil, false
	}
	return reflectWherer{where: m, predType: predType}, true
}

type reflectWherer struct {
	where    reflect.Value
	predType reflect.Type
}

func (r reflectWherer) WhereP(ps ...func(*sql.Selector)) {
	args := make([]reflect.Value, len(ps))
	for i, p := range ps {
		args[i] = reflect.ValueOf(p).Convert(r.predType)
	}
	r.where.Call(args)
}

// merchantSetter is implemented by mutations of entities with a merchant_id field.
type merchantSetter interface {
	MerchantID() (string, bool)
	SetMerchantID(string)
}

// DenyAnonymous denies any query or mutation without a viewer in the context.
// Background work uses viewer.SystemContext.
func DenyAnonymous() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if _, ok := viewer.FromContext(ctx); !ok {
			return privacy.Denyf("no viewer in context")
		}
		return privacy.Skip
	})
}

// viewerMerchant returns the tenant of a non-privileged viewer; "" with a skip
// decision for operators and the system, who see every tenant; and a deny
// decision for a viewer with no merchant.
func viewerMerchant(ctx context.Context) (string, error) {
	v, ok := viewer.FromContext(ctx)
	switch {
	case ok && v.IsPrivileged():
		return "", privacy.Skip
	case !ok || v.MerchantID == "":
		return "", privacy.Denyf("viewer has no merchant")
	}
	return v.MerchantID, nil
}

// Rules return privacy.Skip rather than Allow for privileged viewers so that
// every policy of an entity (a mixin's and the schema's own, such as
// append-only rules) is still evaluated; ent allows what no rule denies.

// FilterByColumn narrows every query, update and delete to rows whose column
// equals the viewer's merchant, and makes every create carry the viewer's
// merchant (a create naming another merchant is denied). column is
// "merchant_id" for tenant-owned entities and "id" for the merchant itself.
//
// A cashier token is narrower than its merchant: it reads only rows whose
// cashierColumn equals its checkout session ("id" on checkout sessions,
// "checkout_session_id" on payments), and nothing where cashierColumn is "".
// Cashier writes go through Strait's own services under the system viewer.
func FilterByColumn(column, cashierColumn string) privacy.QueryMutationRule {
	return filterRule{column: column, cashierColumn: cashierColumn}
}

type filterRule struct{ column, cashierColumn string }

func (r filterRule) EvalQuery(ctx context.Context, q ent.Query) error {
	mid, err := viewerMerchant(ctx)
	if err != nil {
		return err
	}
	w, ok := whereOf(q)
	if !ok {
		return privacy.Denyf("query %T cannot be filtered by tenant", q)
	}
	w.WhereP(sql.FieldEQ(r.column, mid))
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.Cashier {
		if r.cashierColumn == "" || v.SessionID == "" {
			return privacy.Denyf("cashier tokens cannot read %T", q)
		}
		w.WhereP(sql.FieldEQ(r.cashierColumn, v.SessionID))
	}
	return privacy.Skip
}

func (r filterRule) EvalMutation(ctx context.Context, m ent.Mutation) error {
	mid, err := viewerMerchant(ctx)
	if err != nil {
		return err
	}
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.Cashier {
		return privacy.Denyf("cashier tokens cannot write %s rows directly", m.Type())
	}
	if m.Op().Is(ent.OpCreate) {
		if r.column == "id" {
			return privacy.Denyf("merchants cannot create merchants")
		}
		s, ok := m.(merchantSetter)
		if !ok {
			return privacy.Denyf("mutation %T has no merchant", m)
		}
		if got, set := s.MerchantID(); set && got != mid {
			return privacy.Denyf("cannot create rows for another merchant")
		}
		s.SetMerchantID(mid)
		return privacy.Skip
	}
	w, ok := whereOf(m)
	if !ok {
		return privacy.Denyf("mutation %T cannot be filtered by tenant", m)
	}
	w.WhereP(sql.FieldEQ(r.column, mid))
	return privacy.Skip
}

// DenyUpdateDelete refuses updates and deletes for append-only entities (audit
// log, events once written, ledger postings), whoever asks.
func DenyUpdateDelete() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne | ent.OpDelete | ent.OpDeleteOne) {
			return privacy.Denyf("%s rows are append-only", m.Type())
		}
		return privacy.Skip
	})
}

// DenyUnlessSystem denies the operation unless Strait itself performs it.
func DenyUnlessSystem() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if v, ok := viewer.FromContext(ctx); ok && v.IsSystem() {
			return privacy.Skip
		}
		return privacy.Denyf("only Strait may change %s rows", m.Type())
	})
}
