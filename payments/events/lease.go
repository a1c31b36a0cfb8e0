package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/lease"
	"github.com/straitpay/strait/payments/viewer"
)

// acquireLease takes or renews the lease name for holder until now+ttl.
// It reports whether holder holds it: it does when it held it already, when
// nobody did, or when the last holder let it expire.
//
// A new lease's counter starts at start.
func acquireLease(ctx context.Context, client *ent.Client, name, holder string, now time.Time, ttl time.Duration, start int64) (bool, error) {
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
	err = client.Lease.Create().SetID(name).SetHolder(holder).SetExpiresAt(now.Add(ttl)).SetCounter(start).Exec(sys)
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
// for it to expire (a clean shutdown). The row stays: its counter does.
func releaseLease(ctx context.Context, client *ent.Client, name, holder string) {
	sys := viewer.SystemContext(context.WithoutCancel(ctx))
	_, _ = client.Lease.Update().Where(lease.ID(name), lease.Holder(holder)).
		SetExpiresAt(time.Unix(0, 0)).Save(sys)
}

// advanceCounter adds n to the counter of the lease name in tx, if holder
// holds it, and returns the new value. Returns errLeaseLost otherwise: the
// row lock it takes orders the relays, and the holder check fences one
// whose lease ran out while it stalled.
func advanceCounter(ctx context.Context, tx *ent.Tx, name, holder string, n int64) (int64, error) {
	c, err := tx.Lease.Update().Where(lease.ID(name), lease.Holder(holder)).AddCounter(n).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("lease %s counter: %w", name, err)
	}
	if c != 1 {
		return 0, errLeaseLost
	}
	l, err := tx.Lease.Get(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("lease %s counter: %w", name, err)
	}
	return l.Counter, nil
}

var errLeaseLost = errors.New("the lease passed to another holder")
