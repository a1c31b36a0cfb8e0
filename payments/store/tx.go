package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/straitpay/strait/ent"
)

// WithTx runs fn in a transaction on client and returns what fn returns. It
// commits when fn succeeds and rolls back when fn fails; a failed rollback is
// joined to fn's error rather than hiding it, and fn's error comes back
// unchanged when the rollback succeeds, so callers can still compare it.
func WithTx[T any](ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := client.Tx(ctx)
	if err != nil {
		return zero, fmt.Errorf("begin: %w", err)
	}
	out, err := fn(tx)
	if err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}
