package events

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/lease"
	"github.com/straitpay/strait/payments/viewer"
)

// acquireLease takes or renews the lease name for holder until now+ttl.
// It reports whether holder holds it: it does when it held it already, when
// nobody did, or when the last holder let it expire.
func acquireLease(ctx context.Context, client *ent.Client, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	sys := viewer.SystemContext(ctx)
	n, err := client.Lease.Update().
		Where(lease.ID(name), lease.Or(lease.Holder(holder), lease.ExpiresAtLT(now))).
		SetHolder(holder).SetExpiresAt(now.Add(ttl)).Save(sys)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	if n == 1 {
		return true, nil
	}
	err = client.Lease.Create().SetID(name).SetHolder(holder).SetExpiresAt(now.Add(ttl)).Exec(sys)
	switch {
	case err == nil:
		return true, nil
	case ent.IsConstraintError(err):
		return false, nil // another replica holds it
	default:
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
}

// releaseLease gives the lease up early, so another replica need not wait
// for it to expire (a clean shutdown).
func releaseLease(ctx context.Context, client *ent.Client, name, holder string) {
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	_, _ = client.Lease.Delete().Where(lease.ID(name), lease.Holder(holder)).Exec(sys)
}
