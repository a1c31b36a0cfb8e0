package rule

import (
	"reflect"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
)

// asWherer adapts a generated query to wherer. Generated mutations have WhereP;
// generated queries (ent v0.14) do not, but every one has
// Where(...predicate.X), and each predicate.X is a named
// func(*sql.Selector). Reflection keeps this package free of generated code,
// so the schema still compiles before the first codegen.
func asWherer(q ent.Query) (wherer, bool) {
	if w, ok := q.(wherer); ok {
		return w, true
	}
	where := reflect.ValueOf(q).MethodByName("Where")
	if !where.IsValid() || !where.Type().IsVariadic() || where.Type().NumIn() != 1 {
		return nil, false
	}
	pred := where.Type().In(0).Elem()
	if pred.Kind() != reflect.Func || !reflect.TypeOf(func(*sql.Selector) {}).ConvertibleTo(pred) {
		return nil, false
	}
	return reflectWherer{where: where, pred: pred}, true
}

type reflectWherer struct {
	where reflect.Value
	pred  reflect.Type
}

func (w reflectWherer) WhereP(ps ...func(*sql.Selector)) {
	args := reflect.MakeSlice(reflect.SliceOf(w.pred), len(ps), len(ps))
	for i, p := range ps {
		args.Index(i).Set(reflect.ValueOf(p).Convert(w.pred))
	}
	w.where.CallSlice([]reflect.Value{args})
}
