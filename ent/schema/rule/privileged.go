package rule

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/vocab/viewer"
)

// DenyUnlessPrivileged denies queries unless an operator or Strait itself asks:
// for platform-wide records, such as journal entries, that belong to no single
// merchant.
func DenyUnlessPrivileged() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v, ok := viewer.FromContext(ctx); ok && v.IsPrivileged() {
			return privacy.Skip
		}
		return privacy.Denyf("only operators may read these rows")
	})
}

// FilterEntriesByPostings lets a merchant read the journal entries it has a
// posting in, and no other: a statement line can say which payment,
// refund or conversion it belongs to, while the other side of an entry
// (the channel's, the platform's, another merchant's postings) stays out
// of reach, since postings are filtered by their own tenant rule.
// Operators and Strait itself read every entry; a cashier reads none.
func FilterEntriesByPostings() privacy.QueryRule { return entriesRule{} }

type entriesRule struct{}

func (entriesRule) EvalQuery(ctx context.Context, q ent.Query) error {
	mid, err := viewerMerchant(ctx)
	if err != nil {
		return err
	}
	if v, _ := viewer.FromContext(ctx); v.Kind == viewer.Cashier {
		return privacy.Denyf("cashier tokens cannot read %T", q)
	}
	w, ok := whereOf(q)
	if !ok {
		return privacy.Denyf("query %T cannot be filtered by tenant", q)
	}
	w.WhereP(func(s *sql.Selector) {
		p := sql.Table("postings")
		s.Where(sql.Exists(sql.Select(p.C("id")).From(p).
			Where(sql.And(sql.ColumnsEQ(p.C("entry_id"), s.C("id")), sql.EQ(p.C("merchant_id"), mid)))))
	})
	return privacy.Skip
}
