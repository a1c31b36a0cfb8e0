package rule

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/privacy"

	"github.com/straitpay/strait/payments/viewer"
)

// DenyUnlessPrivileged denies queries unless an operator or Strait itself asks:
// for platform-wide records, such as journal entries, that belong to no single
// merchant.
func DenyUnlessPrivileged() privacy.QueryRule {
	return privacy.QueryRuleFunc(func(ctx context.Context, q ent.Query) error {
		if v, ok := viewer.FromContext(ctx); ok && v.IsPrivileged() {
			return privacy.Skip
		}
		return privacy.Denyf("only operators may read these rows")
	})
}
