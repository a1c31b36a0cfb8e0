package rule

import (
	"context"

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
